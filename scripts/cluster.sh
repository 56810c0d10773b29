#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster with pg_cron preloaded.
#   scripts/cluster.sh start   -> prints export lines (PGHOST, PGPORT, PGUSER)
#   scripts/cluster.sh stop
# CT4_PGROOT (see scripts/pgroot.sh) picks the PostgreSQL copy to run.
# CT4_PORT picks the port (default: first free from 54329). The data folder
# and socket live under /tmp and belong to the postgres user, because the
# server refuses to run as root.
set -euo pipefail
BIN=${CT4_PGROOT:-}/usr/lib/postgresql/15/bin
cmd=${1:-start}
state=/tmp/ct4_cluster.current

as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; elif [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && [ ! -e "/tmp/ct4_sock_$1/.s.PGSQL.$1" ]; }

case "$cmd" in
start)
    # Choosing a free port and starting on it is one step for concurrent
    # checkouts on the same machine.
    exec 8>/tmp/ct4_cluster_ports.lock; flock 8
    port=${CT4_PORT:-}
    if [ -z "$port" ]; then port=54329; while ! port_free "$port"; do port=$((port + 1)); done; fi
    data=/tmp/ct4_cluster_$port sock=/tmp/ct4_sock_$port
    rm -rf "$data" "$sock"; mkdir -p "$data" "$sock"; chown postgres:postgres "$data" "$sock"; chmod 700 "$data"
    as_pg $BIN/initdb -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'ct4_cron'
cron.use_background_workers = on
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
timezone = 'UTC'
lc_messages = 'C'
CONF
    as_pg $BIN/pg_ctl -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null 8>&-  # the server must not keep the lock
    echo "$port" > "$state.$port"
    # pg_cron's launcher waits for its database; make it at once.
    as_pg $BIN/psql -X -q -h "$sock" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE ct4_cron' >/dev/null
    echo "export PGHOST=$sock PGPORT=$port PGUSER=postgres CT4_CLUSTER=$data"
    ;;
stop)
    port=${CT4_PORT:?set CT4_PORT to the port printed by start}
    data=/tmp/ct4_cluster_$port
    [ -d "$data" ] && as_pg $BIN/pg_ctl -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$data" "/tmp/ct4_sock_$port" "$state.$port"
    ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
