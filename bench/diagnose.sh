# Where the time goes, for each measured scenario of bench/run.sh
# (RG_BENCH_PERF=1; sourced by run.sh, which defines out, pid, servers, db,
# RG_LISTEN). Each scenario and round gets $out/diag-NAME/ with summary.txt:
#   - the relational queries the service ran (its own histogram): calls per
#     request and mean time, by query name
#   - Redis commands per request and their time in Redis (INFO commandstats)
#   - PostgreSQL statements by total time (pg_stat_statements): calls per
#     request, mean time, rows
#   - what the service's threads were doing, sampled 5 times a second from
#     /proc (running, or the kernel function they wait in: a futex is a lock
#     or a condition variable, a poll or recv is a store's answer, epoll is
#     the HTTP loop waiting for work)
#   - what PostgreSQL's busy backends were waiting for (pg_stat_activity,
#     once a second)
#   - CPU samples of the whole machine (perf record -a -g): by process, then
#     the hottest functions of the service, PostgreSQL and Redis; build the
#     service with -fno-omit-frame-pointer for whole call chains.
# Profiling costs CPU on the same cores: the figures of a run with it are
# not the benchmark's figures.

command -v perf >/dev/null || {
    echo "RG_BENCH_PERF=1 needs perf (apt-get install linux-perf)" >&2
    exit 1
}
if [ -n "$servers" ]; then
    psql "$db" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
fi

# The service's threads: name, state (R running, S sleeping, D disk) and the
# kernel function a sleeping thread waits in.
diag_threads() {
    while [ -f "$1/running" ]; do
        # One awk over every task's stat and wchan (a wchan may be empty).
        for t in /proc/"$pid"/task/*; do printf '%s/stat\n%s/wchan\n' "$t" "$t"; done |
            xargs awk '
                function flush() { if (name != "") print name, state, "-"; name = "" }
                FILENAME ~ /stat$/ {
                    flush()
                    name = $0; sub(/^[^(]*\(/, "", name); sub(/\).*/, "", name)
                    gsub(/ /, "_", name)
                    state = $0; sub(/.*\) /, "", state); state = substr(state, 1, 1)
                    next
                }
                { if (name != "") print name, state, ($0 == "" || $0 == "0" ? "-" : $0); name = "" }
                END { flush() }' 2>/dev/null >>"$1/threads.raw"
        sleep 0.2
    done
}

diag_pg_waits() {
    while [ -f "$1/running" ]; do
        psql "$db" -Atc "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU')
            FROM pg_stat_activity WHERE datname = 'rgbench' AND state = 'active'
            AND pid <> pg_backend_pid()" >>"$1/pg-waits.raw" 2>/dev/null
        sleep 1
    done
}

diag_start() { # name
    d="$out/diag-$1"
    mkdir -p "$d"
    curl -sf "http://$RG_LISTEN/metrics" >"$d/metrics.before"
    if [ -n "$servers" ]; then
        redis-cli -u "$RG_TEST_REDIS_URL" config resetstat >/dev/null
        psql "$db" -qAtc "SELECT pg_stat_statements_reset()" >/dev/null
    fi
    touch "$d/running"
    diag_threads "$d" &
    diag_threads_pid=$!
    diag_pg_pid=""
    if [ -n "$servers" ]; then
        diag_pg_waits "$d" &
        diag_pg_pid=$!
    fi
    if [ -n "$servers" ]; then
        # One second of the commands Redis receives, a little into the run.
        (sleep 2 && timeout 1 redis-cli -u "$RG_TEST_REDIS_URL" monitor >"$d/monitor.raw" 2>&1 ||
            true) &
    fi
    perf record -a -g -F 499 -o "$d/perf.data" >"$d/perf.log" 2>&1 &
    diag_perf_pid=$!
}

