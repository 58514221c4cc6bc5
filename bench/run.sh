#!/bin/sh
# Benchmarks the service with wrk on the data set of
# docs/design/bench-dataset.md, load generator and server on this machine.
# The figures in docs/performance.md come from this script.
#   make bench            (or: sh bench/run.sh after `make build`)
# Scenarios (RG_BENCH_SCENARIOS, default all, in this order each round):
#   read                one event by id: 80% on the 1,000 most popular
#                       visible events, the rest on any visible event
#   discovery           50 filter mixes of bench/discovery.txt, page 1 and
#                       page 2 (through page 1's nextCursor)
#   discovery-uncached  the same with RG_DISCOVERY_CACHE=0
#   discovery-q         40 word mixes of bench/discovery-q.txt (words alone
#                       and with every filter, prefixes, two words, by
#                       relevance and by distance), page 1 and page 2
#   discovery-q-uncached  the same with RG_DISCOVERY_CACHE=0
#   discovery-pg        (server profile) the statements the service runs
#                       for those paths, run by pgbench on PostgreSQL
#                       itself: each path's statements, logged once with
#                       their parameters, are one pgbench script
#                       (bench/pglog-scripts.pl), all equally weighted
#   rush                a new event of 1,000 places, RG_BENCH_RUSH_PEOPLE
#                       (20,000) signed-in people, one request each; the
#                       script fails unless exactly 1,000 hold a place,
#                       each a different person
# Knobs: RG_BENCH_PROFILE (embedded: SQLite files and the in-process cache;
# server: a private PostgreSQL and Redis started for the run, durable
# settings, no replica), RG_BENCH_BIN (default build/risinggen),
# RG_BENCH_OUT (bench/out), RG_BENCH_SIZE (real: 100,000 people, 2,000
# venues, 50,000 events, 500,000 registrations; small: a tenth; scale:
# 1,000,000 people and events, 10,000,000 registrations, loaded by
# `seed --bulk`),
# RG_BENCH_JOBS (seed workers; 1 embedded, 4 server), RG_BENCH_SECONDS (15),
# RG_BENCH_WARMUP (3 s before each measured read or discovery run),
# RG_BENCH_CONNS (64), RG_WRK_THREADS (2), RG_BENCH_ROUNDS (3), RG_BENCH_PERF
# (1: one more round profiled by bench/diagnose.sh, outside the figures),
# RG_BENCH_PERF_BIN (the binary of that round, e.g. one built with
# -fno-omit-frame-pointer for whole call chains), RG_BENCH_KEEP (1: the
# server profile's PostgreSQL and Redis keep running, with their data,
# after the script ends, for profiling by hand), RG_BENCH_BACKUP (1: the
# service runs with a backup repository, so every change is captured
# continuously: by the service on the embedded profile, by PostgreSQL's WAL
# archiving into pgBackRest on the server profile; each start waits for its
# first full backup before measuring).
# Output: a table of the round with the median requests/s of each scenario
# on stdout; every round in $RG_BENCH_OUT/rounds.txt, one line each:
#   scenario rps p50_ms p99_ms p999_ms requests answers rss_mb
#   cpu_us_per_request(service) (postgresql) (redis)
#   redis_commands_per_request relational_queries_per_request
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RG_BENCH_BIN:-$root/build/risinggen}
serve_bin=$bin
out=${RG_BENCH_OUT:-$root/bench/out}
profile=${RG_BENCH_PROFILE:-embedded}
secs=${RG_BENCH_SECONDS:-15}
warm=${RG_BENCH_WARMUP:-3}
conns=${RG_BENCH_CONNS:-64}
threads=${RG_WRK_THREADS:-2}
rounds=${RG_BENCH_ROUNDS:-3}
port=${RG_BENCH_PORT:-18181}
scenarios=${RG_BENCH_SCENARIOS:-read discovery discovery-uncached discovery-q-uncached discovery-pg rush}
[ "$profile" = server ] || scenarios=$(echo " $scenarios " | sed 's/ discovery-pg / /')
rush_people=${RG_BENCH_RUSH_PEOPLE:-20000}
bulk=""
case ${RG_BENCH_SIZE:-real} in
real) users=100000 venues=2000 events=50000 regs=500000 ;;
small) users=20000 venues=200 events=5000 regs=50000 ;;
scale) users=1000000 venues=2000 events=1000000 regs=10000000 bulk=--bulk ;;
*)
    echo "RG_BENCH_SIZE is real, small or scale" >&2
    exit 2
    ;;
