#!/usr/bin/env bash
# Prometheus end to end (SPEC 11): Debian's prometheus-postgres-exporter with
# contrib/postgres_exporter/ct4_queries.yaml, connected as the README's
# reader role through the cluster's socket, serves on its /metrics every
# sample of ct4.metrics() with the same name, labels (plus the exporter's
# `server`) and value, and no NaN; the textfile alternative
# (scripts/metrics_textfile.sh) writes ct4.metrics() whole and atomically.
# Needs a running cluster (PGHOST/PGPORT) with ct4_jobs installable. Prints
# TAP. Used by test/run_all.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
db=ct4_exporter login=ct4_exporter_prom
work=$(mktemp -d)
. test/tap.sh
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

exporter=$(command -v prometheus-postgres-exporter) || { echo "Bail out! prometheus-postgres-exporter is not installed (scripts/install_deps.sh)"; exit 1; }

# Data and runs of every kind: demo data, the jobs, a failed run.
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
if ! q -d "$db" >/dev/null 2>"$work/setup.err" <<SQL
CREATE EXTENSION ct4_jobs CASCADE;
SELECT * FROM ct4.generate_demo_data(1500, 5);
CALL ct4.run_job('reconcile_leads_pipeline');
CALL ct4.run_job('reconcile_claims_14d');
CALL ct4.run_job('check_limbo_alerts');
SELECT * FROM ct4.generate_crm_demo_data(3, 5);
CALL ct4.run_job('crm_notification_checks');
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at, stats, sqlstate, error_message)
VALUES ('reconcile_claims_14d', 'FAILED', now() - interval '2 hours', now() - interval '2 hours', '{}', '57014', 'test');
-- The README's reader role, and a LOGIN member of it for the exporter.
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ct4_reader') THEN CREATE ROLE ct4_reader NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$login') THEN CREATE ROLE $login LOGIN IN ROLE ct4_reader; END IF;
END \$\$;
GRANT ct4_reader TO $login;   -- also when both were left by an earlier run with ct4_reader remade
SELECT ct4.grant_access('ct4_reader', 'reader');
SQL
then echo "Bail out! could not prepare the database: $(head -5 "$work/setup.err")"; exit 1; fi

# A free loopback port; the `server` label below proves the answer comes from
# this exporter (another checkout's test may be running one).
port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
server="$PGHOST:$PGPORT"
for port in $(seq 19187 19287); do
    port_free "$port" || continue
    DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=$login dbname=$db sslmode=disable" \
        "$exporter" --web.listen-address="127.0.0.1:$port" \
        --extend.query-path=contrib/postgres_exporter/ct4_queries.yaml \
        --disable-default-metrics --disable-settings-metrics >"$work/exporter.log" 2>&1 &
    pid=$!
    # Until it answers or exits (a port taken meanwhile makes it exit).
    while kill -0 "$pid" 2>/dev/null && ! curl -sf -o /dev/null "http://127.0.0.1:$port/"; do :; done
    kill -0 "$pid" 2>/dev/null && break
    wait "$pid" 2>/dev/null; pid=""
done
[ -n "$pid" ] || { echo "Bail out! the exporter did not start: $(tail -5 "$work/exporter.log")"; exit 1; }
ok 0 "prometheus-postgres-exporter $("$exporter" --version 2>&1 | sed -n 's/.*version \([^ ]*\).*/\1/p') listens on 127.0.0.1:$port"

# ct4.metrics() just before and after the scrape: nothing runs in this
# database, so they are equal and the scrape read the same state.
q -d "$db" -c "SELECT ct4.metrics()" >"$work/before.txt"
curl -sf "http://127.0.0.1:$port/metrics" >"$work/scrape.txt"
ok $? "curl reads /metrics"
q -d "$db" -c "SELECT ct4.metrics()" >"$work/after.txt"
cmp -s "$work/before.txt" "$work/after.txt"
ok $? "ct4.metrics() did not change during the scrape" "$(diff "$work/before.txt" "$work/after.txt")"

grep -q "^pg_exporter_user_queries_load_error{.*} 0$" "$work/scrape.txt"
ok $? "the exporter loaded ct4_queries.yaml" "$(grep user_queries_load_error "$work/scrape.txt"; tail -5 "$work/exporter.log")"

