#!/usr/bin/env bash
# Private PostgreSQL (a primary and a streaming replica) and Redis for the
# tests, in a folder of their own, on free ports, never the system's
# services. Fast and unsafe settings (fsync off): test data only. The
# primary runs with archive_mode on, so that the backup tests can point its
# archive_command at a pgBackRest repository.
#   test-servers.sh start DIR      start all, write DIR/env (shell assignments)
#   test-servers.sh stop DIR       stop all and remove DIR
#   test-servers.sh pg-stop DIR    stop the primary (fault tests)
#   test-servers.sh pg-start DIR   start it again
#   test-servers.sh redis-stop DIR / redis-start DIR
#   test-servers.sh pg-run DIR DATA PORT   start a cluster restored into DATA
#                                  (a folder under DIR) on PORT, not archiving
#   test-servers.sh pg-halt DIR DATA       stop it
# With RG_SERVERS_BENCH=1 (bench/run.sh) PostgreSQL runs as in production
# instead: durable (fsync, synchronous commit, full page writes), 256 MB of
# shared buffers, no replica; the mode is kept in DIR for pg-start. With
# RG_SERVERS_ARCHIVE=1 as well, it runs with archive_mode on (the backups'
# benchmark).
set -euo pipefail
cmd=${1:?usage: test-servers.sh start|stop|pg-stop|pg-start|pg-run|pg-halt|redis-stop|redis-start DIR}
dir=${2:?DIR}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# As root, PostgreSQL runs as the postgres user; otherwise as the caller.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000)) # below the kernel's ephemeral range
        if port_free "$p" && port_free "$((p + 1))"; then echo "$p"; return; fi
    done
    echo "no free port" >&2
    exit 1
}

pg_opts() { # port
    if [ -f "$dir/bench-mode" ]; then
        echo "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 \
-c shared_buffers=256MB -c effective_cache_size=4GB -c work_mem=8MB -c max_prepared_transactions=64\
$([ -f "$dir/bench-perf" ] && echo ' -c shared_preload_libraries=pg_stat_statements')\
$([ -f "$dir/bench-archive" ] && echo ' -c archive_mode=on')"
        return
    fi
    echo "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on \
-c archive_mode=on -c max_prepared_transactions=64 \
-c max_connections=400 -c shared_buffers=32MB"
}

wait_pg() { # port
    for _ in $(seq 1 100); do
        as_pg "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$1" && return 0
        sleep 0.1
    done
    echo "PostgreSQL on port $1 did not start" >&2
    return 1
}

start_primary() {
    # shellcheck disable=SC1091
    . "$dir/env"
    as_pg "$pgbin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w \
        -o "$(pg_opts "$RG_TEST_PG_PORT")" start >/dev/null
}

start_redis() {
    # shellcheck disable=SC1091
    . "$dir/env"
    redis-server --port "$RG_TEST_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log"
    for _ in $(seq 1 100); do
        redis-cli -p "$RG_TEST_REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "Redis did not start" >&2
    return 1
}

stop_redis() {
    [ -f "$dir/redis.pid" ] || return 0
    local pid
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
}

case $cmd in
start)
    [ -n "$pgbin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
    command -v redis-server >/dev/null || { echo "Redis is not installed" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    pg=$(free_port)
    replica=$((pg + 1))
    redis=$(free_port)
    cat >"$dir/env" <<ENV
RG_TEST_PG_PORT=$pg
RG_TEST_PG_REPLICA_PORT=$replica
RG_TEST_REDIS_PORT=$redis
RG_TEST_PG_URL=postgresql://postgres@127.0.0.1:$pg/postgres
RG_TEST_PG_REPLICA_URL=postgresql://postgres@127.0.0.1:$replica/postgres
RG_TEST_REDIS_URL=redis://127.0.0.1:$redis
RG_TEST_SERVERS=$dir
RG_TEST_SERVERS_SCRIPT=$(cd "$(dirname "$0")" && pwd)/test-servers.sh
ENV
    as_pg "$pgbin/initdb" -D "$dir/primary" -A trust -U postgres --no-sync -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log"
    [ "${RG_SERVERS_BENCH:-0}" = 1 ] && touch "$dir/bench-mode"
    [ "${RG_BENCH_PERF:-0}" = 1 ] && touch "$dir/bench-perf"
    [ "${RG_SERVERS_ARCHIVE:-0}" = 1 ] && touch "$dir/bench-archive"
    start_primary
    wait_pg "$pg"
    if [ -f "$dir/bench-mode" ]; then
        start_redis
        exit 0
    fi
    as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$pg" -U postgres -D "$dir/replica" -R \
        -X stream --no-sync >"$dir/basebackup.log" 2>&1
    as_pg "$pgbin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w \
        -o "$(pg_opts "$replica")" start >/dev/null
    wait_pg "$replica"
    start_redis
    ;;
stop)
    [ -d "$dir" ] || exit 0
    for d in replica primary; do
        [ -f "$dir/$d/postmaster.pid" ] &&
            as_pg "$pgbin/pg_ctl" -D "$dir/$d" -m immediate -w stop >/dev/null 2>&1 || true
    done
    stop_redis || true
    rm -rf "$dir"
    ;;
pg-stop) as_pg "$pgbin/pg_ctl" -D "$dir/primary" -m fast -w stop >/dev/null ;;
pg-start) start_primary ;;
pg-run)
    data=${3:?DATA}
    as_pg "$pgbin/pg_ctl" -D "$data" -l "$data.log" -w -t 300 \
        -o "-p ${4:?PORT} -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c archive_mode=off \
-c max_connections=400 -c max_wal_senders=4 -c shared_buffers=32MB \
-c max_prepared_transactions=64" start >/dev/null
    ;;
pg-halt) as_pg "$pgbin/pg_ctl" -D "${3:?DATA}" -m immediate -w stop >/dev/null ;;
redis-stop) stop_redis ;;
redis-start) start_redis ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