diag_stop() { # name requests
    d="$out/diag-$1"
    n=$2
    kill -INT "$diag_perf_pid" 2>/dev/null || true
    wait "$diag_perf_pid" 2>/dev/null || true # perf answers an interrupt with 130
    rm -f "$d/running"
    wait "$diag_threads_pid" $diag_pg_pid 2>/dev/null || true
    curl -sf "http://$RG_LISTEN/metrics" >"$d/metrics.after"
    {
        echo "# $1: $n requests"
        echo
        echo "## relational queries (the service's count and time)"
        echo "query per_request mean_us share_of_query_time"
        cat "$d/metrics.before" "$d/metrics.after" | awk -v n="$n" '
            /^rg_query_duration_seconds_(count|sum)/ {
                q = $1; sub(/.*query="/, "", q); sub(/".*/, "", q)
                k = ($1 ~ /_count/) ? "c" : "s"
                if (seen[k, q]++) v[k, q] = $2 - v[k, q]; else v[k, q] = $2
                names[q] = 1
            }
            END {
                for (q in names) total += v["s", q]
                for (q in names) if (v["c", q] > 0)
                    printf "%s %.3f %.1f %.0f%%\n", q, v["c", q] / n, v["s", q] * 1e6 / v["c", q],
                        (total > 0 ? 100 * v["s", q] / total : 0)
            }' | sort -k2 -rn
        if [ -n "$servers" ]; then
            echo
            echo "## Redis keys by command and pattern (1 s of MONITOR during the run)"
            sed -n 's/^[0-9.]* \[[^]]*\] "\([^"]*\)" "\([^"]*\)".*/\1 \2/p' "$d/monitor.raw" |
                sed 's/[0-9a-f]\{16,\}/<id>/g; s/[0-9]\{2,\}/<n>/g' | sort | uniq -c | sort -rn |
                head -20
            echo
            echo "## Redis commands (time inside Redis)"
            echo "command per_request us_per_call"
            redis-cli -u "$RG_TEST_REDIS_URL" info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$n" '
                /^cmdstat_/ {
                    sub(/^cmdstat_/, "", $1)
                    printf "%s %.3f %s\n", $1, $3 / n, $7
                }' | sort -k2 -rn
            echo
            echo "## PostgreSQL statements by total time"
            psql "$db" -AtF ' | ' -c "SELECT round(calls::numeric / $n, 3) AS per_request,
                round(mean_exec_time::numeric * 1000, 1) AS mean_us,
                round(total_exec_time::numeric) AS total_ms, rows,
                left(regexp_replace(query, '\s+', ' ', 'g'), 160)
                FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database
                WHERE datname = 'rgbench') ORDER BY total_exec_time DESC LIMIT 20"
            echo
            echo "## PostgreSQL busy backends: what they waited for (samples)"
            sort "$d/pg-waits.raw" | uniq -c | sort -rn | head -15
        fi
        echo
        echo "## the service's threads (samples: name state wait)"
        sort "$d/threads.raw" | uniq -c | sort -rn | head -25
        echo
        echo "## CPU samples by process (perf, whole machine)"
        perf report -i "$d/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
            grep -v '^#' | grep . | head -15
        echo
        echo "## hottest functions: the service"
        perf report -i "$d/perf.data" --no-children --pid "$pid" --sort dso,sym --stdio \
            -g none 2>/dev/null | grep -v '^#' | grep . | head -40
        echo
        echo "## the service's hottest functions with their callers"
        perf report -i "$d/perf.data" --children --pid "$pid" --sort sym --stdio \
            -g caller,0.5,callee,function,percent --percent-limit 3 2>/dev/null |
            grep -v '^#' | grep . | head -150
        for c in postgres redis-server; do
            echo
            echo "## hottest functions: $c"
            perf report -i "$d/perf.data" --no-children --comm "$c" --sort dso,sym --stdio \
                -g none 2>/dev/null | grep -v '^#' | grep . | head -30
        done
    } >"$d/summary.txt"
    echo "diagnosis of $1: $d/summary.txt" >&2
}
