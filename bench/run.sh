#!/bin/sh
# Benchmarks the service with wrk, load generator and server on this machine
# (2 cores shared). Each scenario runs RG_BENCH_ROUNDS times in one run; the
# table shows the round with the median requests/s. The figures in
# docs/performance.md come from this script.
#   make bench            (or: sh bench/run.sh after `make build`)
# Knobs: RG_BENCH_PROFILE (embedded: SQLite files and the in-process cache;
# server: a private PostgreSQL and Redis started for the run, as `make test`
# starts them), RG_BENCH_BIN (the binary, default build/risinggen: another
# build can be measured the same way), RG_BENCH_OUT (bench/out),
# RG_BENCH_USERS (20000), RG_BENCH_SECONDS (10), RG_BENCH_CONNS (64),
# RG_WRK_THREADS (2), RG_BENCH_ROUNDS (3).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RG_BENCH_BIN:-$root/build/risinggen}
out=${RG_BENCH_OUT:-$root/bench/out}
profile=${RG_BENCH_PROFILE:-embedded}
users=${RG_BENCH_USERS:-20000}
secs=${RG_BENCH_SECONDS:-10}
conns=${RG_BENCH_CONNS:-64}
threads=${RG_WRK_THREADS:-2}
rounds=${RG_BENCH_ROUNDS:-3}
port=${RG_BENCH_PORT:-18181}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
export RG_DATA_DIR="$out/data" RG_LISTEN="127.0.0.1:$port" RG_ACCESS_LOG=0
servers=""
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
    [ -n "$servers" ] && bash "$root/scripts/test-servers.sh" stop "$servers" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM PIPE
case $profile in
embedded) ;;
server)
    servers=$(mktemp -d /tmp/rg-bench-servers.XXXXXX)
    bash "$root/scripts/test-servers.sh" start "$servers"
    # shellcheck disable=SC1091
    . "$servers/env"
    psql "$RG_TEST_PG_URL" -qc "CREATE DATABASE rgbench" >/dev/null
    db="postgresql://postgres@127.0.0.1:$RG_TEST_PG_PORT/rgbench"
    export RG_RELATIONAL_URL="$db" RG_DOCUMENT_URL="$db" RG_CACHE_URL="$RG_TEST_REDIS_URL"
    ;;
*)
    echo "RG_BENCH_PROFILE is embedded or server, not $profile" >&2
    exit 2
    ;;
esac
echo "profile $profile, binary $bin" >&2

echo "seeding $users users (with tokens), 50 venues, 500 events, 5000 registrations" >&2
t0=$(date +%s)
"$bin" seed --users "$users" --venues 50 --events 500 --registrations 5000 \
    --tokens "$out/tokens.txt" --seed 7 >"$out/seed.log" 2>"$out/seed.err"
echo "seeded in $(($(date +%s) - t0)) s" >&2

"$bin" serve 2>"$out/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://$RG_LISTEN/healthz" >/dev/null && break; sleep 0.1; done

rss_mb() { awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status; }
# The server's CPU time (user + system, clock ticks), and its CPU per request
# over a scenario in microseconds: a figure that a busy, shared machine
# disturbs far less than requests/s.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
cpu_us() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}'; }

# The seed's user 0 is an organizer and owns the rush events.
org_token=$(head -n 1 "$out/tokens.txt" | cut -d' ' -f2)
api() { curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $org_token" "$@"; }
event_id=$(curl -sf "http://$RG_LISTEN/v1/events?city=London&limit=1" |
    sed 's/.*"items":\[{"id":\([0-9]*\).*/\1/')

# One line per round: scenario rps p50 p99 requests extra rss cpu_us_per_request
results="$out/rounds.txt"
: >"$results"
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    for scenario in read discovery; do
        case $scenario in
        read) url="http://$RG_LISTEN/v1/events/$event_id" ;;
        discovery) url="http://$RG_LISTEN/v1/events?city=London&limit=20" ;;
        esac
        t0=$(cpu_ticks)
        wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$root/bench/report.lua" "$url" \
            >"$out/$scenario-$round.txt"
        t1=$(cpu_ticks)
        eval "$(grep '^wrk_result' "$out/$scenario-$round.txt" | sed 's/^wrk_result //')"
        echo "$scenario $rps $p50_ms $p99_ms $requests non2xx=$non2xx $(rss_mb) $(cpu_us "$t0" "$t1" "$requests")" >>"$results"
    done
    rush=$(api -X POST "http://$RG_LISTEN/v1/events" -d "{\"title\":\"Rush $round\",
      \"slug\":\"bench-rush-$round\",\"startDate\":\"2031-06-01T09:00:00Z\",
      \"endDate\":\"2031-06-03T17:00:00Z\",\"type\":\"conference\",\"maxParticipants\":1000}" |
        sed 's/^{"id":\([0-9]*\).*/\1/')
    api -X PATCH "http://$RG_LISTEN/v1/events/$rush" -d '{"status":"published"}' >/dev/null
    t0=$(cpu_ticks)
    RG_TOKENS="$out/tokens.txt" RG_WRK_THREADS=$threads \
        RG_RUSH_PATH="/v1/events/$rush/registrations" \
        wrk -t"$threads" -c"$conns" -d20s -s "$root/bench/rush.lua" "http://$RG_LISTEN/" \
        >"$out/rush-$round.txt"
    t1=$(cpu_ticks)
    eval "$(grep '^rush_result' "$out/rush-$round.txt" | sed 's/^rush_result //')"
    answers=$(grep '^rush_answers' "$out/rush-$round.txt" | sed 's/rush_answers //;s/ /,/g')
    echo "rush $rps $p50_ms $p99_ms $requests $answers $(rss_mb) $(cpu_us "$t0" "$t1" "$requests")" >>"$results"
    stats=$(api "http://$RG_LISTEN/v1/events/$rush/stats")
    confirmed=$(echo "$stats" | sed 's/.*"confirmed":\([0-9]*\).*/\1/')
    if [ "$confirmed" != 1000 ] || [ "$requests" -lt "$users" ]; then
        echo "RUSH CHECK FAILED in round $round: $stats after $requests requests" >&2
        exit 1
    fi
    echo "rush $round: $stats" >&2
done

median() { # scenario -> the line with the median rps
    grep "^$1 " "$results" | sort -k2 -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
echo "| scenario | req/s (median of $rounds) | p50 ms | p99 ms | requests | answers | server RSS | server CPU µs/request |"
echo "|---|---|---|---|---|---|---|---|"
for s in read discovery rush; do
    set -- $(median "$s")
    case $s in
    read) name="read one event (GET /v1/events/{id})" ;;
    discovery) name="cached discovery (GET /v1/events?city=London&limit=20)" ;;
    rush) name="registration rush ($users people, 1,000 places)" ;;
    esac
    printf '| %s | %s | %s | %s | %s | %s | %s MB | %s |\n' "$name" "$2" "$3" "$4" "$5" "$6" "$7" "$8"
done
echo
echo "every round: $(tr '\n' ';' <"$results")"
echo "peak server RSS: $(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status) MB"