esac
[ "$rush_people" -le "$users" ] || { echo "more rush people than people" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
export RG_DATA_DIR="$out/data" RG_LISTEN="127.0.0.1:$port" RG_ACCESS_LOG=0
servers="" pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    if [ -n "$servers" ] && [ "${RG_BENCH_KEEP:-0}" = 1 ]; then
        echo "servers kept running: . $servers/env; stop with scripts/test-servers.sh stop $servers" >&2
    elif [ -n "$servers" ]; then
        bash "$root/scripts/test-servers.sh" stop "$servers" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM PIPE
case $profile in
embedded) jobs=${RG_BENCH_JOBS:-1} ;;
server)
    jobs=${RG_BENCH_JOBS:-4}
    servers=$(mktemp -d /tmp/rg-bench-servers.XXXXXX)
    RG_SERVERS_BENCH=1 RG_SERVERS_ARCHIVE=${RG_BENCH_BACKUP:-0} \
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

echo "seeding $users people ($rush_people with tokens), $venues venues, $events events," \
    "$regs registrations with $jobs workers${bulk:+ (events and registrations loaded in bulk)}" >&2
# A bulk load need not wait for the disk at every commit; the service is
# measured with every commit durable (the setting is reset after the seed).
[ -z "$servers" ] || psql "$db" -qc "ALTER DATABASE rgbench SET synchronous_commit = off"
t0=$(date +%s)
"$bin" seed --users "$users" --venues "$venues" --events "$events" --registrations "$regs" \
    --jobs "$jobs" --tokens "$out/tokens.txt" --token-users "$rush_people" \
    --manifest "$out/manifest.txt" --seed 7 $bulk >"$out/seed.log" 2>"$out/seed.err" ||
    { cat "$out/seed.err" >&2; exit 1; }
echo "seeded in $(($(date +%s) - t0)) s: $(grep '^registrations:' "$out/seed.log")" >&2
if [ -n "$servers" ]; then
    psql "$db" -qc "ALTER DATABASE rgbench RESET synchronous_commit" -c "VACUUM ANALYZE" >/dev/null
    echo "database: $(psql "$db" -Atc "SELECT pg_size_pretty(pg_database_size('rgbench'))")" >&2
else
    echo "data files: $(du -sh "$out/data" | cut -f1)" >&2
fi

# ---- the service, and the CPU time of every process that serves ----

backup_env=""
if [ "${RG_BENCH_BACKUP:-0}" = 1 ]; then
    backup_env="RG_BACKUP_REPO=$out/backup-repo RG_BACKUP_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
fi
start_service() { # discovery cache: 1 or 0
    # An answer from another process on the port (a service left over from
    # an earlier run) must not pass for this one's.
    if curl -s -o /dev/null "http://$RG_LISTEN/healthz"; then
        echo "something already answers on $RG_LISTEN" >&2
        exit 1
    fi
    env RG_DISCOVERY_CACHE="$1" $backup_env "$serve_bin" serve 2>>"$out/server.log" &
    pid=$!
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || {
            echo "the service exited at start (is $RG_LISTEN in use?)" >&2
            exit 1
        }
        if curl -sf "http://$RG_LISTEN/healthz" >/dev/null; then
            [ -z "$backup_env" ] && return
            # With a repository, measure once the first full backup is done.
            curl -sf "http://$RG_LISTEN/metrics" |
                grep -q '^rg_backup_last_success_timestamp_seconds [1-9]' && return
        fi
        sleep 0.1
    done
    echo "the service did not start" >&2
    exit 1
}
stop_service() {
    kill "$pid" && wait "$pid" || true
    pid=""
}
rss_mb() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# A process and its children, live (user + system) and reaped (cutime + cstime).
tree_ticks() {
    own=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat")
    kids=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '$4 == p {s += $14 + $15} END {print s + 0}')
    echo $((own + kids))
}
pg_ticks() { [ -n "$servers" ] && tree_ticks "$(head -n 1 "$servers/primary/postmaster.pid")" || echo 0; }
redis_ticks() { [ -n "$servers" ] && ticks "$(cat "$servers/redis.pid")" || echo 0; }
per_request() { # ticks before, after, requests: µs per request, or - without the server
    [ -n "$servers" ] || [ "${4:-}" = service ] || { echo -; return; }
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}'
}
# Round trips: Redis commands and PostgreSQL transactions, counted by the
# servers themselves.
redis_cmds() {
    [ -n "$servers" ] && redis-cli -u "$RG_TEST_REDIS_URL" info stats |
        awk -F: '/^total_commands_processed/ {print $2 + 0}' || echo 0
}
# The relational queries the service ran (its own count, rg_query_duration_seconds).
queries() {
    curl -sf "http://$RG_LISTEN/metrics" |
        awk '/^rg_query_duration_seconds_count/ {s += $2} END {print s + 0}'
}
per_request_count() { # before, after, requests[, always]
    [ -n "$servers" ] || [ "${4:-}" = always ] || { echo -; return; }
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (b - a) / n}'
}
# RG_BENCH_PERF=1: after the rounds, one more round that finds where the
# time goes, in $out/diag-SCENARIO/ (bench/diagnose.sh).
if [ "${RG_BENCH_PERF:-0}" = 1 ]; then
    # shellcheck source=bench/diagnose.sh
    . "$root/bench/diagnose.sh"
