-- The claims job's incremental path (src/claims/claims_cache.cpp): the cache
-- tables of schema/210_claims_cache.sql. Dates travel as days since
-- 2000-01-01 (DateADT).

-- ---- reading ----------------------------------------------------------------

-- name: lock_ledger
-- The ledger is part of the cached facts: no other writer between our read
-- of it and our commit (the job is its only writer anyway).
LOCK TABLE ops.cabinet_claims_14d IN SHARE ROW EXCLUSIVE MODE;

-- name: cache_meta
SELECT m.window_days, m.milestones, m.covered_from - DATE '2000-01-01' AS covered_from
  FROM ops.claims_cache_meta m;

-- name: lock_for_rebuild
SELECT ct4._claims_cache_lock_for_rebuild();

-- name: reset_cache
SELECT ct4._claims_cache_reset();

-- name: dirty_drivers
SELECT d.driver_id, d.mark FROM ops.claims_dirty_drivers d;

-- name: dirty_leads
SELECT d.lead_id, d.mark FROM ops.claims_dirty_leads d;

-- name: oldest_lead_day
SELECT pg_catalog.min(l.lead_date) - DATE '2000-01-01' AS oldest FROM raw.module_ct_cabinet_leads l;

-- name: uncovered_leads
SELECT pg_catalog.count(*) AS uncovered
  FROM raw.module_ct_cabinet_leads l
 WHERE l.lead_date >= DATE '2000-01-01' + $1 AND l.lead_date < DATE '2000-01-01' + $2;

-- fragment: fresh_leads
-- The leads whose lead-level condition must be (re)computed: the uncovered
-- date range ($1, $2), NULL dates when asked ($3) and the dirty leads ($4).
-- UNION ALL: a dirty lead inside the range comes twice and the reader keeps
-- its first row (deduplicating 1 000 000 leads in SQL cost ~1 s of a first run).
(SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s
  WHERE s.lead_date >= DATE '2000-01-01' + $1 AND s.lead_date < DATE '2000-01-01' + $2
 UNION ALL
 SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s
  WHERE $3 AND s.lead_date IS NULL
 UNION ALL
 SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s
  WHERE s.lead_id = ANY ($4::pg_catalog.int8[])) l

-- name: fresh_leads_probe
-- The fresh leads, each with its person and its person's driver. Small
-- sets: index probes per lead (fresh_leads_hash reads the same set for a
-- large range).
SELECT l.lead_id, l.lead_date - DATE '2000-01-01' AS lead_date, p.person_key, p.driver_id
  FROM {{fresh_leads}}
  LEFT JOIN LATERAL (
       SELECT ll.person_key,
              (SELECT dl.source_pk FROM canon.identity_links dl
                WHERE dl.source_table = 'drivers' AND dl.person_key = ll.person_key) AS driver_id
         FROM canon.identity_links ll
        WHERE ll.source_table = 'module_ct_cabinet_leads'
          AND ll.source_pk = l.lead_id::pg_catalog.text OFFSET 0) p ON true;

-- name: fresh_leads_hash
-- The same, for a large range (a first run): hashed.
SELECT l.lead_id, l.lead_date - DATE '2000-01-01' AS lead_date, ll.person_key,
       dl.source_pk AS driver_id
  FROM {{fresh_leads}}
  LEFT JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads'
       AND ll.source_pk = l.lead_id::pg_catalog.text
  LEFT JOIN canon.identity_links dl ON dl.source_table = 'drivers'
       AND dl.person_key = ll.person_key;

-- name: cached_invalid_leads
SELECT i.lead_id, i.lead_date - DATE '2000-01-01' AS lead_date, i.person_key, i.driver_id, i.reported
  FROM ops.claims_invalid_leads i
 WHERE i.lead_date >= DATE '2000-01-01' + $1 OR i.lead_date IS NULL;

-- name: cached_drivers
SELECT s.driver_id, s.person_key, s.facts, s.claims, s.reported
  FROM ops.claims_driver_state s
 WHERE s.last_lead_date >= DATE '2000-01-01' + $1;

-- name: any_claim
-- Under the run's lock an empty ledger stays empty until the filing.
SELECT EXISTS (SELECT 1 FROM ops.cabinet_claims_14d) AS any_claim;

-- name: trips_estimate
SELECT GREATEST(c.reltuples, 0)::pg_catalog.int8 AS estimated_rows
  FROM pg_catalog.pg_class c
 WHERE c.oid = 'raw.summary_daily'::pg_catalog.regclass;

-- ---- writing ----------------------------------------------------------------
-- A driver's ledger rows are stored as ops.claims_driver_state.claims, read
-- after the filing (the ledger is locked by the run), in the shape the
-- ledger trigger writes: four int8 per claim (claim_id, milestone_value,
-- lead_id, lead day), in claim_id order (core/claims_cache_codec.hpp reads
-- them). The states to store are unnested in a select list: rows stream into
-- the INSERT instead of being copied into a tuplestore first.

