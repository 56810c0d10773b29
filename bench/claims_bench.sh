#!/usr/bin/env bash
# Benchmark of ct4.reconcile_claims_14d (not a test: prints figures only).
# Data: 1 000 000 leads, 900 000 drivers (100 000 persons with a second lead),
# ~20 000 000 raw.summary_daily rows, identities linked directly in canon.
# Generated once, in its own database (ct4_claims_bench); later runs reuse it.
# Uses the cluster named by PGHOST/PGPORT (e.g. scripts/cluster.sh start).
# Measures, each against a plain-SQL way of doing the same work in the same run:
#   full first run (all leads), daily run (days_back 21), no-op rerun, and the
#   time to merely read the in-scope trips once. Prints figures and ratios.
# After a schema change: DROP DATABASE ct4_claims_bench (the data is regenerated).
set -euo pipefail
DB=${CT4_BENCH_DB:-ct4_claims_bench}
: "${PGHOST:?start a cluster first (scripts/cluster.sh start) and export PGHOST/PGPORT}"
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# Prints the server-side duration (ms) of one statement. JIT off for every
# side, as the job has it for its own statements (docs/claims.md): JIT
# compiling the plain SQL's few large statements costs it time for nothing.
timed() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'SET jit = off' -c '\timing on' -c "$1" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

if ! psql -X -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    echo "== generating data in $DB (once)"
    psql -X -q -d postgres -c "CREATE DATABASE $DB"
    q -c 'CREATE EXTENSION ct4_jobs'
    q <<'SQL'
SET synchronous_commit = off;
-- Lead i belongs to person i (i <= 900 000); leads 900 001.. are second
-- sign-ups of persons 1, 10, 19, ... Dates spread over two years.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
SELECT i, current_date - (i % 730) FROM generate_series(1, 1000000) i;
INSERT INTO raw.drivers (driver_id) SELECT 'D' || i FROM generate_series(1, 900000) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 900000) i;
INSERT INTO canon.identity_links
SELECT 'drivers', 'D' || i, i, 'BENCH', NULL, '{}', now(), 0 FROM generate_series(1, 900000) i;
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', i::text,
       CASE WHEN i <= 900000 THEN i ELSE (i - 900000) * 9 - 8 END, 'BENCH', NULL, '{}', now(), 0
  FROM generate_series(1, 1000000) i;
-- About 79 % of the 28 days after each first lead have 0..4 trips.
INSERT INTO raw.summary_daily
SELECT 'D' || p, d, (abs(hashint8(p * 64 + k)) / 7) % 5
  FROM generate_series(1, 900000) p,
       LATERAL (SELECT current_date - (p % 730) + k AS d, k FROM generate_series(0, 27) k) x
 WHERE abs(hashint8(p * 64 + k)) % 100 < 79 AND d <= current_date;
ANALYZE;
SQL
fi

rows=$(q -tA -c "SELECT (SELECT count(*) FROM raw.module_ct_cabinet_leads) || ' leads, ' || (SELECT count(*) FROM raw.summary_daily) || ' summary_daily rows'")
echo "== data: $rows"

# The same gaps in plain SQL: windows of every lead of the drivers in scope,
# cumulative trips, first achieving lead per (driver, milestone), no ledger row.
plain_sql() {
    cat <<SQL
WITH scope AS (
  SELECT l.lead_id, l.lead_date, dl.source_pk AS driver_id, dl.person_key
    FROM raw.module_ct_cabinet_leads l
    JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
    JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
   WHERE l.lead_date >= current_date - $1),
drivers AS (SELECT DISTINCT driver_id, person_key FROM scope),
leads AS (
  SELECT d.driver_id, l.lead_id, l.lead_date FROM drivers d
    JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = d.person_key
    JOIN raw.module_ct_cabinet_leads l ON l.lead_id = ll.source_pk::bigint
   WHERE l.lead_date IS NOT NULL),
daily AS (
  SELECT a.driver_id, a.lead_id, a.lead_date, s.trip_date,
         sum(s.count_orders_completed) OVER (PARTITION BY a.lead_id ORDER BY s.trip_date) AS cum
    FROM leads a JOIN raw.summary_daily s
      ON s.driver_id = a.driver_id AND s.trip_date >= a.lead_date AND s.trip_date < a.lead_date + 14),
achieved AS (
  SELECT d.driver_id, d.lead_id, d.lead_date, m.milestone_value, min(d.trip_date) AS achieved_date
    FROM daily d JOIN ct4.milestones m ON d.cum >= m.trips_required GROUP BY 1, 2, 3, 4),
owner AS (
  SELECT DISTINCT ON (driver_id, milestone_value) * FROM achieved
   ORDER BY driver_id, milestone_value, lead_date, lead_id)
SELECT count(*) FROM owner o
 WHERE EXISTS (SELECT 1 FROM achieved a WHERE a.driver_id = o.driver_id
                  AND a.milestone_value = o.milestone_value AND a.lead_date >= current_date - $1)
   AND NOT EXISTS (SELECT 1 FROM ops.cabinet_claims_14d c
                    WHERE c.driver_id = o.driver_id AND c.milestone_value = o.milestone_value)
SQL
}

