-- Which leads a run takes (SPEC 4.1, amended): due leads only, the new or
-- changed ones first, the pending ones whose inputs changed next (least
-- recently decided first, at least a quarter of row_limit when both wait).
-- On demo data whose pending backlog after a full run is larger than the
-- default row_limit: a default run links a new lead whatever the backlog,
-- every due pending lead is decided again within ceil(pending / row_limit)
-- runs, and a run over an unchanged backlog decides and reads nothing.
\set n 10000
\set seed 5
BEGIN;
SELECT plan(22);
SET LOCAL client_min_messages = warning;
SELECT lead_rows FROM ct4.generate_demo_data(:n, :seed) \g /dev/null
CREATE TEMP TABLE full_run AS SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000);
SELECT is((SELECT processed FROM full_run), :n, 'a full run decides every lead');
CREATE TEMP TABLE pending AS SELECT lead_id FROM canon.identity_lead_state;
SELECT cmp_ok((SELECT count(*) FROM pending), '>', 2000::bigint,
              'the pending backlog is larger than the default row_limit');

-- 1. Everything pending is due again (a settings change moves the epoch),
-- and a new sign-up of a known driver arrives: the default call links it.
UPDATE ct4.settings SET value = value WHERE name = 'link_threshold';
CREATE TEMP TABLE known AS
SELECT dl.person_key, d.full_name, d.phone, d.license_number
  FROM canon.identity_links dl JOIN raw.drivers d ON d.driver_id = dl.source_pk
 WHERE dl.source_table = 'drivers' AND d.phone IS NOT NULL AND d.license_number IS NOT NULL
   AND d.full_name IS NOT NULL
 ORDER BY dl.person_key LIMIT 1;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number)
SELECT 9000001, current_date, upper(full_name), '+51 ' || right(ct4.normalize_phone(phone), 9),
       lower(license_number) FROM known;
CREATE TEMP TABLE r1 AS SELECT * FROM ct4.reconcile_leads_pipeline();
SELECT is((SELECT processed FROM r1), 2000, 'the default call takes row_limit due leads');
SELECT is((SELECT person_key FROM canon.identity_links
            WHERE source_table = 'module_ct_cabinet_leads' AND source_pk = '9000001'),
          (SELECT person_key FROM known), 'and links the new sign-up to its person');
SELECT ok((SELECT newly_linked >= 1 FROM r1), 'newly_linked counts it');

-- 2. Rotation: with row_limit r every due pending lead is decided within
-- ceil(due / r) runs, least recently decided first.
CREATE TEMP TABLE due AS
SELECT s.lead_id FROM canon.identity_lead_state s
 WHERE s.changed OR s.inputs_changed OR s.checked_epoch < (SELECT epoch FROM canon.identity_epoch);
CREATE TEMP TABLE runs (k integer, run_id bigint, processed integer);
DO $$
DECLARE
    r integer := 700;
    k integer;
BEGIN
    FOR k IN 1 .. ceil((SELECT count(*) FROM due) / r::numeric) LOOP
        INSERT INTO runs SELECT k, p.run_id, p.processed FROM ct4.reconcile_leads_pipeline(row_limit => r) p;
    END LOOP;
END $$;
SELECT is((SELECT count(*) FROM canon.identity_lead_state s
            WHERE s.changed OR s.inputs_changed OR s.checked_epoch < (SELECT epoch FROM canon.identity_epoch)),
          0::bigint, 'after ceil(due / row_limit) runs no pending lead is due');
SELECT is((SELECT sum(processed) FROM runs)::bigint, (SELECT count(*) FROM due),
          'the runs decided each due lead once');
SELECT is((SELECT count(*) FROM runs WHERE processed <> 700 AND k < (SELECT max(k) FROM runs)), 0::bigint,
          'each run but the last took row_limit leads');
-- All of them were decided by the same run before, so each run takes the
-- oldest by lead order.
CREATE TEMP TABLE taken AS
SELECT runs.k, coalesce(l.lead_date, 'infinity') AS d, l.lead_id
  FROM canon.identity_lead_state s JOIN runs ON runs.run_id = s.checked_run
  JOIN raw.module_ct_cabinet_leads l USING (lead_id);
SELECT is((SELECT count(*) FROM taken a JOIN taken b ON b.k = a.k + 1 AND (b.d, b.lead_id) < (a.d, a.lead_id)),
          0::bigint, 'least recently decided first: each run took the leads before the next one''s');

-- 3. An unchanged backlog: a run decides nothing and reads no raw lead.
CREATE TEMP TABLE reads AS
SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
  FROM pg_stat_xact_user_tables WHERE relid = 'raw.module_ct_cabinet_leads'::regclass;
