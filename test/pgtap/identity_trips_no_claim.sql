-- The job's TRIPS_NO_CLAIM scope (ct4._identity_trips_no_claim, evaluated per
-- lead through the trips primary key) against ops.v_cabinet_leads_limbo, on
-- demo data linked by the ground-truth fixture (a third of the gaps filed).
\set n 3000
\set seed 5
BEGIN;
SELECT plan(16);
SELECT lead_rows FROM ct4.generate_demo_data(:n, :seed) \g /dev/null
\i test/fixtures/demo_ground_truth_links.sql

CREATE TEMP VIEW tnc AS
SELECT v.lead_id, v.lead_date FROM ops.v_cabinet_leads_limbo v WHERE v.limbo_stage = 'TRIPS_NO_CLAIM';
CREATE TEMP TABLE mid AS
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY lead_date) AS d,
       (percentile_disc(0.5) WITHIN GROUP (ORDER BY lead_id))::bigint AS id FROM tnc;

SELECT cmp_ok((SELECT count(*) FROM tnc), '>', 20::bigint, 'the demo data has TRIPS_NO_CLAIM leads');
SELECT results_eq('SELECT * FROM ct4._identity_trips_no_claim(NULL, NULL, NULL, 100000000)',
                  'SELECT * FROM tnc ORDER BY lead_date, lead_id',
                  'every TRIPS_NO_CLAIM lead of the view, in lead order');
SELECT results_eq('SELECT * FROM ct4._identity_trips_no_claim((SELECT d FROM mid), NULL, NULL, 100000000)',
                  'SELECT * FROM tnc WHERE lead_date < (SELECT d FROM mid) ORDER BY lead_date, lead_id',
                  'dated before a day');
SELECT results_eq('SELECT * FROM ct4._identity_trips_no_claim(NULL, (SELECT d FROM mid), (SELECT id FROM mid), 7)',
                  'SELECT t.* FROM tnc t, mid WHERE (t.lead_date, t.lead_id) < (mid.d, mid.id)
                    ORDER BY t.lead_date, t.lead_id LIMIT 7',
                  'before a (lead_date, lead_id) bound, first max_rows');

-- Claims and milestones move leads in and out of the stage.
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, created_at, run_id)
SELECT g.driver_id, g.person_key, g.lead_id, g.lead_date, g.milestone_value, g.amount, g.trips_in_window,
       g.achieved_date, g.window_end, '{}', now(), 0
  FROM ops.v_cabinet_claims_gap_14d g
 WHERE g.gap_reason = 'MILESTONE_ACHIEVED_NO_CLAIM' AND g.lead_id % 2 = 0;
UPDATE ct4.milestones SET trips_required = trips_required + 3 WHERE milestone_value = 5;
SELECT results_eq('SELECT * FROM ct4._identity_trips_no_claim(NULL, NULL, NULL, 100000000)',
                  'SELECT * FROM tnc ORDER BY lead_date, lead_id',
                  'still equal after filing claims and editing a milestone');
UPDATE ct4.settings SET value = '7' WHERE name = 'window_days';
SELECT results_eq('SELECT * FROM ct4._identity_trips_no_claim(NULL, NULL, NULL, 100000000)',
                  'SELECT * FROM tnc ORDER BY lead_date, lead_id',
                  'still equal with another window_days');

-- The job's scope: TRIPS_NO_CLAIM leads only count as processed.
SELECT is((SELECT processed FROM ct4.reconcile_leads_pipeline(30, 100000000, false, true, '{TRIPS_NO_CLAIM}', true)),
          (SELECT count(*)::integer FROM tnc), 'process_limbo TRIPS_NO_CLAIM: processed = the view''s count');
SELECT is((SELECT processed FROM ct4.reconcile_leads_pipeline(30, 5, false, true, '{TRIPS_NO_CLAIM}', true)),
          5, 'and at most row_limit');
