#!/bin/sh
# Measures two builds side by side, on the same machine in one run, so that
# their figures can be compared: bench/run.sh for each profile, alternating
# the two binaries, RG_COMPARE_TURNS times each (default 2).
#   sh bench/compare.sh BEFORE_BIN AFTER_BIN [embedded] [server]
# Output: bench/out-compare/<profile>-<before|after>-<turn>/ and a summary of
# the median requests/s, p99 and server CPU per request of every scenario on
# stdout (the CPU per request varies least from run to run on a shared
# machine; requests/s shows what users get). Every turn seeds its own data;
# the other RG_BENCH_* settings pass through, e.g. RG_BENCH_SIZE=small for
# turns of a few minutes. RG_COMPARE_AFTER_ENV holds settings for the
# after runs only (e.g. "RG_BENCH_BACKUP=1" with the same binary twice:
# the cost of a setting).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
before=${1:?usage: compare.sh BEFORE_BIN AFTER_BIN [profiles…]}
after=${2:?usage: compare.sh BEFORE_BIN AFTER_BIN [profiles…]}
shift 2
profiles=${*:-embedded server}
turns=${RG_COMPARE_TURNS:-2}
base="$root/bench/out-compare"
rm -rf "$base" && mkdir -p "$base"
for profile in $profiles; do
    for turn in $(seq 1 "$turns"); do
        for which in before after; do
            [ "$which" = before ] && b=$before || b=$after
            [ "$which" = before ] && extra="" || extra=${RG_COMPARE_AFTER_ENV:-}
            echo "== $profile $which (turn $turn)" >&2
            env $extra RG_BENCH_PROFILE="$profile" RG_BENCH_BIN="$b" \
                RG_BENCH_OUT="$base/$profile-$which-$turn" \
                sh "$root/bench/run.sh" >"$base/$profile-$which-$turn.table"
        done
    done
done
# Every round of every turn (rounds.txt of run.sh: scenario rps p50 p99 p99.9
# requests answers rss cpu-service cpu-postgresql cpu-redis)
for profile in $profiles; do
    for which in before after; do
        cat "$base/$profile-$which"-*/rounds.txt >"$base/$profile-$which.rounds"
    done
    echo "$profile (median over $turns turns × the rounds of each):"
    echo "| scenario | before req/s | after req/s | after/before | before p99 ms | after p99 ms | before CPU µs/req | after CPU µs/req | after/before |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for s in $(cut -d' ' -f1 "$base/$profile-before.rounds" | awk '!seen[$0]++'); do
        med() { grep "^$s " "$base/$profile-$1.rounds" | sort -k"$2" -n |
            awk -v c="$2" '{a[NR]=$c} END {print a[int((NR+1)/2)]}'; }
        br=$(med before 2) ar=$(med after 2) bp=$(med before 4) ap=$(med after 4)
        bc=$(med before 9) ac=$(med after 9)
        ratio=$(awk -v a="$ar" -v b="$br" 'BEGIN {printf "%.3f", a / b}')
        cratio=$(awk -v a="$ac" -v b="$bc" 'BEGIN {printf "%.3f", a / b}')
        echo "| $s | $br | $ar | $ratio | $bp | $ap | $bc | $ac | $cratio |"
    done
    echo
done