else
    diag_start() { :; }
    diag_stop() { :; }
fi
diagnosing=0
sample() { # scenario round
    s_svc=$(ticks "$pid") s_pg=$(pg_ticks) s_redis=$(redis_ticks)
    s_cmds=$(redis_cmds) s_queries=$(queries)
    [ "$diagnosing" = 0 ] || diag_start "$1"
}
record() { # scenario round rps p50 p99 p999 requests answers
    [ "$diagnosing" = 0 ] || diag_stop "$1" "$7"
    e_svc=$(ticks "$pid") e_pg=$(pg_ticks) e_redis=$(redis_ticks)
    e_cmds=$(redis_cmds) e_queries=$(queries)
    echo "$1 $3 $4 $5 $6 $7 $8 $(rss_mb) $(per_request "$s_svc" "$e_svc" "$7" service)" \
        "$(per_request "$s_pg" "$e_pg" "$7") $(per_request "$s_redis" "$e_redis" "$7")" \
        "$(per_request_count "$s_cmds" "$e_cmds" "$7")" \
        "$(per_request_count "$s_queries" "$e_queries" "$7" always)" >>"$results"
}

# ---- the requests ----

# Reads: 80% on the 1,000 most popular visible events (the manifest lists
# them most popular first), the rest on any.
awk 'BEGIN {srand(7)} {id[NR] = $1} END {
    hot = NR < 1000 ? NR : 1000
    for (i = 0; i < 200000; i++)
        print "/v1/events/" (rand() < 0.8 ? id[1 + int(rand() * hot)] : id[1 + int(rand() * NR)])
}' "$out/manifest.txt" >"$out/read.paths"

# Discovery: each mix of a list as page 1 and, through its nextCursor,
# page 2.
discovery_paths() { # list (bench/NAME.txt) -> $out/NAME.paths
    : >"$out/$1.paths"
    grep -v '^#' "$root/bench/$1.txt" | while read -r q; do
        while echo "$q" | grep -q '{+[0-9]*d}'; do
            n=$(echo "$q" | sed 's/.*{+\([0-9]*\)d}.*/\1/')
            q=$(echo "$q" | sed "s/{+${n}d}/$(date -u -d "+$n days" +%Y-%m-%dT00:00:00Z)/")
        done
        p="/v1/events?$q&limit=20"
        cursor=$(curl -sf "http://$RG_LISTEN$p" | sed -n 's/.*"nextCursor":"\([^"]*\)".*/\1/p')
        echo "$p" >>"$out/$1.paths"
        if [ -n "$cursor" ]; then echo "$p&cursor=$cursor"; else echo "$p"; fi >>"$out/$1.paths"
    done
}

run_paths() { # scenario round paths-file
    RG_PATHS=$3 wrk -t"$threads" -c"$conns" -d"${warm}s" -s "$root/bench/paths.lua" \
        "http://$RG_LISTEN" >/dev/null
    sample "$1" "$2"
    RG_PATHS=$3 wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$root/bench/paths.lua" \
        "http://$RG_LISTEN" >"$out/$1-$2.txt"
    eval "$(grep '^wrk_result' "$out/$1-$2.txt" | sed 's/^wrk_result //')"
    record "$1" "$2" "$rps" "$p50_ms" "$p99_ms" "$p999_ms" "$requests" \
        "non2xx=$non2xx,errors=$errors"
}

