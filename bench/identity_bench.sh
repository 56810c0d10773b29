#!/usr/bin/env bash
# Identity job benchmark (not a test): 1 000 000 drivers, 100 000 fresh leads.
# Times (1) a set-based plain-SQL matcher doing the same first-run work, rolled
# back, (2) ct4.reconcile_leads_pipeline over all 100 000 leads, (3) a no-op
# rerun of the same call, (4) the default call (what pg_cron runs) as a no-op.
# Prints the times and the ratio. Uses
# $PGHOST/$PGPORT when set, otherwise starts a throwaway cluster.
#   bench/identity_bench.sh [drivers] [leads]
set -euo pipefail
cd "$(dirname "$0")/.."
DRIVERS=${1:-1000000}
LEADS=${2:-100000}
. bench/own_cluster.sh
export PGUSER=${PGUSER:-postgres}
DB=ct4_bench
psql -q -X -d postgres -c "DROP DATABASE IF EXISTS ${DB}_job" -c "DROP DATABASE IF EXISTS ${DB}_plain" \
     -c "DROP DATABASE IF EXISTS $DB" \
     -c "CREATE DATABASE $DB"
psql -q -X -d $DB -c "CREATE EXTENSION ct4_jobs CASCADE"
q() { psql -X -q -At -d $DB -v ON_ERROR_STOP=1 "$@"; }

echo "generating $DRIVERS drivers and $LEADS leads ..."
q <<SQL
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate)
SELECT 'D' || i,
       (ARRAY['María','José','Luis','Ana','Carlos','Rosa','Jorge','Lucía'])[1 + i % 8] || ' '
         || (ARRAY['García','Pérez','Quispe','Flores','Rojas','Díaz','Torres','Vega'])[1 + i / 8 % 8]
         || ' ' || chr(65 + i % 23) || chr(65 + i / 23 % 26) || chr(65 + i / 598 % 26),
       (900000000 + i)::text, 'Q' || (10000000 + i), 'P' || lpad((i % 900000)::text, 6, '0')
  FROM generate_series(1, $DRIVERS) i;
-- 70 % sign-ups of a driver (other formats), 10 % second sign-ups of such a
-- lead, 18 % people who are no driver yet, 2 % garbage.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate)
SELECT i, current_date - (i % 30),
       CASE WHEN k < 98 THEN
         (ARRAY['Maria','Jose','Luis','Ana','Carlos','Rosa','Jorge','Lucia'])[1 + d % 8] || ' '
         || (ARRAY['Garcia','Perez','Quispe','Flores','Rojas','Diaz','Torres','Vega'])[1 + d / 8 % 8]
         || ' ' || chr(65 + d % 23) || chr(65 + d / 23 % 26) || chr(65 + d / 598 % 26)
       ELSE '😀' END,
       CASE WHEN k >= 98 THEN '☎--' WHEN i % 3 = 0 THEN NULL ELSE '+51 ' || (900000000 + d) END,
       CASE WHEN k >= 98 THEN '!!' WHEN i % 3 = 1 THEN NULL ELSE 'q-' || (10000000 + d) END,
       NULL
  FROM generate_series(1, $LEADS) i,
       LATERAL (SELECT (i * 7919) % 100 AS k) kk,
       LATERAL (SELECT CASE WHEN k < 70 THEN i * 9 % $DRIVERS + 1
                            WHEN k < 80 THEN (i - 1) * 9 % $DRIVERS + 1
                            ELSE $DRIVERS + 10 + i END AS d) dd;
