-- The claims job's incremental state (schema/210_claims_cache.sql): a no-op
-- run recomputes and files nothing, a change recomputes exactly the drivers
-- it touches, window_days / milestones changes drop the cache, a later-linked
-- lead is picked up, dry runs leave the cache alone, and the cached decisions
-- equal the ones computed from the raw tables.
BEGIN;
SELECT plan(37);
SET LOCAL client_min_messages = warning;

-- Fixture (days relative to current_date, days_back 21 covers them all):
--   lead 1 (-20, d1): 1 trip a day -20..-16 (milestones 1, 5) and 20 trips
--                     on day -6, one day past the 14-day window
--   lead 2 (-10, d2): 4 trips on day -9 (milestone 1)
--   lead 3 (-5, d3):  3 trips on day -5 (milestone 1)
--   lead 4 (-3, d4):  no trips
--   lead 5 (-2):      person 5 has no driver         -> NO_DRIVER
--   lead 6 (NULL):    person 1                      -> LEAD_DATE_NULL
--   lead 7 (-1):      not linked yet; d5 (not linked yet) has 2 trips on day -1
INSERT INTO raw.drivers (driver_id) SELECT 'd' || i FROM generate_series(1, 5) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 6) i;
INSERT INTO canon.identity_links
SELECT 'drivers', 'd' || i, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 4) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES
    (1, current_date - 20), (2, current_date - 10), (3, current_date - 5), (4, current_date - 3),
    (5, current_date - 2), (6, NULL), (7, current_date - 1);
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', l::text, p, 'TEST', NULL, '{}', now(), 0
  FROM (VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 1)) v(l, p);
INSERT INTO raw.summary_daily SELECT 'd1', current_date - 20 + k, 1 FROM generate_series(0, 4) k;
INSERT INTO raw.summary_daily VALUES
    ('d1', current_date - 6, 20), ('d2', current_date - 9, 4), ('d3', current_date - 5, 3),
    ('d5', current_date - 1, 2);

CREATE TEMP TABLE run AS SELECT * FROM ct4.reconcile_claims_14d(21, 1000) LIMIT 0;
CREATE FUNCTION pg_temp.run_job(dry boolean DEFAULT false) RETURNS SETOF run LANGUAGE sql AS $$
    DELETE FROM run;
    INSERT INTO run SELECT * FROM ct4.reconcile_claims_14d(21, 1000, dry_run => dry);
    SELECT * FROM run;
$$;
-- Where every cached row sits: an UPDATE writes a new row version (new ctid).
CREATE FUNCTION pg_temp.state_ctids() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(driver_id || '@' || ctid::text, ' ' ORDER BY driver_id)
      FROM ops.claims_driver_state
$$;
CREATE FUNCTION pg_temp.invalid_ctids() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(lead_id || '@' || ctid::text, ' ' ORDER BY lead_id)
      FROM ops.claims_invalid_leads
$$;
CREATE FUNCTION pg_temp.claims() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(driver_id || ':' || milestone_value || '/' || lead_id, ' '
                      ORDER BY driver_id, milestone_value)
      FROM ops.cabinet_claims_14d
$$;

-- 1. First run: builds the cache for the scope.
SELECT results_eq('SELECT processed, claims_created, invalid_conditions FROM pg_temp.run_job()',
                  $$VALUES (7, 4, 3)$$, 'first run: 4 claims, 3 invalid leads');
SELECT is(pg_temp.claims(), 'd1:1/1 d1:5/1 d2:1/2 d3:1/3', 'the claims of the fixture');
SELECT is((SELECT string_agg(driver_id, ',' ORDER BY driver_id) FROM ops.claims_driver_state),
          'd1,d2,d3,d4', 'a cached state per driver with a lead in scope');
SELECT is((SELECT string_agg(lead_id::text, ',' ORDER BY lead_id) FROM ops.claims_invalid_leads),
          '5,6,7', 'the invalid leads are cached');
SELECT is((SELECT window_days || ' ' || milestones || ' ' || (covered_from = current_date - 21)
             FROM ops.claims_cache_meta), '14 1:1,5:5,25:25 true', 'meta: window, milestones, coverage');
