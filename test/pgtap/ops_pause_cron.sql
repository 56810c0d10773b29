-- Issue 12 point 5 in the pg_cron database (SPEC 10): the README's operator
-- pauses and resumes the real pg_cron entries, which stop and come back
-- exactly as they were (Lima's GMT lines included); schedule, enable_job and
-- disable_job during a pause are recorded and take effect at resume; the
-- reader's health() shows the pause; the operator also runs a job and edits
-- settings and rules here; ct4.schedule() without arguments comes
-- back with the last profile and zone after an unschedule. The run of a
-- resumed entry by pg_cron itself is in framework_cron_e2e.sql.
-- Not inside BEGIN (dblink); undone at the end.
\ir ../fixtures/readme_roles.sql
SELECT plan(19);
SELECT ct4.unschedule();
DELETE FROM ct4.schedule_choice;

SELECT pg_temp.login('op', 't12_operator');
SELECT pg_temp.login('reader', 't12_reader');
SELECT cmp_ok(pg_temp.q('op', $$SELECT count(*) FROM ct4.schedule('high_load', 'America/Lima')$$)::int, '>=', 4, 'the operator schedules high_load in Lima');
CREATE TEMP TABLE before AS
SELECT jobname, schedule, command, database, username FROM cron.job WHERE jobname LIKE 'ct4:%' AND active;
CREATE TEMP TABLE n_entries AS SELECT count(*)::text AS n FROM before;

SELECT is(pg_temp.q('op', $$SELECT ct4.pause('pg_dump before the upgrade')$$), (SELECT n FROM n_entries), 'the operator pauses: every entry stopped');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'ct4:%' AND active), 0::bigint, 'every ct4: entry is inactive');
SELECT is((SELECT count(*)::text FROM cron.job WHERE jobname LIKE 'ct4:%'), (SELECT n FROM n_entries), '... and still there');
SELECT is(pg_temp.q('reader', $$SELECT ct4.health()->'paused'->>'reason'$$), 'pg_dump before the upgrade',
          'the reader''s health() shows the pause');
SELECT is(pg_temp.q('reader', $$SELECT (ct4.health() - 'checked_at')::text$$)::jsonb, ct4.health() - 'checked_at',
          '... the same as the superuser''s');
SELECT is(pg_temp.q('reader', 'SELECT ct4.metrics()'), ct4.metrics(), 'the reader''s metrics() in the pg_cron database are the superuser''s');

-- Changes during the pause are recorded, not started.
SELECT is(pg_temp.q('op', $$SELECT ct4.disable_job('reconcile_claims_14d')$$), 'f', 'the operator disables a job during the pause');
SELECT ok(NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), '... its entry goes');
SELECT is(pg_temp.q('op', $$SELECT ct4.enable_job('reconcile_claims_14d')$$), 't', '... and enables it again');
SELECT is((SELECT active FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), false, '... its entry is back, inactive while paused');
SELECT is(pg_temp.q('op', $$SELECT ct4.pause('another reason')$$), '0', 'a second pause stops nothing more');

SELECT is(pg_temp.q('op', 'SELECT ct4.resume()'), (SELECT n FROM n_entries), 'the operator resumes: every entry runs again');
SELECT set_eq($$SELECT jobname, schedule, command, database, username FROM cron.job WHERE jobname LIKE 'ct4:%' AND active$$,
              $$SELECT * FROM before$$, 'they are back exactly as they were (profile, Lima''s GMT lines, commands, owner)');

-- The rest of what an operator does, in the pg_cron database too (point 1).
SELECT lives_ok($$SELECT dblink_exec('op', 'CALL ct4.run_job(''check_limbo_alerts'')')$$, 'the operator runs a job');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.settings SET value = ''0.86'' WHERE name = ''name_similarity_min''')$$,
                'the operator edits a setting');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.alert_rules SET threshold = 60 WHERE rule_code = ''NO_IDENTITY_RECENT''')$$,
                'the operator edits an alert rule');
UPDATE ct4.settings SET value = '0.85' WHERE name = 'name_similarity_min';
UPDATE ct4.alert_rules SET threshold = 50 WHERE rule_code = 'NO_IDENTITY_RECENT';
DELETE FROM ct4.job_runs;
DELETE FROM ct4.run_counters;
DELETE FROM ct4.alert_events;

-- ct4.schedule() without arguments: the last profile and zone, also after unschedule.
SELECT is(pg_temp.q('op', 'SELECT ct4.unschedule()'), (SELECT n FROM n_entries), 'unschedule removes them');
SELECT set_eq($$SELECT jobname, utc_schedule FROM ct4.schedule()$$,
              $$SELECT jobname, schedule FROM before$$, 'schedule() without arguments comes back with high_load in Lima, not UTC');

SELECT ct4.unschedule();
DELETE FROM ct4.schedule_choice;
\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
