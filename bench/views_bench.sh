#!/usr/bin/env bash
# Times the funnel views (schema/050_ops_views.sql) on demo data.
#   PGHOST/PGPORT set (a running cluster with ct4_jobs installed);
#   bench/views_bench.sh [leads]   (default 100000)
# Creates database ct4_bench_views, generates demo data, links it with
# test/fixtures/demo_ground_truth_links.sql, then times one full evaluation
# of each view (the seeds' queries) and a per-driver look-up. Prints figures only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
db=ct4_bench_views
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION ct4_jobs CASCADE"
psql -X -d $db -v n="$n" -v seed=42 <<'SQL'
\timing on
SELECT * FROM ct4.generate_demo_data(:n, :seed);
\i test/fixtures/demo_ground_truth_links.sql
SELECT (SELECT count(*) FROM raw.summary_daily) AS trip_rows,
       (SELECT count(*) FROM canon.identity_links) AS links,
       (SELECT count(*) FROM ops.cabinet_claims_14d) AS claims;
\echo == v_payment_calculation
SELECT count(*), sum(trips_in_window) FROM ops.v_payment_calculation;
\echo == v_cabinet_milestones_achieved_from_payment_calc
SELECT count(*) FROM ops.v_cabinet_milestones_achieved_from_payment_calc;
\echo == v_claims_payment_status_cabinet
SELECT payment_status, count(*) FROM ops.v_claims_payment_status_cabinet GROUP BY 1 ORDER BY 1;
\echo == v_cabinet_claims_gap_14d
SELECT gap_reason, count(*) FROM ops.v_cabinet_claims_gap_14d GROUP BY 1 ORDER BY 1;
\echo == v_cabinet_claims_gap_14d, last 21 days
SELECT gap_reason, count(*) FROM ops.v_cabinet_claims_gap_14d WHERE lead_date >= current_date - 21 GROUP BY 1 ORDER BY 1;
\echo == v_cabinet_leads_limbo
SELECT limbo_stage, count(*) FROM ops.v_cabinet_leads_limbo GROUP BY 1 ORDER BY 2 DESC;
\echo == v_cabinet_14d_funnel_audit_weekly
SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start DESC LIMIT 4;
\echo == v_payment_calculation for one driver (index path)
SELECT count(*) FROM ops.v_payment_calculation WHERE driver_id = 'drv_000000002';
SQL
psql -X -q -d postgres -c "DROP DATABASE $db"