# One canonical line per sample: name{sorted labels} value as %.17g (the
# exporter prints floats its own way, e.g. 1.7e+09); `server` is checked and
# dropped. Labels are parsed with the exposition format's escapes.
canon() {  # canon <file> <with server label: 1|0>
    perl -ne '
        next if /^#/ || !/^(ct4_\w+)(?:\{(.*)\})? (\S+)$/;
        my ($name, $labels, $v) = ($1, $2 // "", $3);
        my %l; $l{$1} = $2 while $labels =~ /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;
        if ('"$2"') { my $s = delete $l{server}; $s = "" unless defined $s;
                     print STDERR "wrong server label: $_" if $s ne $ENV{CT4_SERVER}; }
        printf "%s{%s} %s\n", $name, join(",", map { "$_=\"$l{$_}\"" } sort keys %l),
               ($v =~ /^[-+]?(nan|inf)/i ? lc $v : sprintf("%.17g", $v));
    ' "$1" | LC_ALL=C sort
}
CT4_SERVER=$server canon "$work/before.txt" 0 >"$work/want.txt"
CT4_SERVER=$server canon "$work/scrape.txt" 1 >"$work/got.txt" 2>"$work/server.err"
[ -s "$work/want.txt" ] && [ "$(wc -l <"$work/want.txt")" -ge 30 ]
ok $? "ct4.metrics() has samples to compare ($(wc -l <"$work/want.txt"))"
[ ! -s "$work/server.err" ] && grep -q . "$work/got.txt"
ok $? "every ct4 sample of the exporter carries server=\"$server\"" "$(head -3 "$work/server.err")"
missing=$(LC_ALL=C comm -23 "$work/want.txt" "$work/got.txt")
[ -z "$missing" ]
ok $? "every sample of ct4.metrics() is on /metrics with the same name, labels and value" "$missing"
extra=$(LC_ALL=C comm -13 "$work/want.txt" "$work/got.txt")
[ -z "$extra" ]
ok $? "the exporter serves no ct4 sample that ct4.metrics() does not have" "$extra"
! grep -qiE '^ct4_.* [-+]?nan$' "$work/scrape.txt"
ok $? "no sample is NaN (a NULL column)" "$(grep -iE '^ct4_.* [-+]?nan$' "$work/scrape.txt")"
for family in $(sed -n 's/^# TYPE \(ct4_[a-z_]*\) .*/\1/p' "$work/before.txt"); do
    grep -qE "^${family}(_sum|_count)?\{" "$work/got.txt" || grep -qE "^${family} " "$work/got.txt" || echo "$family"
done >"$work/families.txt"
[ ! -s "$work/families.txt" ]
ok $? "every metric family of ct4.metrics() is served" "$(cat "$work/families.txt")"

# The textfile collector's file: ct4.metrics() whole, no temporary file
# left; a failing query keeps the previous file and fails the script.
mkdir "$work/textfile"
scripts/metrics_textfile.sh "$work/textfile" -d "$db" -U "$login" 2>"$work/textfile.err"
ok $? "metrics_textfile.sh writes the file" "$(cat "$work/textfile.err")"
q -d "$db" -c "SELECT ct4.metrics()" >"$work/now.txt"
cmp -s "$work/now.txt" "$work/textfile/ct4_jobs.prom"
ok $? "the file is ct4.metrics()" "$(diff "$work/now.txt" "$work/textfile/ct4_jobs.prom" | head)"
! scripts/metrics_textfile.sh "$work/textfile" -d "$db" -U "$login" -c 'SELECT 1/0' 2>/dev/null \
  && ! scripts/metrics_textfile.sh "$work/textfile" -d ct4_no_such_db 2>/dev/null \
  && cmp -s "$work/now.txt" "$work/textfile/ct4_jobs.prom" \
  && [ "$(ls -A "$work/textfile")" = ct4_jobs.prom ]
ok $? "a failed query exits non-zero, keeps the previous file and leaves no temporary file" "$(ls -A "$work/textfile")"

kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
echo "1..$n"
