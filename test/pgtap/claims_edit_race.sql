-- No edit is lost to a running claims job (issue 11 point 5, the claims
-- cache's marks): a change committed while a run decides stays marked and
-- is decided by the next run. The run works on a second connection (dblink)
-- and is held between its decisions and its cache writes (this session holds
-- ops.claims_driver_state); a third connection edits and commits meanwhile.
-- Not inside BEGIN: the other connections must see committed data.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT plan(10);
SET client_min_messages = warning;

\i test/fixtures/dblink_sessions.sql

-- d1, d2: a lead each (days -5, -4), one trip that day. Lead 3 (day -3) is
-- not linked yet; person 3's driver d3 has a trip that day.
INSERT INTO raw.drivers (driver_id) SELECT 'd' || i FROM generate_series(1, 3) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 3) i;
INSERT INTO canon.identity_links
SELECT 'drivers', 'd' || i, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 3) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
VALUES (1, current_date - 5), (2, current_date - 4), (3, current_date - 3);
INSERT INTO canon.identity_links VALUES
    ('module_ct_cabinet_leads', '1', 1, 'TEST', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '2', 2, 'TEST', NULL, '{}', now(), 0);
INSERT INTO raw.summary_daily VALUES ('d1', current_date - 5, 1), ('d2', current_date - 4, 1), ('d3', current_date - 3, 1);
SELECT results_eq('SELECT claims_created, invalid_conditions FROM ct4.reconcile_claims_14d(21, 1000)',
                  $$VALUES (2, 1)$$, 'the first run files d1 and d2, lead 3 is NO_IDENTITY');

-- d1 gets a second trip (its state is rewritten by the next run, 2 trips:
-- no new milestone).
INSERT INTO raw.summary_daily VALUES ('d1', current_date - 4, 1);
CREATE TEMP TABLE pids AS SELECT pg_temp.connect('job') AS job, pg_temp.connect('ed') AS ed;
BEGIN;
LOCK TABLE ops.claims_driver_state IN EXCLUSIVE MODE;
SELECT dblink_send_query('job', 'SELECT claims_created, invalid_conditions FROM ct4.reconcile_claims_14d(21, 1000)');
SELECT ok(pg_temp.waits(job, 'relation', 'ops.claims_driver_state'), 'the run has decided and waits to write its cache')
  FROM pids;
SELECT matches((SELECT a.query FROM pg_stat_activity a, pids WHERE a.pid = pids.job),
               '^ct4 reconcile_claims_14d run [0-9]+: cache \| processed=2 gaps_found=0 claims_should_exist=0 '
               'claims_already_exist=2 invalid_conditions=0 claims_created=0 ',
               'pg_stat_activity shows the held run''s phase and counters');
-- Meanwhile, committed: d1 reaches 5 trips (its mark is the one the run
-- read, moved on), d2 gets a trip (a new mark), lead 3 is linked.
SELECT dblink_exec('ed', $$INSERT INTO raw.summary_daily VALUES ('d1', current_date - 3, 3)$$);
SELECT dblink_exec('ed', $$INSERT INTO raw.summary_daily VALUES ('d2', current_date - 3, 4)$$);
SELECT dblink_exec('ed', $$INSERT INTO canon.identity_links
                             VALUES ('module_ct_cabinet_leads', '3', 3, 'TEST', NULL, '{}', now(), 0)$$);
COMMIT;
SELECT results_eq($$SELECT * FROM dblink_get_result('job') AS t(created integer, invalid integer)$$,
                  $$VALUES (0, 0)$$, 'the run ends with what it decided: nothing to file');
SELECT * FROM dblink_get_result('job') AS t(created integer, invalid integer);
-- Its writes did not clear the marks written while it decided.
SELECT is((SELECT string_agg(driver_id, ',' ORDER BY driver_id) FROM ops.claims_dirty_drivers), 'd1,d2,d3',
          'd1, d2 and d3 are still marked');
SELECT is((SELECT string_agg(lead_id::text, ',') FROM ops.claims_dirty_leads), '3', 'lead 3 is still marked');

-- The next run decides them with the committed data.
SELECT results_eq('SELECT claims_created, invalid_conditions FROM ct4.reconcile_claims_14d(21, 1000)',
                  $$VALUES (3, 0)$$, 'the next run files d1:5, d2:5 and d3:1');
SELECT is((SELECT string_agg(driver_id || ':' || milestone_value || '/' || lead_id, ' '
                             ORDER BY driver_id, milestone_value) FROM ops.cabinet_claims_14d),
          'd1:1/1 d1:5/1 d2:1/2 d2:5/2 d3:1/3', 'the ledger');
SELECT is((SELECT count(*) FROM ops.claims_dirty_drivers) + (SELECT count(*) FROM ops.claims_dirty_leads),
          0::bigint, 'no mark left');
SELECT is((SELECT claims_created FROM ct4.reconcile_claims_14d(21, 1000)), 0, 'and a rerun files nothing');

SELECT dblink_disconnect('job');
SELECT dblink_disconnect('ed');
SELECT * FROM finish();
