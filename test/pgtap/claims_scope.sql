-- Which gaps a run of ct4.reconcile_claims_14d takes (SPEC 4.3 amended,
-- docs/claims.md "Which gaps a run takes"): the gaps that can be filed come
-- first, oldest first; an INVALID gap already reported whose inputs did not
-- change takes no place in row_limit and is counted once; the seeds' default
-- call (21, 1000) files a newly reachable milestone whatever the backlog of
-- invalid gaps; ct4.claims_gap_report still lists the oldest gaps in scope.
BEGIN;
SELECT plan(25);
SET LOCAL client_min_messages = warning;

-- Backlog: 1 500 sign-ups of the last 21 days that no identity run linked
-- (NO_IDENTITY gaps, days -20..-11), older than every fileable gap.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
SELECT i, current_date - 20 + (i % 10) FROM generate_series(1, 1500) i;
-- Five drivers d1..d5, each with a lead on day -5 and one trip that day
-- (milestone 1): leads 2001..2005. Person 6 has a driver d6 with trips but
-- its lead 2006 (day -6) is not linked yet.
INSERT INTO raw.drivers (driver_id) SELECT 'd' || i FROM generate_series(1, 6) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 6) i;
INSERT INTO canon.identity_links
SELECT 'drivers', 'd' || i, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 6) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
SELECT 2000 + i, current_date - 5 FROM generate_series(1, 5) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES (2006, current_date - 6);
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', (2000 + i)::text, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 5) i;
INSERT INTO raw.summary_daily SELECT 'd' || i, current_date - 5, 1 FROM generate_series(1, 5) i;
INSERT INTO raw.summary_daily VALUES ('d6', current_date - 6, 1);

CREATE TEMP TABLE runs AS SELECT * FROM ct4.reconcile_claims_14d(21, 1000, dry_run => true) LIMIT 0;
CREATE FUNCTION pg_temp.run(lim integer DEFAULT 1000, gaps_only boolean DEFAULT true) RETURNS SETOF runs
LANGUAGE sql AS $$
    INSERT INTO runs SELECT * FROM ct4.reconcile_claims_14d(21, lim, gaps_only) RETURNING *;
$$;

-- 1. The report lists the oldest row_limit gaps: the invalid backlog.
SELECT is((SELECT count(*) FROM ct4.claims_gap_report(21, 1000) WHERE decision = 'INVALID'), 1000::bigint,
          'the report''s oldest 1000 gaps are the invalid backlog');
SELECT is((SELECT count(*) FROM ct4.claims_gap_report(21, 1000) WHERE decision = 'CREATE'), 0::bigint,
          'and no fileable gap is among them');
-- 2. The default call files the five milestones first, then reports as many
-- invalid gaps, oldest first, as the rest of row_limit holds.
SELECT results_eq('SELECT claims_created, invalid_conditions, gaps_found, processed FROM pg_temp.run()',
                  $$VALUES (5, 995, 1000, 1000)$$,
                  'the default run files the 5 claims whatever the backlog, and reports 995 invalid gaps');
SELECT is((SELECT count(*) FROM ops.claims_invalid_leads WHERE reported), 995::bigint,
          'the 995 it counted are remembered as reported');
SELECT is((SELECT max(l.lead_date) FROM raw.module_ct_cabinet_leads l
            JOIN ops.claims_invalid_leads i USING (lead_id) WHERE i.reported)
          <= (SELECT min(l.lead_date) FROM raw.module_ct_cabinet_leads l
               JOIN ops.claims_invalid_leads i USING (lead_id) WHERE NOT i.reported), true,
          'the reported ones are the oldest');
-- 3. The next runs count each invalid gap once.
SELECT results_eq('SELECT claims_created, invalid_conditions, processed FROM pg_temp.run()',
                  $$VALUES (0, 506, 511)$$, 'the next run counts the 506 not reported yet (lead 2006 too), and the 5 claims');
SELECT results_eq('SELECT claims_created, invalid_conditions, gaps_found, processed FROM pg_temp.run()',
                  $$VALUES (0, 0, 0, 5)$$, 'then an unchanged backlog is counted no more: only the existing claims');
SELECT is((SELECT sum(invalid_conditions)::integer FROM runs), 1501,
          'over the runs every invalid gap was counted exactly once');