SELECT results_eq('SELECT processed, newly_linked, newly_driver_mapped, still_no_candidates, conflicts FROM ct4.reconcile_leads_pipeline()',
                  $$VALUES (0, 0, 0, 0, 0)$$, 'a default run over the unchanged backlog decides nothing');
SELECT is((SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
            WHERE relid = 'raw.module_ct_cabinet_leads'::regclass), (SELECT n FROM reads),
          'and reads no raw lead');
SELECT is((SELECT processed FROM ct4.reconcile_leads_pipeline(36500, 100000000)), 0,
          'nor does a run without limits');

-- 4. New sign-ups flood in while pending leads are due: the pending ones
-- keep a quarter of row_limit, oldest decided first.
UPDATE ct4.settings SET value = value WHERE name = 'link_threshold';
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, license_number)
SELECT 9100000 + i, current_date, 'Persona Nueva', 'ZZN' || lpad(i::text, 5, '0') FROM generate_series(1, 500) i;
CREATE TEMP TABLE flood AS SELECT * FROM ct4.reconcile_leads_pipeline(row_limit => 100);
SELECT is((SELECT count(*) FROM canon.identity_links WHERE source_table = 'module_ct_cabinet_leads'
              AND source_pk::bigint > 9100000 AND run_id = (SELECT run_id FROM flood)), 75::bigint,
          'three quarters of row_limit go to the new sign-ups, oldest first');
SELECT is((SELECT count(*) FROM canon.identity_lead_state
            WHERE checked_run = (SELECT run_id FROM flood) AND lead_id < 9100000),
          25::bigint, 'a quarter to the pending leads');
SELECT is((SELECT max(lead_id) FROM canon.identity_links l, LATERAL (SELECT l.source_pk::bigint AS lead_id) x
            WHERE l.source_table = 'module_ct_cabinet_leads' AND l.run_id = (SELECT run_id FROM flood)),
          9100075::bigint, 'the new ones in lead order');

-- 5. TRIPS_NO_CLAIM leads (linked with a driver, no claim filed yet) are done
-- for this job: they take no place; a changed one is decided and stays linked.
CREATE TEMP TABLE tnc AS
SELECT v.lead_id FROM ops.v_cabinet_leads_limbo v WHERE v.limbo_stage = 'TRIPS_NO_CLAIM' ORDER BY v.lead_id LIMIT 1;
SELECT is((SELECT count(*) FROM tnc), 1::bigint, 'the demo data has TRIPS_NO_CLAIM leads');
SELECT lives_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000)$$, 'the backlog is decided');
SELECT is((SELECT processed FROM ct4.reconcile_leads_pipeline(30, 100000000, false, true, '{TRIPS_NO_CLAIM}')), 0,
          'limbo TRIPS_NO_CLAIM: an unchanged lead takes no place');
UPDATE raw.module_ct_cabinet_leads SET full_name = full_name || ' ' WHERE lead_id = (SELECT lead_id FROM tnc);
SELECT results_eq('SELECT processed, newly_linked FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 0)$$,
                  'a changed TRIPS_NO_CLAIM lead is decided (counted) and nothing is linked');
SELECT is((SELECT count(*) FROM canon.identity_lead_state WHERE lead_id = (SELECT lead_id FROM tnc)), 0::bigint,
          'it is done again (no state row)');

-- 6. Every NO_DRIVER lead says why (SPEC 4.1: DRIVER_NO_CANDIDATES when no
-- driver shares a key with its person): an identity_unmatched row, and for
-- DRIVER_NO_CANDIDATES no raw driver shares a key with what it searched.
SELECT is((SELECT count(*) FROM canon.identity_lead_state s
            WHERE s.stage = 'NO_DRIVER'
              AND NOT EXISTS (SELECT 1 FROM canon.identity_unmatched u
                               WHERE u.source_pk = s.lead_id::text AND u.reason_code LIKE 'DRIVER_%'
                                 AND u.reason_code = s.outcome)), 0::bigint,
          'every NO_DRIVER lead has an unmatched row with its DRIVER_* reason');
SELECT is((SELECT count(*) FROM canon.identity_unmatched u
            WHERE u.reason_code = 'DRIVER_NO_CANDIDATES'
              AND (u.details->>'reason' IS NULL
                   OR EXISTS (SELECT 1 FROM raw.drivers d
                               WHERE ct4.normalize_phone(d.phone) IN (SELECT jsonb_array_elements_text(u.details->'searched'->'phones'))
                                  OR left(ct4.normalize_license(d.license_number), 64) IN (SELECT jsonb_array_elements_text(u.details->'searched'->'licenses'))
                                  OR left(ct4.normalize_plate(d.plate), 64) IN (SELECT jsonb_array_elements_text(u.details->'searched'->'plates'))))),
          0::bigint, 'DRIVER_NO_CANDIDATES rows give a reason, and truly no driver shares a searched key');
SELECT * FROM finish();
ROLLBACK;