SELECT is((SELECT claims FROM ops.claims_driver_state WHERE driver_id = 'd1'),
          (SELECT array_agg(x ORDER BY claim_id, o) FROM ops.cabinet_claims_14d c,
                  unnest(ARRAY[c.claim_id, c.milestone_value, c.lead_id, c.lead_date - DATE '2000-01-01'])
                  WITH ORDINALITY u(x, o) WHERE c.driver_id = 'd1'),
          'the cached claims include the claims just filed');
SELECT is((SELECT count(*) FROM ops.claims_dirty_drivers) + (SELECT count(*) FROM ops.claims_dirty_leads),
          0::bigint, 'no dirty mark left after the run');

-- 2. No-op run: same decisions, nothing filed, nothing rewritten.
CREATE TEMP TABLE before AS SELECT pg_temp.state_ctids() AS s, pg_temp.invalid_ctids() AS i;
SELECT results_eq('SELECT processed, claims_already_exist, claims_created, invalid_conditions FROM pg_temp.run_job()',
                  $$VALUES (4, 4, 0, 0)$$,
                  'no-op run: the same claims exist, the invalid leads already reported are not counted again, nothing filed');
SELECT is((SELECT string_agg(lead_id || ':' || reported, ',' ORDER BY lead_id) FROM ops.claims_invalid_leads),
          '5:true,6:true,7:true', 'the cached invalid leads say they were reported');
SELECT is(pg_temp.state_ctids(), (SELECT s FROM before), 'no-op run rewrites no driver state');
SELECT is(pg_temp.invalid_ctids(), (SELECT i FROM before), 'no-op run rewrites no invalid lead');

-- 3. A new trip for one driver: exactly that driver is marked, recomputed and filed.
INSERT INTO raw.summary_daily VALUES ('d2', current_date - 8, 1);
SELECT is((SELECT string_agg(driver_id, ',') FROM ops.claims_dirty_drivers), 'd2',
          'a trip marks its driver dirty');
DELETE FROM before;
INSERT INTO before SELECT pg_temp.state_ctids(), pg_temp.invalid_ctids();
-- A dry run decides it but writes nothing to the cache.
SELECT results_eq('SELECT claims_should_exist, claims_created FROM pg_temp.run_job(true)',
                  $$VALUES (1, 0)$$, 'dry run finds the new gap');
SELECT is((SELECT string_agg(driver_id, ',') FROM ops.claims_dirty_drivers), 'd2',
          'dry run keeps the dirty mark');
SELECT is(pg_temp.state_ctids(), (SELECT s FROM before), 'dry run writes no driver state');
SELECT results_eq('SELECT claims_created FROM pg_temp.run_job()', $$VALUES (1)$$,
                  'the next run files the new gap');
SELECT is(pg_temp.claims(), 'd1:1/1 d1:5/1 d2:1/2 d2:5/2 d3:1/3', 'd2 reached milestone 5 with lead 2');
SELECT is((SELECT string_agg(a.driver_id, ',' ORDER BY a.driver_id)
             FROM (SELECT split_part(x, '@', 1) AS driver_id, x FROM unnest(string_to_array(pg_temp.state_ctids(), ' ')) x) a
            WHERE a.x <> ALL (string_to_array((SELECT s FROM before), ' '))),
          'd2', 'only the state of d2 was rewritten');
SELECT is((SELECT count(*) FROM ops.claims_dirty_drivers), 0::bigint, 'the mark is gone');

-- 4. A later-linked lead (and its driver) is picked up.
INSERT INTO canon.identity_links VALUES
    ('drivers', 'd5', 6, 'TEST', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '7', 6, 'TEST', NULL, '{}', now(), 0);
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run_job()',
                  $$VALUES (1, 0)$$, 'the later-linked lead is filed and no longer NO_IDENTITY (5 and 6: reported before)');
SELECT is(pg_temp.claims(), 'd1:1/1 d1:5/1 d2:1/2 d2:5/2 d3:1/3 d5:1/7', 'd5 claimed milestone 1 for lead 7');
SELECT is((SELECT string_agg(lead_id::text, ',' ORDER BY lead_id) FROM ops.claims_invalid_leads),
          '5,6', 'lead 7 left the cached invalid leads');

-- 5. window_days changes: the cache is dropped and rebuilt with the new window.
UPDATE ct4.settings SET value = '15' WHERE name = 'window_days';
SELECT is((SELECT count(*) FROM ops.claims_cache_meta), 0::bigint, 'a settings change drops the cache');
SELECT results_eq('SELECT claims_created FROM pg_temp.run_job()', $$VALUES (1)$$,
                  'with a 15-day window day 14 counts: one more claim');