SELECT is((SELECT count(*) FROM ct4.claims_gap_report(21, 1000) WHERE decision = 'INVALID'), 1000::bigint,
          'the report still lists the oldest invalid gaps, reported or not');

-- 4. A milestone reached yesterday is filed by the next default run.
INSERT INTO raw.summary_daily VALUES ('d1', current_date - 1, 4);
SELECT results_eq('SELECT claims_created, invalid_conditions, claims_should_exist FROM pg_temp.run()',
                  $$VALUES (1, 0, 1)$$, 'one default run files d1''s milestone 5, nothing else counted');
SELECT is((SELECT lead_id FROM ops.cabinet_claims_14d WHERE driver_id = 'd1' AND milestone_value = 5), 2001::bigint,
          'for lead 2001');
-- A lead of the backlog gets linked: it becomes fileable and is filed.
INSERT INTO canon.identity_links VALUES ('module_ct_cabinet_leads', '2006', 6, 'TEST', NULL, '{}', now(), 0);
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run()', $$VALUES (1, 0)$$,
                  'a backlog lead linked later is filed by the next run');

-- 5. Small limits: three new milestones and ten changed invalid leads.
INSERT INTO raw.summary_daily SELECT 'd' || i, current_date - 2, 4 FROM generate_series(2, 4) i;
UPDATE raw.module_ct_cabinet_leads SET full_name = 'changed' WHERE lead_id BETWEEN 1 AND 10;
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run(2)', $$VALUES (2, 0)$$,
                  'row_limit 2: the two oldest fileable gaps take both places');
SELECT is((SELECT string_agg(driver_id, ',' ORDER BY driver_id) FROM ops.cabinet_claims_14d
            WHERE milestone_value = 5 AND driver_id <> 'd1'), 'd2,d3', 'oldest first (lead_date, lead_id)');
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run(2)', $$VALUES (1, 1)$$,
                  'then the last fileable one and one changed invalid lead');
DELETE FROM runs;
SELECT lives_ok($$SELECT pg_temp.run(2) FROM generate_series(1, 4)$$, 'four more runs of row_limit 2');
SELECT results_eq('SELECT invalid_conditions FROM runs', $$VALUES (2), (2), (2), (2)$$,
                  'the changed invalid leads are re-reported within ceil(10 / 2) runs');
SELECT results_eq('SELECT invalid_conditions, gaps_found FROM pg_temp.run(2)', $$VALUES (1, 1)$$,
                  'the last of them; a changed lead is counted again once');
SELECT results_eq('SELECT invalid_conditions, gaps_found FROM pg_temp.run(2)', $$VALUES (0, 0)$$,
                  'and then nothing');

-- 6. only_gaps = false re-verifies from the raw tables and counts every
-- invalid gap in its limit, but the fileable gaps still come first.
INSERT INTO raw.summary_daily VALUES ('d5', current_date - 2, 4);
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run(1, false)', $$VALUES (1, 0)$$,
                  're-verification with row_limit 1 files the new milestone first');
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run(3, false)', $$VALUES (0, 3)$$,
                  'and counts the oldest invalid gaps in the rest of its limit');

-- 7. A corrected ledger is a changed input: a CLAIMED_UNDER_LATER_LEAD gap is
-- reported again after the ledger rows of its driver are updated.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES (2007, current_date - 7);
INSERT INTO canon.identity_links VALUES ('module_ct_cabinet_leads', '2007', 2, 'TEST', NULL, '{}', now(), 0);
INSERT INTO raw.summary_daily VALUES ('d2', current_date - 7, 1);
-- d2's milestones 1 and 5 are claimed under lead 2002 although lead 2007
-- (earlier) reaches them now.
SELECT results_eq('SELECT invalid_conditions, claims_created FROM pg_temp.run()', $$VALUES (2, 0)$$,
                  'two CLAIMED_UNDER_LATER_LEAD gaps are counted');
SELECT is((SELECT reported FROM ops.claims_driver_state WHERE driver_id = 'd2'), '{2007,1,2007,5}'::bigint[],
          'and remembered with their driver');
SELECT is((SELECT invalid_conditions FROM pg_temp.run()), 0, 'not counted by the next run');
UPDATE ops.cabinet_claims_14d SET amount = amount WHERE driver_id = 'd2' AND milestone_value = 1;
SELECT is((SELECT invalid_conditions FROM pg_temp.run()), 2, 'counted again after its ledger rows were edited');

SELECT * FROM finish();
ROLLBACK;
