-- No edit is lost to a running job (SPEC 4.1, issue 11): a change committed
-- while a run decides is decided again by the next run. The run works on a
-- second connection (dblink) and is held between its decisions and its
-- writes (this session holds canon.identity_unmatched, which the run writes
-- first); a third connection edits and commits meanwhile.
-- Not inside BEGIN: the other connections must see committed data.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT plan(13);
SET client_min_messages = warning;

\i test/fixtures/dblink_sessions.sql

-- Lead 2 (name and phone) is a person without driver after a first run.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
VALUES (2, current_date, 'Marta Rios', '955 100 200');
SELECT is(newly_linked, 1, 'lead 2 makes its person') FROM ct4.reconcile_leads_pipeline();
-- Lead 1 has only a name and a plate: NO_CANDIDATES. A settings change makes
-- lead 2 due again too.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, plate)
VALUES (1, current_date, 'Pablo Soto', 'AB-1234');
UPDATE ct4.settings SET value = value WHERE name = 'link_threshold';

CREATE TEMP TABLE pids AS SELECT pg_temp.connect('job') AS job, pg_temp.connect('ed') AS ed;
BEGIN;
LOCK TABLE canon.identity_unmatched IN SHARE ROW EXCLUSIVE MODE;
SELECT dblink_send_query('job', 'SELECT processed, still_no_candidates FROM ct4.reconcile_leads_pipeline()');
SELECT ok(pg_temp.waits(job, 'relation', 'canon.identity_unmatched'), 'the run has decided and waits to write') FROM pids;
-- Other sessions see its progress with the counters as they are (SPEC 5).
SELECT matches((SELECT a.query FROM pg_stat_activity a, pids WHERE a.pid = pids.job),
               '^ct4 reconcile_leads_pipeline run [0-9]+: writing \| processed=2 newly_linked=0 '
               'newly_driver_mapped=0 still_no_candidates=1 conflicts=0 errors=0$',
               'pg_stat_activity shows the held run''s phase and counters');
-- Meanwhile lead 1's phone and license are corrected, and lead 2's driver
-- arrives; both committed.
SELECT dblink_exec('ed', $$UPDATE raw.module_ct_cabinet_leads SET phone = '955 300 400', license_number = 'Q-7777 1111'
                            WHERE lead_id = 1$$);
SELECT dblink_exec('ed', $$INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D2', 'MARTA RIOS', '51955100200')$$);
COMMIT;
SELECT results_eq($$SELECT * FROM dblink_get_result('job') AS t(processed integer, still_no_candidates integer)$$,
                  $$VALUES (2, 1)$$, 'the run ends with what it decided: lead 1 NO_CANDIDATES');
SELECT * FROM dblink_get_result('job') AS t(processed integer, still_no_candidates integer);
-- Its outcomes did not overwrite the changes: both leads are still due.
SELECT results_eq($$SELECT lead_id, changed, inputs_changed FROM canon.identity_lead_state ORDER BY lead_id$$,
                  $$VALUES (1::bigint, true, false), (2::bigint, false, true)$$,
                  'lead 1 is still changed, lead 2 still has changed inputs');
SELECT is((SELECT checked_run FROM canon.identity_lead_state WHERE lead_id = 1), NULL::bigint,
          'lead 1 carries no outcome of the run that missed its edit');

-- The next run decides both again, with the committed data.
SELECT results_eq('SELECT processed, newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline()',
                  $$VALUES (2, 1, 1)$$, 'the next run links lead 1 and lead 2''s driver');
SELECT is((SELECT match_rule FROM canon.identity_links WHERE source_pk = '1'), 'NEW_PERSON',
          'lead 1 made its person from the corrected phone');
SELECT is((SELECT source_pk FROM canon.identity_links WHERE source_table = 'drivers'
              AND person_key = (SELECT person_key FROM canon.identity_links WHERE source_pk = '2')), 'D2',
          'lead 2''s person has its driver');
SELECT results_eq($$SELECT (SELECT processed FROM ct4.reconcile_leads_pipeline()), stage, outcome
                      FROM canon.identity_lead_state WHERE lead_id = 1$$,
                  $$VALUES (0, 'NO_DRIVER', 'DRIVER_NO_CANDIDATES')$$,
                  'lead 1''s person has no driver: pending, and not due until something changes');

-- ct4.unlink while a run is held: unlink waits for the run (the job lock),
-- so its changes come after the run's writes.
UPDATE raw.module_ct_cabinet_leads SET full_name = 'Pablo Soto Diaz' WHERE lead_id = 1;
BEGIN;
LOCK TABLE canon.identity_unmatched IN SHARE ROW EXCLUSIVE MODE;
SELECT dblink_send_query('job', 'SELECT processed FROM ct4.reconcile_leads_pipeline()');
SELECT ok(pg_temp.waits(job, 'relation', 'canon.identity_unmatched'), 'a second run is held') FROM pids;
SELECT dblink_send_query('ed', $$SELECT removal_id FROM ct4.unlink('drivers', 'D2', 'race test')$$);
SELECT ok(pg_temp.waits(ed, 'transactionid'), 'unlink waits for the running job (its job lock row)') FROM pids;
COMMIT;
SELECT * FROM dblink_get_result('job') AS t(processed integer);
SELECT * FROM dblink_get_result('job') AS t(processed integer);
SELECT * FROM dblink_get_result('ed') AS t(removal_id bigint);
SELECT * FROM dblink_get_result('ed') AS t(removal_id bigint);
SELECT is((SELECT changed FROM canon.identity_lead_state WHERE lead_id = 2), true,
          'after the unlink lead 2 is changed: the next run decides it');
SELECT dblink_disconnect('job');
SELECT dblink_disconnect('ed');
SELECT * FROM finish();