SQL
q -c "VACUUM ANALYZE"
# The generated database is a template that no timed side ever writes to:
# each side runs in a fresh copy of it (CREATE DATABASE ... STRATEGY
# file_copy). A side run in the generated database itself, or in a copy made
# after another side, would meet that side's rolled-back persons and links as
# dead heap tuples and index entries (168 000 links, 91 000 persons per run):
# that cost a later run 1.5-2.5 s, or nothing once autovacuum had come by,
# which made the figures depend on the order of the sides and on autovacuum.
fresh() {
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS ${DB}_plain" \
         -c "DROP DATABASE IF EXISTS ${DB}_job" \
         -c "CREATE DATABASE $1 TEMPLATE $DB STRATEGY file_copy"
    prewarm "$1"
    settle "$1"
}
# Both sides start with raw and canon in shared buffers (a copy starts cold).
prewarm() {
    psql -q -X -At -d "$1" -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
         -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname IN ('raw', 'canon') AND c.relkind IN ('r', 'i')" >/dev/null
}
# Before each timed side: dirty buffers checkpointed and the OS's dirty pages
# written back (the copy, the previous side's writes), and no autovacuum
# worker running (dropping the previous copy stops its workers).
settle() {
    psql -q -X -d "$1" -c CHECKPOINT
    sync
    for _ in $(seq 1 60); do
        [ "$(psql -X -At -d "$1" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" = 0 ] && break
        sleep 1
    done
}
qj() { psql -X -q -At -d ${DB}_job -v ON_ERROR_STOP=1 "$@"; }
qp() { psql -X -q -At -d ${DB}_plain -v ON_ERROR_STOP=1 "$@"; }

