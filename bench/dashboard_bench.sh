#!/usr/bin/env bash
# What the dashboard costs next to ct4.metrics() (SPEC 12: "in the same time
# budget") and next to the plain SQL that reads the same rows without
# composing a page.
#   PGHOST/PGPORT set (a running cluster with ct4_jobs installed);
#   flock /tmp/ct4-bench.lock bench/dashboard_bench.sh [leads] [runs]   (default 100000, 5)
# Creates database ct4_bench_dashboard, generates demo data, runs the three
# jobs once, then times each statement `runs` times in turn (every run's
# figure is printed, in ms). Prints figures only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
runs=${2:-5}
db=ct4_bench_dashboard
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION ct4_jobs CASCADE"
psql -X -q -d $db -v n="$n" >/dev/null <<'SQL'
SELECT * FROM ct4.generate_demo_data(:n, 42);
SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000);
SELECT * FROM ct4.reconcile_claims_14d(36500, 100000000);
SELECT * FROM ct4.check_limbo_alerts();
VACUUM ANALYZE;
SQL
PGOPTIONS='-c client_min_messages=warning' psql -X -At -d $db -v runs="$runs" <<'SQL'
CREATE TEMP TABLE t (what text, run int, ms numeric);
SELECT set_config('bench.runs', :'runs', false);
DO $$
DECLARE
    t0 timestamptz;
    x  text;
    n  bigint;
BEGIN
    FOR i IN 1..current_setting('bench.runs')::int LOOP
        t0 := clock_timestamp();
        x := ct4.metrics();
        INSERT INTO t VALUES ('ct4.metrics()', i, extract(epoch FROM clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        x := ct4.dashboard_html();
        INSERT INTO t VALUES ('ct4.dashboard_html()', i, extract(epoch FROM clock_timestamp() - t0) * 1000);
        -- the same rows, read by plain SQL, no page, with JIT off as in both functions
        PERFORM set_config('jit', 'off', true);
        t0 := clock_timestamp();
        -- every column used (an unused one would be planned away)
        SELECT sum(w.leads_total + w.limbo_no_identity + w.limbo_no_driver + w.limbo_no_trips_14d
                   + w.limbo_trips_no_claim + w.limbo_ok) INTO n
          FROM (SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start DESC LIMIT 12) w;
        SELECT count(*) INTO n FROM ct4.job_status s LEFT JOIN ct4.job_runs r ON r.run_id = s.last_run_id;
        SELECT count(*) INTO n FROM ct4.alert_events e WHERE e.resolved_at IS NULL;
        INSERT INTO t VALUES ('plain SQL: weekly view + job_status + open alerts', i,
                              extract(epoch FROM clock_timestamp() - t0) * 1000);
        PERFORM set_config('jit', 'on', true);
    END LOOP;
END $$;
SELECT format('%s: %s ms', what, string_agg(round(ms, 1)::text, ', ' ORDER BY run)) FROM t GROUP BY what ORDER BY what;
SQL
echo "leads: $n; page bytes: $(psql -X -At -d $db -c 'SELECT octet_length(ct4.dashboard_html())')"
psql -X -q -d postgres -c "DROP DATABASE $db"
