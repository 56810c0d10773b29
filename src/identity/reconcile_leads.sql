-- The SQL of ct4.reconcile_leads_pipeline (src/identity/reconcile_leads.cpp).
-- The key look-ups compare the expressions of the key indexes of
-- schema/100_identity.sql (on raw leads and on raw.drivers) in the indexes'
-- collation "C"; $1, $2, $3 are the phones, licenses and plates asked for.

-- ---- reading ----------------------------------------------------------------

-- name: identity_epoch
SELECT coalesce((SELECT e.epoch FROM canon.identity_epoch e), 0) AS epoch;

-- name: any_blocks
SELECT EXISTS (SELECT 1 FROM canon.identity_blocks b WHERE b.lifted_at IS NULL) AS any_blocks;

-- name: work_leads
-- The leads in work, by their place in it: raw fields, link and whether the
-- linked person has a driver.
SELECT w.ord, l.full_name, l.phone, l.license_number, l.plate, li.person_key,
       EXISTS (SELECT 1 FROM canon.identity_links d
                WHERE d.source_table = 'drivers' AND d.person_key = li.person_key) AS has_driver
  FROM pg_catalog.unnest($1::bigint[]) WITH ORDINALITY w(lead_id, ord)
  JOIN raw.module_ct_cabinet_leads l ON l.lead_id = w.lead_id
  LEFT JOIN canon.identity_links li
    ON li.source_table = 'module_ct_cabinet_leads' AND li.source_pk = w.lead_id::text;

-- name: work_lead_blocks
-- The persons each lead in work is blocked from (C0 rule 2).
SELECT w.ord, b.person_key
  FROM pg_catalog.unnest($1::bigint[]) WITH ORDINALITY w(lead_id, ord)
  JOIN canon.identity_blocks b
    ON b.source_table = 'module_ct_cabinet_leads' AND b.source_pk = w.lead_id::text
   AND b.lifted_at IS NULL;

-- name: driver_blocks
-- The drivers each of the persons $1 is blocked from.
SELECT b.person_key, b.source_pk AS driver_id
  FROM canon.identity_blocks b
 WHERE b.source_table = 'drivers' AND b.lifted_at IS NULL
   AND b.person_key = ANY ($1::bigint[]);

-- fragment: shares_a_key
-- Row r (a raw lead or a raw.drivers row) has one of the keys asked for:
-- the expressions of the key indexes, in their collation (schema/100_identity.sql
-- writes them too; scripts/check_shared_sql.pl keeps the two alike).
((ct4.normalize_phone(r.phone) COLLATE pg_catalog."C") = ANY ($1)
 OR (pg_catalog."left"(ct4.normalize_license(r.license_number), 64) COLLATE pg_catalog."C") = ANY ($2)
 OR (pg_catalog."left"(ct4.normalize_plate(r.plate), 64) COLLATE pg_catalog."C") = ANY ($3))

-- name: persons_by_keys
-- Every stored person linked to a raw lead that shares one of the keys, plus
-- the persons $4, each with the raw fields of every row linked to it: its
-- leads and its driver, each through its partial person index.
WITH p AS (
    SELECT li.person_key
      FROM raw.module_ct_cabinet_leads r
      JOIN canon.identity_links li
        ON li.source_table = 'module_ct_cabinet_leads' AND li.source_pk = r.lead_id::text
     WHERE {{shares_a_key}}
    UNION
    SELECT pg_catalog.unnest($4::bigint[]))
SELECT il.person_key, false AS is_driver, l.full_name, l.phone, l.license_number, l.plate
  FROM p
  JOIN canon.identity_links il
    ON il.source_table = 'module_ct_cabinet_leads' AND il.person_key = p.person_key
  LEFT JOIN raw.module_ct_cabinet_leads l ON l.lead_id::text = il.source_pk
UNION ALL
SELECT il.person_key, true, d.full_name, d.phone, d.license_number, d.plate
  FROM p
  JOIN canon.identity_links il ON il.source_table = 'drivers' AND il.person_key = p.person_key
  LEFT JOIN raw.drivers d ON d.driver_id = il.source_pk;

-- name: drivers_by_keys
-- The raw.drivers rows sharing one of the keys, with their person if linked.
SELECT r.driver_id, r.full_name, r.phone, r.license_number, r.plate, il.person_key
  FROM raw.drivers r
  LEFT JOIN canon.identity_links il ON il.source_table = 'drivers' AND il.source_pk = r.driver_id
 WHERE {{shares_a_key}};

