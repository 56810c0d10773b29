#!/usr/bin/env bash
# Quick start: installs what is needed, builds ct4_jobs, installs it into a
# private copy of PostgreSQL 15, starts a throwaway cluster with pg_cron,
# loads demo data and runs the jobs once, printing what they did and the
# funnel. The cluster keeps running so you can look around; the last lines
# say how to connect and how to stop it.
#   scripts/quickstart.sh [leads]      (default 20000 demo leads)
set -euo pipefail
cd "$(dirname "$0")/.."
leads=${1:-20000}

scripts/install_deps.sh
make -s -j"$(nproc)"
export CT4_PGROOT; CT4_PGROOT=$(scripts/pgroot.sh fresh quickstart)
make -s install DESTDIR="$CT4_PGROOT" >/dev/null
eval "$(scripts/cluster.sh start)"

# pg_cron lives in the database named by cron.database_name (ct4_cron).
export PGDATABASE=ct4_cron
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION pg_cron;
CREATE EXTENSION ct4_jobs CASCADE;
\echo '== demo data'
SELECT * FROM ct4.generate_demo_data($leads, 42);
\echo '== identity matching: ct4.reconcile_leads_pipeline(36500, 100000000)'
SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000);
\echo '== claims: ct4.reconcile_claims_14d(36500, 100000000)'
SELECT * FROM ct4.reconcile_claims_14d(36500, 100000000);
\echo '== alerts: ct4.check_limbo_alerts()'
SELECT alert_code, severity, metric_value, threshold, message FROM ct4.check_limbo_alerts();
\echo '== funnel by limbo stage (ops.v_cabinet_leads_limbo)'
SELECT limbo_stage, count(*) FROM ops.v_cabinet_leads_limbo GROUP BY 1 ORDER BY 2 DESC;
\echo '== last 4 weeks (ops.v_cabinet_14d_funnel_audit_weekly)'
SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start DESC LIMIT 4;
\echo '== the sales CRM (seed 004): ct4.generate_crm_demo_data(20, 42)'
SELECT * FROM ct4.generate_crm_demo_data(20, 42);
\echo '== CRM notification checks: ct4.crm_check_notifications()'
SELECT * FROM ct4.crm_check_notifications();
\echo '== CRM seller metrics: ct4.crm_refresh_seller_metrics()'
SELECT * FROM ct4.crm_refresh_seller_metrics();
SELECT seller_id, conversations_today, unanswered, round(avg_response_time_minutes::numeric, 1) AS avg_response_min,
       round(productivity_score::numeric, 2) AS score, activity_level, rank_position
  FROM crm.seller_metrics WHERE period = ct4._crm_day(now()) ORDER BY rank_position LIMIT 5;
\echo '== CRM cleanup: ct4.crm_cleanup()'
SELECT * FROM ct4.crm_cleanup();
\echo '== CRM daily report of yesterday: ct4.crm_daily_report()'
SELECT run_id, status, report_date, conversations, new_leads, converted_leads, recommendations
  FROM ct4.crm_daily_report();
SELECT jsonb_pretty(report) FROM crm.daily_reports ORDER BY report_date DESC LIMIT 1;
\echo '== schedule the production profile in pg_cron'
SELECT * FROM ct4.schedule('production', 'America/Lima');
SELECT job_name, enabled, schedule, last_status, next_run_at FROM ct4.job_status ORDER BY 1;
SQL

cat <<EOF

The cluster is running. Connect with:
  psql -h $PGHOST -p $PGPORT -U postgres -d ct4_cron
Stop and remove it with:
  CT4_PORT=$PGPORT CT4_PGROOT=$CT4_PGROOT scripts/cluster.sh stop
EOF