# The plain SQL, in its copy, rolled back. With "same_writes" it also writes
# what the job writes besides persons and links (unmatched rows, lead
# states), so that both sides do the same work. Neither side writes keys: they are indexed on
# the raw tables (schema/100_identity.sql).
plain_sql() {
    { cat <<'SQL'
BEGIN;
-- As the job does for its own statements (docs/identity.md): JIT compiling
-- these few large statements costs more than it saves.
SET LOCAL jit = off;
CREATE TEMP TABLE t0 ON COMMIT DROP AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE nl ON COMMIT DROP AS
SELECT l.lead_id, l.lead_date, ct4.normalize_phone(l.phone) AS ph,
       left(ct4.normalize_license(l.license_number), 64) AS li,
       left(ct4.normalize_plate(l.plate), 64) AS pl, ct4.normalize_name(l.full_name) AS nm
  FROM raw.module_ct_cabinet_leads l
 WHERE l.lead_date >= current_date - 30
   AND NOT EXISTS (SELECT 1 FROM canon.identity_links x
                    WHERE x.source_table = 'module_ct_cabinet_leads' AND x.source_pk = l.lead_id::text);
-- one person per group of leads sharing a license or a phone (first lead anchors it)
CREATE TEMP TABLE anchor ON COMMIT DROP AS
SELECT n.lead_id,
       least(CASE WHEN n.li IS NOT NULL THEN first_value(n.lead_id) OVER (PARTITION BY n.li ORDER BY n.lead_date, n.lead_id) END,
             CASE WHEN n.ph IS NOT NULL THEN first_value(n.lead_id) OVER (PARTITION BY n.ph ORDER BY n.lead_date, n.lead_id) END) AS anchor
  FROM nl n WHERE (n.ph IS NOT NULL OR n.li IS NOT NULL) AND n.nm IS NOT NULL;
CREATE TEMP TABLE pk ON COMMIT DROP AS
SELECT a.anchor, nextval('canon.persons_person_key_seq') AS person_key
  FROM (SELECT DISTINCT anchor FROM anchor) a;
INSERT INTO canon.persons (person_key, created_by_run) SELECT person_key, 0 FROM pk;
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', a.lead_id::text, p.person_key,
       CASE WHEN a.lead_id = a.anchor THEN 'NEW_PERSON' ELSE 'SAME_KEY' END, NULL,
       jsonb_build_object('phone', n.ph, 'license', n.li, 'name', n.nm), now(), 0
  FROM anchor a JOIN pk p USING (anchor) JOIN nl n USING (lead_id);
-- driver candidates through the expression indexes (their collation "C"), scored, best unique >= 3
CREATE TEMP TABLE cand ON COMMIT DROP AS
SELECT DISTINCT p.person_key, d.driver_id, d.full_name, d.phone, d.license_number, d.plate, n.ph, n.li, n.pl, n.nm
  FROM pk p JOIN nl n ON n.lead_id = p.anchor
  JOIN LATERAL (SELECT * FROM raw.drivers d WHERE (ct4.normalize_phone(d.phone) COLLATE "C") = n.ph
                UNION SELECT * FROM raw.drivers d WHERE (left(ct4.normalize_license(d.license_number), 64) COLLATE "C") = n.li
                UNION SELECT * FROM raw.drivers d WHERE (left(ct4.normalize_plate(d.plate), 64) COLLATE "C") = n.pl) d ON true;
CREATE TEMP TABLE best ON COMMIT DROP AS
SELECT person_key, driver_id, score FROM (
  SELECT s.*, rank() OVER w AS r, count(*) OVER (PARTITION BY person_key, score) AS c
    FROM (SELECT c.person_key, c.driver_id,
                 (CASE WHEN left(ct4.normalize_license(c.license_number), 64) = c.li THEN 4 ELSE 0 END
                + CASE WHEN ct4.normalize_phone(c.phone) = c.ph THEN 2 ELSE 0 END
                + CASE WHEN left(ct4.normalize_plate(c.plate), 64) = c.pl THEN 1 ELSE 0 END
                + CASE WHEN ct4.name_similarity(c.full_name, c.nm) >= 0.85 THEN 1 ELSE 0 END) AS score
            FROM cand c) s
  WINDOW w AS (PARTITION BY person_key ORDER BY score DESC)) x
 WHERE r = 1 AND c = 1 AND score >= 3;
INSERT INTO canon.identity_links
SELECT DISTINCT ON (b.driver_id) 'drivers', b.driver_id, b.person_key, 'SCORE', b.score, '{}', now(), 0
  FROM best b ORDER BY b.driver_id, b.person_key;
SQL
    [ "${1:-}" = same_writes ] && cat <<'SQL'
-- The rest of what the job writes: an unmatched row (with its evidence)
-- per lead left without identity or driver, and the lead state of every
-- lead in scope.
INSERT INTO canon.identity_unmatched (source_table, source_pk, reason_code, details, snapshot_date, run_id)
SELECT 'module_ct_cabinet_leads', n.lead_id::text, 'INVALID_DATA',
       jsonb_build_object('keys', jsonb_build_object('phone', n.ph, 'license', n.li, 'plate', n.pl, 'name', n.nm),
                          'missing', to_jsonb(array_remove(ARRAY[CASE WHEN n.ph IS NULL THEN 'phone' END,
                                                                 CASE WHEN n.li IS NULL THEN 'license' END,
                                                                 CASE WHEN n.pl IS NULL THEN 'plate' END,
                                                                 CASE WHEN n.nm IS NULL THEN 'name' END], NULL))),
       current_date, 0
  FROM nl n WHERE NOT EXISTS (SELECT 1 FROM anchor a WHERE a.lead_id = n.lead_id)
UNION ALL
SELECT 'module_ct_cabinet_leads', a.lead_id::text, 'DRIVER_CONFLICT',
       jsonb_build_object('person_key', p.person_key, 'candidates', c.cands), current_date, 0
  FROM anchor a JOIN pk p USING (anchor)
  JOIN (SELECT person_key, jsonb_agg(jsonb_build_object('driver_id', driver_id)) AS cands
          FROM cand GROUP BY person_key) c USING (person_key)
 WHERE NOT EXISTS (SELECT 1 FROM canon.identity_links l
                    WHERE l.source_table = 'drivers' AND l.person_key = p.person_key);
-- Lead state as the job keeps it: a done lead's row goes, the others get
-- their stage and outcome.
CREATE TEMP TABLE st ON COMMIT DROP AS
SELECT n.lead_id,
       CASE WHEN p.person_key IS NULL THEN 'NO_IDENTITY'
            WHEN dl.person_key IS NOT NULL THEN 'DONE' ELSE 'NO_DRIVER' END AS stage,
       CASE WHEN p.person_key IS NULL THEN 'INVALID_DATA' ELSE 'DRIVER_NO_CANDIDATES' END AS outcome
  FROM nl n LEFT JOIN anchor a USING (lead_id) LEFT JOIN pk p USING (anchor)
  LEFT JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = p.person_key;
DELETE FROM canon.identity_lead_state s USING st WHERE s.lead_id = st.lead_id AND st.stage = 'DONE';
UPDATE canon.identity_lead_state s
   SET stage = st.stage, outcome = st.outcome, changed = false, inputs_changed = false,
       checked_run = 0, checked_epoch = 1
  FROM st WHERE s.lead_id = st.lead_id AND st.stage <> 'DONE' AND s.version = 0;
SQL
    cat <<'SQL'
SELECT round(extract(epoch FROM clock_timestamp() - t) * 1000) FROM t0;
ROLLBACK;
SQL
    } | qp | tail -1
}

