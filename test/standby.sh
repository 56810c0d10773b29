#!/usr/bin/env bash
# ct4.health(), ct4.metrics() and ct4.job_status on a hot standby (SPEC 6):
# a streaming standby of the test cluster (pg_basebackup -R), read by the
# README's reader role, answers with the primary's values. Needs a running
# cluster (PGHOST/PGPORT) with ct4_jobs installable and CT4_PGROOT (the
# PostgreSQL copy it runs). Prints TAP. Used by test/run_all.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${CT4_PGROOT:-}/usr/lib/postgresql/15/bin
db=ct4_standby_src role=ct4_standby_reader
. test/tap.sh
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; elif [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
port=55500; while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || [ -e "/tmp/ct4_sock_$port/.s.PGSQL.$port" ]; do port=$((port + 1)); done
data=/tmp/ct4_standby_$port sock=/tmp/ct4_sock_$port
cleanup() {
    [ -d "$data" ] && as_pg "$BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$data" "$sock"
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}
trap cleanup EXIT

# The primary: runs of several kinds and the reader role.
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" -c "CREATE DATABASE $db" >/dev/null
if ! q -d "$db" >/dev/null 2>"/tmp/ct4_standby_$port.err" <<SQL
CREATE EXTENSION ct4_jobs;
CREATE ROLE $role LOGIN;
SELECT ct4.grant_access('$role', 'reader');
SELECT count(*) FROM ct4.reconcile_claims_14d(21, 1000);
SELECT count(*) FROM ct4.reconcile_claims_14d(21, 1000, true, true);
CHECKPOINT;
SQL
then echo "Bail out! could not prepare the primary: $(head -5 "/tmp/ct4_standby_$port.err")"; exit 1; fi

rm -rf "$data" "$sock"; mkdir -p "$data" "$sock"; chown postgres "$data" "$sock" 2>/dev/null; chmod 700 "$data"
out=$(as_pg "$BIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$data" -R -X stream 2>&1)
ok $? "pg_basebackup -R of the test cluster" "$out"
cat >> "$data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$sock'
hot_standby = on
CONF
out=$(as_pg "$BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start 2>&1)
ok $? "the standby starts" "$out"
sq() { psql -X -q -At -h "$sock" -p "$port" -U "$role" -d "$db" "$@"; }
[ "$(sq -c 'SELECT pg_is_in_recovery()' 2>&1)" = t ]; ok $? "it is in recovery (a hot standby)"

# The same values as on the primary (pg_cron's launcher aside: a standby's
# does not schedule), as the reader.
strip() { grep -v '^ct4_pg_cron_scheduler_running '; }
a=$(q -d "$db" -c 'SELECT ct4.metrics()' | strip) b=$(sq -c 'SELECT ct4.metrics()' 2>&1 | strip)
[ -n "$b" ] && [ "$a" = "$b" ]; ok $? "metrics() on the standby, as the reader: the primary's samples" "$(diff <(echo "$a") <(echo "$b"))"
a=$(q -d "$db" -c "SELECT (ct4.health() - 'checked_at' - 'pg_cron' - 'reasons' - 'status')::text")
b=$(sq -c "SELECT (ct4.health() - 'checked_at' - 'pg_cron' - 'reasons' - 'status')::text" 2>&1)
[ "$a" = "$b" ]; ok $? "health() on the standby: the primary's jobs and alerts" "primary: $a; standby: $b"
b=$(sq -c "SELECT string_agg(job_name || ' ' || coalesce(last_status, '-') || ' ' || (last_success_at IS NOT NULL), ', ' ORDER BY job_name) FROM ct4.job_status WHERE job_name IN ('check_limbo_alerts', 'reconcile_claims_14d', 'reconcile_leads_pipeline')" 2>&1)
[ "$b" = "check_limbo_alerts - false, reconcile_claims_14d DRY_RUN true, reconcile_leads_pipeline - false" ]
ok $? "job_status on the standby (a dry run is no success, the run before is)" "$b"
echo "1..$n"