-- ---- writing ----------------------------------------------------------------
-- The writes unnest their arrays in the select list (ProjectSet): rows
-- stream into the INSERT, where unnest in FROM would first copy every row
-- into a tuplestore (about 20 % of a 500 000-row insert).

-- name: insert_persons
-- The persons the run made ($2 of them), made by run $1.
INSERT INTO canon.persons (created_by_run)
SELECT $1 FROM pg_catalog.generate_series(1, $2)
RETURNING person_key;

-- name: upsert_unmatched
-- Today's unmatched rows, refreshed in place.
INSERT INTO canon.identity_unmatched AS x
       (source_table, source_pk, reason_code, details, snapshot_date, run_id)
SELECT 'module_ct_cabinet_leads', u.source_pk, u.reason_code, u.details, CURRENT_DATE, $1
  FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]),
                  pg_catalog.unnest($4::jsonb[])) AS u(source_pk, reason_code, details)
    ON CONFLICT (source_table, source_pk, snapshot_date) DO UPDATE
   SET reason_code = EXCLUDED.reason_code, details = EXCLUDED.details, run_id = EXCLUDED.run_id
 WHERE (x.reason_code, x.details) IS DISTINCT FROM (EXCLUDED.reason_code, EXCLUDED.details);

-- name: clear_unmatched
-- Today's unmatched rows of leads that no longer have an unmatched outcome.
DELETE FROM canon.identity_unmatched x
 WHERE x.source_table = 'module_ct_cabinet_leads'
   AND x.snapshot_date = CURRENT_DATE AND x.source_pk = ANY ($1);

-- name: delete_done_states
-- The state rows of the leads that are done, over the version the run read.
DELETE FROM canon.identity_lead_state s
 USING (SELECT pg_catalog.unnest($1::bigint[]) AS lead_id,
               pg_catalog.unnest($2::bigint[]) AS version) d
 WHERE s.lead_id = d.lead_id AND s.version = d.version;

-- name: delete_states_of_driver_persons
-- Every lead of the persons $1 (which got their driver now) is done.
DELETE FROM canon.identity_lead_state s
 USING pg_catalog.unnest($1::bigint[]) AS p(person_key)
  JOIN canon.identity_links il
    ON il.person_key = p.person_key AND il.source_table = 'module_ct_cabinet_leads'
 WHERE s.lead_id = il.source_pk::bigint;

-- name: pending_outside_work
SELECT EXISTS (SELECT 1 FROM canon.identity_lead_state s
                WHERE NOT s.lead_id = ANY ($1::bigint[])) AS any_pending;

-- name: bulk_rows
SELECT ct4._identity_bulk_rows() AS bulk_rows;

-- name: bump_epoch
INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)
    ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1
RETURNING e.epoch;

-- name: update_states
-- The outcome of every lead in work that is not done, over the version the run read.
UPDATE canon.identity_lead_state s
   SET stage = u.stage, outcome = u.outcome, changed = false, inputs_changed = false,
       checked_run = $1, checked_epoch = $2
  FROM (SELECT pg_catalog.unnest($3::bigint[]) AS lead_id,
               pg_catalog.unnest($4::bigint[]) AS version,
               pg_catalog.unnest($5::text[]) AS stage,
               pg_catalog.unnest($6::text[]) AS outcome) u
 WHERE s.lead_id = u.lead_id AND s.version = u.version;

-- name: insert_links
INSERT INTO canon.identity_links
       (source_table, source_pk, person_key, match_rule, match_score, evidence, linked_at, run_id)
SELECT u.source_table, u.source_pk, u.person_key, u.match_rule, u.match_score::real, u.evidence,
       pg_catalog.now(), $1
  FROM (SELECT pg_catalog.unnest($2::text[]) AS source_table,
               pg_catalog.unnest($3::text[]) AS source_pk,
               pg_catalog.unnest($4::bigint[]) AS person_key,
               pg_catalog.unnest($5::text[]) AS match_rule,
               pg_catalog.unnest($6::text[]) AS match_score,
               pg_catalog.unnest($7::jsonb[]) AS evidence) u;

-- name: mark_inputs
SELECT ct4._identity_mark_inputs($1, $2, $3, $4, $5);