org_token=$(head -n 1 "$out/tokens.txt" | cut -d' ' -f2)
api() { curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $org_token" "$@"; }

# The service's own counts: admission groups, their members, requests parked.
groups_now() {
    curl -sf "http://$RG_LISTEN/metrics" | awk '/^rg_admission_groups_total / {g = $2}
        /^rg_admission_group_members_total / {m = $2} /^rg_http_parked_total / {p = $2}
        END {print g + 0, m + 0, p + 0}'
}
run_rush() { # round
    rush=$(api -X POST "http://$RG_LISTEN/v1/events" -d "{\"title\":\"Rush $1\",
      \"slug\":\"bench-rush-$1\",\"startDate\":\"2031-06-01T09:00:00Z\",
      \"endDate\":\"2031-06-03T17:00:00Z\",\"type\":\"conference\",\"maxParticipants\":1000}" |
        sed 's/^{"id":\([0-9]*\).*/\1/')
    api -X PATCH "http://$RG_LISTEN/v1/events/$rush" -d '{"status":"published"}' >/dev/null
    groups_before=$(groups_now)
    sample rush "$1"
    rm -f "$out"/rush-done-*
    RG_TOKENS="$out/tokens.txt" RG_WRK_THREADS=$threads RG_RUSH_DONE="$out/rush-done-" \
        RG_RUSH_PATH="/v1/events/$rush/registrations" \
        wrk -t"$threads" -c"$conns" -d120s -s "$root/bench/rush.lua" "http://$RG_LISTEN/" \
        >"$out/rush-$1.txt" &
    wrk_pid=$!
    # Every thread has had all its answers: interrupt wrk, which then reports.
    for _ in $(seq 1 1200); do
        [ "$(find "$out" -maxdepth 1 -name 'rush-done-*' | wc -l)" -ge "$threads" ] && break
        kill -0 "$wrk_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" || true
    eval "$(grep '^rush_result' "$out/rush-$1.txt" | sed 's/^rush_result //')"
    answers=$(grep '^rush_answers' "$out/rush-$1.txt" | sed 's/rush_answers //;s/ /,/g')
    record rush "$1" "$rps" "$p50_ms" "$p99_ms" "$p999_ms" "$requests" "$answers"
    # Exactly the capacity in, each place a different person, taken = holders.
    stats=$(api "http://$RG_LISTEN/v1/events/$rush/stats")
    api -H 'Accept: text/csv' "http://$RG_LISTEN/v1/events/$rush/attendees" | tail -n +2 \
        >"$out/rush-$1.csv"
    rows=$(grep -c . "$out/rush-$1.csv" || true)
    people=$(cut -d, -f2 "$out/rush-$1.csv" | sort -u | grep -c . || true)
    case $stats in
    *'"confirmed":1000,"pending":0,'*'"spotsLeft":0}') ok=1 ;;
    *) ok=0 ;;
    esac
    if [ "$ok" != 1 ] || [ "$rows" != 1000 ] || [ "$people" != 1000 ] ||
        [ "$requests" -lt "$rush_people" ]; then
        echo "RUSH CHECK FAILED in round $1: $stats, $rows registrations of $people people" \
            "after $requests requests" >&2
        exit 1
    fi
    echo "rush $1: $stats; $rows registrations, $people people;" \
        "$(echo "$groups_before $(groups_now)" | awk '{g = $4 - $1; printf \
        "%d admission groups of %.2f on average, %d requests parked", g, \
        g ? ($5 - $2) / g : 0, $6 - $3}')" >&2
}

