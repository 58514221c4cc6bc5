#!/usr/bin/env bash
# Do other clients keep their latency while 1,000 slow clients hang on?
# Serves the embedded profile, measures GET /healthz with wrk (8
# connections, 15 s) alone, then again while bench/slowloris holds 1,000
# connections from 20 loopback addresses, each sending its head a byte every
# two seconds (and reconnecting when cut). Prints both latency summaries.
#   bench/slowloris.sh [BINARY]
set -euo pipefail
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin=${1:-build/risinggen}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/rg-slowloris.XXXXXX)
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$work"' EXIT
cc -O2 -o "$work/slowloris" "$here/slowloris.c"
port=$(( (RANDOM % 20000) + 30000 ))
RG_LISTEN=127.0.0.1:$port RG_DATA_DIR=$work/data RG_ACCESS_LOG=0 "$bin" serve >"$work/log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "== alone"
wrk -t1 -c8 -d15s --latency "http://127.0.0.1:$port/healthz" | grep -E 'Latency  |Requests/sec|50%|90%|99%|Socket errors|Non-2xx'
echo "== with 1,000 slow clients"
"$work/slowloris" "$port" 1000 20 25 >"$work/slow.out" &
slow=$!
sleep 5
wrk -t1 -c8 -d15s --latency "http://127.0.0.1:$port/healthz" | grep -E 'Latency  |Requests/sec|50%|90%|99%|Socket errors|Non-2xx'
wait $slow
cat "$work/slow.out"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^rg_http_connections_(cut|refused)_total'
