#!/usr/bin/env bash
# pg_dump / pg_restore keep every row of the extension's tables and the jobs
# run on after a restore without key clashes (SPEC 2). Needs a running cluster
# with ct4_jobs installed (PGHOST/PGPORT set) and pg_dump/pg_restore on PATH.
# Prints TAP. Used by test/run_all.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
src=ct4_dump_src dst=ct4_dump_dst
dump=$(mktemp -d)/ct4.dump
. test/tap.sh

q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" >/dev/null
# Source: demo data, identity links, claims, a run, an unlink, an edited
# default setting and an extra milestone.
if ! q -d "$src" -v n=3000 -v seed=11 >/dev/null 2>"$dump.err" <<'SQL'
CREATE EXTENSION ct4_jobs CASCADE;
SELECT * FROM ct4.generate_demo_data(:n, :seed);
\i test/fixtures/demo_ground_truth_links.sql
INSERT INTO canon.persons (created_by_run) VALUES (7);
INSERT INTO canon.identity_links (source_table, source_pk, person_key, match_rule, match_score, evidence, linked_at, run_id)
SELECT 'module_ct_cabinet_leads', 'dump-test', max(person_key), 'LICENSE+PHONE', 6, '{"phone": "equal"}', now(), 7
  FROM canon.persons;
INSERT INTO canon.identity_unmatched (source_table, source_pk, reason_code, details, snapshot_date, run_id)
VALUES ('module_ct_cabinet_leads', '1', 'AMBIGUOUS', '{"candidates": [1, 2]}', current_date, 7);
INSERT INTO canon.identity_link_removals (source_table, source_pk, removed_link, reason)
VALUES ('module_ct_cabinet_leads', '2', '{}', 'dump test');
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, run_id)
VALUES ('drv-dump-test', 1, 999999, '2026-01-05', 1, 25.00, 3, '2026-01-06', '2026-01-18', '{}', 7);
INSERT INTO ct4.job_runs (job_name, status, stats) VALUES ('reconcile_claims_14d', 'SUCCESS', '{"claims_created": 1}');
UPDATE ct4.settings SET value = '15' WHERE name = 'window_days';
INSERT INTO ct4.milestones VALUES (50, 50, 150.00);
-- The CRM: demo data and what its jobs write.
SELECT * FROM ct4.generate_crm_demo_data(3, 11);
SELECT * FROM ct4.crm_check_notifications();
SELECT * FROM ct4.crm_refresh_seller_metrics();
SELECT * FROM ct4.crm_daily_report();
SQL
then echo "Bail out! could not prepare the source database: $(head -5 "$dump.err")"; exit 1; fi

pg_dump -Fc -d "$src" -f "$dump" 2>"$dump.err"
ok $? "pg_dump -Fc of a database with ct4_jobs" "$(cat "$dump.err")"
q -d postgres -c "CREATE DATABASE $dst" >/dev/null
pg_restore --exit-on-error -d "$dst" "$dump" 2>"$dump.err"
ok $? "pg_restore into a fresh database without error" "$(cat "$dump.err")"

# Every table of the four schemas: same row count and md5 of its rows.
# Caches registered with 'WHERE false' are rebuilt from raw, not restored.
tables=$(q -d "$src" -c "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('raw', 'canon', 'ops', 'ct4', 'crm') AND c.relkind = 'r'
      AND NOT EXISTS (SELECT 1 FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(reloid, cond)
                       WHERE e.extname = 'ct4_jobs' AND x.reloid = c.oid AND x.cond ILIKE 'WHERE false%')
    ORDER BY 1")
for t in $tables; do
    sql="SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM $t t"
    a=$(q -d "$src" -c "$sql" 2>&1) b=$(q -d "$dst" -c "$sql" 2>&1)
    [ "$a" = "$b" ]; ok $? "$t restored unchanged ($a)" "source: $a; restored: $b"
done
# Sequences carry on where they were.
seqs=$(q -d "$src" -c "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
    WHERE schemaname IN ('raw', 'canon', 'ops', 'ct4', 'crm') ORDER BY 1")
for s in $seqs; do
    a=$(q -d "$src" -c "SELECT last_value FROM $s") b=$(q -d "$dst" -c "SELECT last_value FROM $s")
    [ "$a" = "$b" ]; ok $? "sequence $s restored at $a" "source: $a; restored: $b"
done
v=$(q -d "$dst" -c "SELECT value || ',' || count(*) OVER () FROM ct4.settings WHERE name = 'window_days'")
[ "$v" = "15,1" ]; ok $? "an edited default setting survives (window_days = 15, one row)" "got $v"
v=$(q -d "$dst" -c "SELECT string_agg(milestone_value::text, ',' ORDER BY 1) FROM ct4.milestones")
[ "$v" = "1,5,25,50" ]; ok $? "default and added milestones restored once each" "got $v"
# New rows after the restore take fresh keys (identity sequences restored).
out=$(q -d "$dst" 2>&1 <<'SQL'
INSERT INTO canon.persons DEFAULT VALUES;
INSERT INTO canon.identity_link_removals (source_table, source_pk, removed_link, reason) VALUES ('drivers', 'x', '{}', 'after restore');
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, run_id)
VALUES ('drv-after-restore', 1, 1, '2026-01-05', 1, 25.00, 1, '2026-01-05', '2026-01-18', '{}', 8);
INSERT INTO ct4.job_runs (job_name, status) VALUES ('reconcile_leads_pipeline', 'SUCCESS');
INSERT INTO crm.notifications (kind, subject_id, episode, message, details, created_at, run_id)
VALUES ('HOT_LEAD', -1, 'after restore', 'm', '{}', now(), 9);
SQL
)
ok $? "new rows in persons, link removals, claims, job_runs and CRM notifications do not clash on keys" "$out"
# The views work on the restored data exactly as on the source.
sql="SELECT md5(string_agg(limbo_stage || lead_id, ',' ORDER BY lead_id)) FROM ops.v_cabinet_leads_limbo"
a=$(q -d "$src" -c "$sql") b=$(q -d "$dst" -c "$sql")
[ "$a" = "$b" ]; ok $? "v_cabinet_leads_limbo gives the same rows after restore" "source: $a; restored: $b"

echo "1..$n"
q -d postgres -c "DROP DATABASE $src" -c "DROP DATABASE $dst" >/dev/null
rm -rf "$(dirname "$dump")"
[ "$failed" -eq 0 ]