# The statements of each discovery path as PostgreSQL sees them: one pass
# over the paths with the cache off and every statement logged, a marker
# statement after each request.
capture_discovery_sql() {
    mkdir -p "$out/pgbench"
    psql "$db" -qc "ALTER DATABASE rgbench SET log_min_duration_statement = 0"
    from=$(wc -c <"$servers/primary.log")
    start_service 0
    mark() { psql "$db" -qAtc "SELECT 'rg-bench-mark'" >/dev/null; }
    mark
    while read -r p; do
        curl -sf "http://$RG_LISTEN$p" >/dev/null
        mark
    done <"$out/discovery.paths"
    stop_service
    psql "$db" -qc "ALTER DATABASE rgbench RESET log_min_duration_statement"
    n=$(tail -c +$((from + 1)) "$servers/primary.log" |
        perl "$root/bench/pglog-scripts.pl" "$out/pgbench" '^event_')
    echo "discovery-pg: the statements of $n requests" >&2
    [ "$n" = "$(grep -c . "$out/discovery.paths")" ] ||
        { echo "discovery-pg: $(grep -c . "$out/discovery.paths") paths, $n captured" >&2; exit 1; }
}

# pgbench with the captured scripts, as wrk runs the paths: the same
# connections and threads, warm-up, then a measured run whose every
# transaction is logged for its latency (pgbench -l).
run_pgbench() { # round
    pg_round=$1
    [ -d "$out/pgbench" ] || capture_discovery_sql
    set --
    for f in "$out"/pgbench/request-*.sql; do set -- "$@" -f "$f"; done
    pgbench -n -M prepared -c "$conns" -j "$threads" -T "$warm" "$@" "$db" >/dev/null 2>&1
    s_pg=$(pg_ticks)
    rm -rf "$out/pgbench-log" && mkdir "$out/pgbench-log"
    (cd "$out/pgbench-log" && pgbench -n -M prepared -c "$conns" -j "$threads" -T "$secs" -l \
        "$@" "$db" >"$out/discovery-pg-$pg_round.txt" 2>&1)
    e_pg=$(pg_ticks)
    requests=$(cat "$out"/pgbench-log/pgbench_log.* | grep -c .)
    failed=$(awk '/^number of failed transactions/ {print $5; exit}' "$out/discovery-pg-$pg_round.txt")
    # Transactions per second as pgbench counts them, latency percentiles
    # from its per-transaction log (the third column, microseconds).
    rps=$(awk '/^tps = / {printf "%d", $3}' "$out/discovery-pg-$pg_round.txt")
    cat "$out"/pgbench-log/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1}
        END {printf "%.2f %.2f %.2f\n", a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000,
             a[int(NR * 0.999) + 1] / 1000}' >"$out/pgbench-pct"
    read -r p50 p99 p999 <"$out/pgbench-pct"
    echo "discovery-pg $rps $p50 $p99 $p999 $requests failed=${failed:-0} - -" \
        "$(per_request "$s_pg" "$e_pg" "$requests") - - -" >>"$results"
}

has() { case " $scenarios " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

one_round() { # name
    start_service 1
    [ -s "$out/discovery.paths" ] || discovery_paths discovery
    [ -s "$out/discovery-q.paths" ] || discovery_paths discovery-q
    has read && run_paths read "$1" "$out/read.paths"
    has discovery && run_paths discovery "$1" "$out/discovery.paths"
    has discovery-q && run_paths discovery-q "$1" "$out/discovery-q.paths"
    has rush && run_rush "$1"
    stop_service
    if has discovery-uncached || has discovery-q-uncached; then
        start_service 0
        has discovery-uncached && run_paths discovery-uncached "$1" "$out/discovery.paths"
        has discovery-q-uncached && run_paths discovery-q-uncached "$1" "$out/discovery-q.paths"
        stop_service
    fi
    if has discovery-pg; then run_pgbench "$1"; fi
}

results="$out/rounds.txt"
: >"$results"
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    one_round "$round"
done
if [ "${RG_BENCH_PERF:-0}" = 1 ]; then
    echo "one more round, profiled (its figures go to profiled.txt)" >&2
    diagnosing=1 results="$out/profiled.txt" serve_bin=${RG_BENCH_PERF_BIN:-$bin}
    one_round profiled
    results="$out/rounds.txt"
fi

median() { # scenario -> the line with the median rps
    grep "^$1 " "$results" | sort -k2 -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
echo "| scenario | req/s (median of $rounds) | p50 ms | p99 ms | p99.9 ms | requests | answers |" \
    "service RSS | CPU µs/request: service | PostgreSQL | Redis | per request: Redis commands |" \
    "relational queries |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for s in $scenarios; do
    # shellcheck disable=SC2046
    set -- $(median "$s")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s MB | %s | %s | %s | %s | %s |\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "${11}" "${12}" "${13}"
done
echo
echo "every round: $(tr '\n' ';' <"$results")"
