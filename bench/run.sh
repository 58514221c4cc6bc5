#!/bin/sh
# Benchmarks the embedded default with wrk, load generator and server on this
# machine. Prints a Markdown table; docs/performance.md keeps the figures.
#   sh bench/run.sh            (after `make build`)
# Knobs: RG_BENCH_USERS (20000), RG_BENCH_SECONDS (10), RG_BENCH_CONNS (64),
# RG_WRK_THREADS (2).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/risinggen"
out="$root/bench/out"
users=${RG_BENCH_USERS:-20000}
secs=${RG_BENCH_SECONDS:-10}
conns=${RG_BENCH_CONNS:-64}
threads=${RG_WRK_THREADS:-2}
port=${RG_BENCH_PORT:-18181}
rm -rf "$out" && mkdir -p "$out"
export RG_DATA_DIR="$out/data" RG_LISTEN="127.0.0.1:$port" RG_ACCESS_LOG=0

echo "seeding $users users (with tokens), 50 venues, 500 events, 5000 registrations" >&2
t0=$(date +%s)
"$bin" seed --users "$users" --venues 50 --events 500 --registrations 5000 \
    --tokens "$out/tokens.txt" --seed 7 >"$out/seed.log"
echo "seeded in $(( $(date +%s) - t0 )) s" >&2

"$bin" serve 2>"$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://$RG_LISTEN/healthz" >/dev/null && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status; }
hwm() { awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status; }
row() { # name, wrk output file
    line=$(grep '^wrk_result' "$2")
    eval "$(echo "$line" | sed 's/^wrk_result //')"
    printf '| %s | %s | %s | %s | %s | %s | %s MB |\n' "$1" "$rps" "$p50_ms" "$p99_ms" \
        "$requests" "$non2xx" "$(rss)"
}

# The organizer of the seed (user 0) owns the rush event.
org_token=$(head -n 1 "$out/tokens.txt" | cut -d' ' -f2)
api() { curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $org_token" "$@"; }
event_id=$(curl -sf "http://$RG_LISTEN/v1/events?city=London&limit=1" |
    sed 's/.*"items":\[{"id":\([0-9]*\).*/\1/')

echo "| scenario | req/s | p50 ms | p99 ms | requests | non-2xx | server RSS |"
echo "|---|---|---|---|---|---|---|"
wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$root/bench/report.lua" \
    "http://$RG_LISTEN/v1/events/$event_id" >"$out/read.txt"
row "read one event (GET /v1/events/{id})" "$out/read.txt"
wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$root/bench/report.lua" \
    "http://$RG_LISTEN/v1/events?city=London&limit=20" >"$out/discovery.txt"
row "cached discovery (GET /v1/events?city=London)" "$out/discovery.txt"

rush=$(api -X POST "http://$RG_LISTEN/v1/events" -d '{"title":"Rush","slug":"bench-rush",
  "startDate":"2031-06-01T09:00:00Z","endDate":"2031-06-03T17:00:00Z","type":"conference",
  "maxParticipants":1000}' | sed 's/^{"id":\([0-9]*\).*/\1/')
api -X PATCH "http://$RG_LISTEN/v1/events/$rush" -d '{"status":"published"}' >/dev/null
RG_TOKENS="$out/tokens.txt" RG_WRK_THREADS=$threads RG_RUSH_PATH="/v1/events/$rush/registrations" \
    wrk -t"$threads" -c"$conns" -d30s -s "$root/bench/rush.lua" \
    "http://$RG_LISTEN/" >"$out/rush.txt"
eval "$(grep '^rush_result' "$out/rush.txt" | sed 's/^rush_result //')"
answers=$(grep '^rush_answers' "$out/rush.txt" | sed 's/rush_answers //')
printf '| registration rush (%s users, 1,000 places) | %s | %s | %s | %s | %s | %s MB |\n' \
    "$users" "$rps" "$p50_ms" "$p99_ms" "$requests" "$answers" "$(rss)"
stats=$(api "http://$RG_LISTEN/v1/events/$rush/stats")
echo
echo "rush check: $stats"
echo "peak server RSS: $(hwm) MB; now: $(awk '/RssAnon|RssFile/ {printf "%s %d MB  ", $1, $2/1024}' /proc/$pid/status)"
confirmed=$(echo "$stats" | sed 's/.*"confirmed":\([0-9]*\).*/\1/')
[ "$confirmed" = 1000 ] || { echo "RUSH CHECK FAILED: $confirmed confirmed" >&2; exit 1; }