-- Recent leads, then older limbo leads (pending identity state or the view's
-- TRIPS_NO_CLAIM), then NULL-dated pending ones: the count SPEC 4.1 gives.
SELECT is((SELECT processed FROM ct4.reconcile_leads_pipeline(10, 100000000, true, true,
                                                              '{NO_DRIVER,TRIPS_NO_CLAIM}', true)),
          (SELECT count(*)::integer FROM (
               SELECT l.lead_id FROM raw.module_ct_cabinet_leads l WHERE l.lead_date >= current_date - 10
               UNION
               SELECT s.lead_id FROM canon.identity_lead_state s WHERE s.stage = 'NO_DRIVER'
               UNION
               SELECT t.lead_id FROM tnc t) x),
          'recent leads plus limbo leads, each once');

-- Which leads a cut scope takes: after a full run, the pending leads are the
-- NO_IDENTITY ones; a settings change makes them due again, and a run over
-- the limbo stages {NO_IDENTITY, TRIPS_NO_CLAIM} with a row_limit that cuts
-- their union re-checks exactly the NO_IDENTITY leads among its first rows.
SELECT lives_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000)$$, 'a full run');
UPDATE ct4.settings SET value = value WHERE name = 'window_days';
CREATE TEMP TABLE cut AS
SELECT x.lead_id, x.pending FROM (
    SELECT s.lead_id, s.lead_date, true AS pending FROM canon.identity_lead_state s
     WHERE s.stage IN ('NEW', 'NO_IDENTITY')
    UNION
    SELECT t.lead_id, t.lead_date, false FROM tnc t) x
 ORDER BY x.lead_date NULLS LAST, x.lead_id
 LIMIT (SELECT count(*) / 2 FROM tnc) + (SELECT count(*) / 2 FROM canon.identity_lead_state
                                          WHERE stage IN ('NEW', 'NO_IDENTITY'));
SELECT cmp_ok((SELECT count(*) FROM cut WHERE pending), '>', 0::bigint, 'the cut holds pending leads');
SELECT cmp_ok((SELECT count(*) FROM cut WHERE NOT pending), '>', 0::bigint, 'and TRIPS_NO_CLAIM leads');
SELECT is(processed, (SELECT count(*)::integer FROM cut), 'the run takes row_limit leads')
  FROM ct4.reconcile_leads_pipeline(30, (SELECT count(*)::integer FROM cut), false, true,
                                    '{NO_IDENTITY,TRIPS_NO_CLAIM}');
SELECT set_eq($$SELECT s.lead_id FROM canon.identity_lead_state s
                 WHERE s.checked_epoch = (SELECT e.epoch FROM canon.identity_epoch e)$$,
              $$SELECT lead_id FROM cut WHERE pending$$,
              'it re-checked exactly the pending leads among the first row_limit of the union');
-- A row_limit below the number of pending leads: TRIPS_NO_CLAIM leads are
-- looked for only before the last pending lead that fits.
UPDATE ct4.settings SET value = value WHERE name = 'window_days';
CREATE TEMP TABLE cut2 AS
SELECT x.lead_id, x.pending FROM (
    SELECT s.lead_id, s.lead_date, true AS pending FROM canon.identity_lead_state s
     WHERE s.stage IN ('NEW', 'NO_IDENTITY')
    UNION
    SELECT t.lead_id, t.lead_date, false FROM tnc t) x
 ORDER BY x.lead_date NULLS LAST, x.lead_id
 LIMIT (SELECT count(*) / 3 FROM canon.identity_lead_state WHERE stage IN ('NEW', 'NO_IDENTITY'));
SELECT is(processed, (SELECT count(*)::integer FROM cut2), 'a small row_limit: the run takes row_limit leads')
  FROM ct4.reconcile_leads_pipeline(30, (SELECT count(*)::integer FROM cut2), false, true,
                                    '{NO_IDENTITY,TRIPS_NO_CLAIM}');
SELECT set_eq($$SELECT s.lead_id FROM canon.identity_lead_state s
                 WHERE s.checked_epoch = (SELECT e.epoch FROM canon.identity_epoch e)$$,
              $$SELECT lead_id FROM cut2 WHERE pending$$,
              'and re-checks the pending leads among them');
SELECT * FROM finish();
ROLLBACK;