# The host's speed: a fixed CPU-bound statement, timed at the start and at the
# end. On this VM it has taken anything from 1x to 3x its fastest time, and
# every figure of the run moves with it; only the pairs of one run compare.
probe() {
    psql -X -q -At -d postgres -c "SET jit = off" -c "\\timing on" \
         -c "SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 7 = 3" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
PROBE1=$(probe)
run() { qj -c "SELECT round(duration_ms)::text || ' ms  ' || row(processed, newly_linked, newly_driver_mapped, still_no_candidates, conflicts, errors)::text FROM ct4.reconcile_leads_pipeline(days_back => 30, row_limit => $LEADS, limbo_stages => '{NO_IDENTITY,NO_DRIVER}')"; }
# Each side twice, alternating, each in a fresh copy of the same data: a
# 2-core VM's timings wander by tens of percent from one minute to the next;
# the best of two of each is compared.
echo "plain SQL (set-based) and ct4 first run, twice each, each in a fresh copy of the data ..."
fresh ${DB}_plain; P1=$(plain_sql)
fresh ${DB}_job; F1=$(run)
fresh ${DB}_plain; P2=$(plain_sql)
fresh ${DB}_job; FIRST=$(run)
echo "plain SQL first run: $P1 ms, $P2 ms"
echo "ct4 first run:       $F1"
echo "ct4 first run:       $FIRST  (processed, linked, driver_mapped, no_candidates, conflicts, errors)"
PLAIN_MS=$(( P1 < P2 ? P1 : P2 ))
F1_MS=${F1%% ms*}; F2_MS=${FIRST%% ms*}
FIRST_MS=$(( F1_MS < F2_MS ? F1_MS : F2_MS ))
echo "best of two: plain SQL ${PLAIN_MS} ms, ct4 ${FIRST_MS} ms"
NOOP=$(run); echo "ct4 no-op rerun:     $NOOP"
WALL=$( { /usr/bin/time -f %e psql -X -q -At -d ${DB}_job -c "SELECT status FROM ct4.reconcile_leads_pipeline(days_back => 30, row_limit => $LEADS, limbo_stages => '{NO_IDENTITY,NO_DRIVER}')" >/dev/null; } 2>&1 )
echo "ct4 no-op rerun, client wall clock incl. connect: ${WALL} s"
DEF=$(qj -c "SELECT round(duration_ms)::text || ' ms' FROM ct4.reconcile_leads_pipeline()")
echo "ct4 no-op rerun with defaults (30 days, 2000 rows, all limbo stages): $DEF"
DEF2=$(qj -c "SELECT round(duration_ms)::text || ' ms' FROM ct4.reconcile_leads_pipeline()")
echo "ct4 no-op default call, again: $DEF2"
fresh ${DB}_plain; S1=$(plain_sql same_writes)
fresh ${DB}_plain; S2=$(plain_sql same_writes)
SAME_MS=$(( S1 < S2 ? S1 : S2 ))
echo "plain SQL with the job's other writes too (unmatched rows, lead states): $S1 ms, $S2 ms"
echo "machine speed probe (fixed CPU-bound query): ${PROBE1} ms at the start, $(probe) ms at the end"
echo "ratio ct4 / plain SQL (first run): $(awk -v a="$FIRST_MS" -v b="$PLAIN_MS" 'BEGIN { printf "%.2f", a / b }')"
echo "ratio ct4 / plain SQL with the same writes: $(awk -v a="$FIRST_MS" -v b="$SAME_MS" 'BEGIN { printf "%.2f", a / b }')"
psql -q -X -d postgres -c "DROP DATABASE IF EXISTS ${DB}_plain"