-- fragment: claims_of_driver
-- The ledger rows of driver u.driver_id as four int8 per claim (the ledger
-- trigger of schema/210_claims_cache.sql writes them too;
-- scripts/check_shared_sql.pl keeps the two alike).
ARRAY(SELECT x FROM ops.cabinet_claims_14d c,
             LATERAL pg_catalog.unnest(ARRAY[c.claim_id, c.milestone_value::pg_catalog.int8,
                                             c.lead_id,
                                             (c.lead_date - DATE '2000-01-01')::pg_catalog.int8])
                     WITH ORDINALITY AS x(x, o)
       WHERE c.driver_id = u.driver_id ORDER BY c.claim_id, x.o)

-- fragment: driver_states
-- The states to store: $1 driver_id, $2 person_key, $3 last lead day, $4 facts.
(SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS driver_id,
        pg_catalog.unnest($2::pg_catalog.int8[]) AS person_key,
        pg_catalog.unnest($3::pg_catalog.int4[]) AS last_day,
        pg_catalog.unnest($4::pg_catalog.bytea[]) AS facts) u

-- name: insert_driver_states
-- After a reset the table is empty: a plain INSERT (no speculative insertion).
INSERT INTO ops.claims_driver_state (driver_id, person_key, last_lead_date, facts, claims)
SELECT u.driver_id, u.person_key, DATE '2000-01-01' + u.last_day, u.facts,
       {{claims_of_driver}}
  FROM {{driver_states}};

-- name: upsert_driver_states
INSERT INTO ops.claims_driver_state AS s (driver_id, person_key, last_lead_date, facts, claims)
SELECT u.driver_id, u.person_key, DATE '2000-01-01' + u.last_day, u.facts,
       {{claims_of_driver}}
  FROM {{driver_states}}
    ON CONFLICT (driver_id) DO UPDATE SET person_key = EXCLUDED.person_key,
       last_lead_date = EXCLUDED.last_lead_date, facts = EXCLUDED.facts,
       claims = EXCLUDED.claims, reported = '{}';

-- name: delete_driver_states
DELETE FROM ops.claims_driver_state s WHERE s.driver_id = ANY ($1::pg_catalog.text[]);

-- name: delete_invalid_leads
DELETE FROM ops.claims_invalid_leads i WHERE i.lead_id = ANY ($1::pg_catalog.int8[]);

-- name: insert_invalid_leads
-- A lead day of -2147483648 stands for a NULL lead_date.
INSERT INTO ops.claims_invalid_leads (lead_id, lead_date, person_key, driver_id, reported)
SELECT u.lead_id, CASE WHEN u.lead_day <> -2147483648 THEN DATE '2000-01-01' + u.lead_day END,
       u.person_key::pg_catalog.int8, u.driver_id, u.reported
  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),
                  pg_catalog.unnest($2::pg_catalog.int4[]),
                  pg_catalog.unnest($3::pg_catalog.text[]),
                  pg_catalog.unnest($4::pg_catalog.text[]),
                  pg_catalog.unnest($5::pg_catalog.bool[]))
       AS u(lead_id, lead_day, person_key, driver_id, reported);

-- name: report_invalid_leads
UPDATE ops.claims_invalid_leads i SET reported = true WHERE i.lead_id = ANY ($1::pg_catalog.int8[]);

-- name: report_driver_gaps
-- (lead_id, milestone_value) pairs reported, appended to each driver's state.
UPDATE ops.claims_driver_state s SET reported = s.reported OPERATOR(pg_catalog.||) x.reported
  FROM (SELECT u.driver_id, pg_catalog.array_agg(v.v ORDER BY u.o, v.k) AS reported
          FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),
                          pg_catalog.unnest($2::pg_catalog.int8[]),
                          pg_catalog.unnest($3::pg_catalog.int8[]))
               WITH ORDINALITY AS u(driver_id, lead_id, milestone_value, o),
               LATERAL (VALUES (1, u.lead_id), (2, u.milestone_value)) AS v(k, v)
         GROUP BY u.driver_id) x
 WHERE s.driver_id = x.driver_id;

-- name: clear_dirty_drivers
-- The marks this run saw (a mark made meanwhile stays).
DELETE FROM ops.claims_dirty_drivers d
 USING ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),
                  pg_catalog.unnest($2::pg_catalog.int8[])) AS x(driver_id, mark)
 WHERE d.driver_id = x.driver_id AND d.mark = x.mark;

-- name: clear_dirty_leads
DELETE FROM ops.claims_dirty_leads d
 USING ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),
                  pg_catalog.unnest($2::pg_catalog.int8[])) AS x(lead_id, mark)
 WHERE d.lead_id = x.lead_id AND d.mark = x.mark;

-- name: update_meta
UPDATE ops.claims_cache_meta
   SET window_days = $1, milestones = $2, covered_from = LEAST(covered_from, DATE '2000-01-01' + $3);

-- name: upsert_meta
INSERT INTO ops.claims_cache_meta AS m (id, window_days, milestones, covered_from)
VALUES (true, $1, $2, DATE '2000-01-01' + $3)
    ON CONFLICT (id) DO UPDATE SET window_days = EXCLUDED.window_days,
       milestones = EXCLUDED.milestones,
       covered_from = LEAST(m.covered_from, EXCLUDED.covered_from);