SELECT is((SELECT string_agg(driver_id || ':' || milestone_value, ' ') FROM ops.cabinet_claims_14d
            WHERE milestone_value = 25), 'd1:25', 'd1 reached 25 on the 15th day');
SELECT is((SELECT window_days FROM ops.claims_cache_meta), 15, 'the cache is rebuilt for window_days 15');

-- 6. A new milestone: the cache is dropped and the milestone filed.
INSERT INTO ct4.milestones VALUES (3, 3, 30.00);
SELECT is((SELECT count(*) FROM ops.claims_cache_meta), 0::bigint, 'a milestones change drops the cache');
SELECT results_eq('SELECT claims_created FROM pg_temp.run_job()', $$VALUES (3)$$,
                  'milestone 3 filed for d1, d2 and d3 (d5 has 2 trips)');

-- 7. Cached decisions equal the raw ones (a dry run without cache takes the raw path).
INSERT INTO raw.summary_daily VALUES ('d4', current_date - 3, 1);
CREATE TEMP TABLE cached AS SELECT * FROM pg_temp.run_job(true);
DELETE FROM ops.claims_cache_meta;
CREATE TEMP TABLE raw_path AS SELECT * FROM pg_temp.run_job(true);
-- The raw path knows nothing of earlier reports: it counts every invalid
-- lead, the cached path only the ones not reported yet (none here).
SELECT results_eq(
    'SELECT claims_should_exist, claims_already_exist, processed - invalid_conditions, invalid_conditions FROM raw_path',
    'SELECT claims_should_exist, claims_already_exist, processed, (SELECT count(*)::integer FROM ops.claims_invalid_leads WHERE reported) FROM cached',
    'the cached decisions equal the decisions from the raw tables, the reported invalid leads left out');
SELECT is((SELECT count(*)::integer FROM ct4.claims_gap_report(21, 1000) WHERE reason NOT LIKE 'STALE%'),
          (SELECT processed FROM raw_path), 'and the report''s rows');

-- 8. Unlinking a lead: its driver's rows go, the lead becomes NO_IDENTITY.
SELECT lives_ok($$SELECT pg_temp.run_job()$$, 'rebuild');
SELECT lives_ok($$SELECT ct4.unlink('module_ct_cabinet_leads', '3', 'pgTAP: incremental claims')$$, 'unlink lead 3');
SELECT results_eq('SELECT claims_created, invalid_conditions FROM pg_temp.run_job()', $$VALUES (0, 1)$$,
                  'after an unlink the lead is NO_IDENTITY on the next run (counted: its inputs changed)');

-- 9. A wide run (days_back 200) decides leads older than the 90-day horizon
-- from the raw tables and does not store them.
INSERT INTO canon.persons (person_key) VALUES (7);
INSERT INTO raw.drivers (driver_id) VALUES ('d6');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES (8, current_date - 150);
INSERT INTO canon.identity_links VALUES
    ('drivers', 'd6', 7, 'TEST', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '8', 7, 'TEST', NULL, '{}', now(), 0);
INSERT INTO raw.summary_daily VALUES ('d6', current_date - 150, 1);
SELECT results_eq('SELECT claims_created FROM ct4.reconcile_claims_14d(200, 1000)', $$VALUES (1)$$,
                  'the old lead 8 is filed');
SELECT is((SELECT covered_from FROM ops.claims_cache_meta), current_date - 90,
          'the cache covers the last 90 days only');
SELECT is((SELECT count(*) FROM ops.claims_driver_state WHERE driver_id = 'd6'), 0::bigint,
          'the driver of the old lead is not stored');

-- 10. A role with DML on raw only can still write trips (the triggers are SECURITY DEFINER).
CREATE ROLE ct4_t_ingest NOLOGIN;
GRANT USAGE ON SCHEMA raw TO ct4_t_ingest;
GRANT INSERT ON raw.summary_daily TO ct4_t_ingest;
SET LOCAL ROLE ct4_t_ingest;
SELECT lives_ok($$INSERT INTO raw.summary_daily VALUES ('d3', current_date - 4, 1)$$,
                'an ingestion role without rights on ops inserts trips');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