# Reading the in-scope trips once: the rows the job reads, nothing else.
read_trips() {
    cat <<SQL
WITH scope AS (
  SELECT DISTINCT dl.source_pk AS driver_id, dl.person_key
    FROM raw.module_ct_cabinet_leads l
    JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
    JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
   WHERE l.lead_date >= current_date - $1),
range AS (
  SELECT d.driver_id, min(l.lead_date) AS lo, max(l.lead_date) + 14 AS hi FROM scope d
    JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = d.person_key
    JOIN raw.module_ct_cabinet_leads l ON l.lead_id = ll.source_pk::bigint
   GROUP BY 1)
SELECT count(*), sum(s.count_orders_completed) FROM range r
  JOIN raw.summary_daily s ON s.driver_id = r.driver_id AND s.trip_date >= r.lo AND s.trip_date < r.hi
SQL
}

job() { timed "SELECT * FROM ct4.reconcile_claims_14d($1, 100000000)"; }
fig() { printf '%-58s %10s ms\n' "$1" "$2"; }
cnt() { printf '%-58s %10s\n' "$1" "$2"; }
ratio() { awk -v a="$2" -v b="$3" -v t="$1" 'BEGIN { printf "%-58s %10.2fx\n", t, a / b }'; }
created() { q -tA -c "SELECT stats->>'claims_created' FROM ct4.job_runs ORDER BY run_id DESC LIMIT 1"; }

echo "== load: $(uptime)"
q -c 'TRUNCATE ops.cabinet_claims_14d, ct4.job_runs RESTART IDENTITY' -c 'VACUUM ANALYZE'
q -c 'SELECT count(*) FROM raw.summary_daily' >/dev/null   # warm the cache

echo "== full first run (all leads, empty ledger; the claims cache is empty too)"
r=$(timed "$(read_trips 36500)"); fig "read the in-scope trips once (days_back 36500)" "$r"
p=$(timed "$(plain_sql 36500)"); fig "plain SQL: compute the same gaps" "$p"
cnt "plain SQL gap count" "$(q -tA -c "$(plain_sql 36500)")"
j=$(job 36500); fig "job: reconcile_claims_14d(36500, 100000000)" "$j"
cnt "job: claims_created" "$(created)"
ratio "job / plain SQL" "$j" "$p"; ratio "job / read trips once" "$j" "$r"

echo "== daily run (days_back 21; the last 21 days' claims removed first)"
q -c "DELETE FROM ops.cabinet_claims_14d WHERE lead_date >= current_date - 21" -c 'VACUUM ANALYZE ops.cabinet_claims_14d'
r=$(timed "$(read_trips 21)"); fig "read the in-scope trips once (days_back 21)" "$r"
p=$(timed "$(plain_sql 21)"); fig "plain SQL: compute the same gaps" "$p"
cnt "plain SQL gap count" "$(q -tA -c "$(plain_sql 21)")"
j=$(job 21); fig "job: reconcile_claims_14d(21, 100000000)" "$j"
cnt "job: claims_created" "$(created)"
ratio "job / plain SQL" "$j" "$p"; ratio "job / read trips once" "$j" "$r"

echo "== no-op rerun (days_back 21, nothing to file)"
j=$(job 21); fig "job: reconcile_claims_14d(21, 100000000)" "$j"
j2=$(job 21); fig "job: reconcile_claims_14d(21, 100000000) again" "$j2"
fig "job: reconcile_claims_14d(21, 1000) (the seed's call)" "$(timed "SELECT * FROM ct4.reconcile_claims_14d(21, 1000)")"
p=$(timed "$(plain_sql 21)"); fig "plain SQL: compute the same gaps" "$p"
ratio "job / plain SQL" "$j2" "$p"
fig "report: claims_gap_report(21, 100000000) (always the raw path)" "$(timed "SELECT count(*) FROM ct4.claims_gap_report(21, 100000000)")"

echo "== next day's no-op: a day of new trips for 1 000 drivers, then the daily run"
q -c "INSERT INTO raw.summary_daily SELECT 'D' || p, current_date, 1 FROM generate_series(1, 9000, 9) p ON CONFLICT DO NOTHING" >/dev/null
j=$(job 21); fig "job: reconcile_claims_14d(21, 100000000)" "$j"
cnt "job: claims_created" "$(created)"
echo "== load: $(uptime)"
