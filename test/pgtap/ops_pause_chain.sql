-- Issue 12 points 5, 6 and 8 without pg_cron (SPEC 10): job chains
-- (run_after validated when written, started after the predecessors'
-- successes, at the end of run_job or by maintenance, job_status shows what a
-- job waits for, the deadline with time as an argument), pause/resume as
-- recorded state (health, no JOB_STALE, no retries or chained starts), and
-- the external scheduler setting. Not inside BEGIN: run_job commits and the
-- LOGIN users (dblink) must see committed rows. Undone at the end.
\ir ../fixtures/readme_roles.sql
SELECT plan(45);
SET TimeZone = 'UTC';

-- The default registry: the alerts run after the night's leads and claims.
SELECT is((SELECT run_after FROM ct4.jobs WHERE job_name = 'check_limbo_alerts'),
          '{reconcile_leads_pipeline,reconcile_claims_14d}'::text[], 'check_limbo_alerts runs after leads and claims');
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 'check_limbo_alerts'),
          '{reconcile_leads_pipeline,reconcile_claims_14d}'::text[], 'job_status shows what it waits for');
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 'reconcile_claims_14d'), NULL,
          'a job without run_after waits for nothing');

-- run_after is validated when written, also for the README's operator.
INSERT INTO ct4.jobs (job_name, command, description) VALUES
    ('t12_a', 'SELECT 1', 'issue 12 chain test'), ('t12_b', 'SELECT 1', 'issue 12 chain test'),
    ('t12_dep', 'SELECT 1', 'issue 12 chain test');
SELECT pg_temp.login('op', 't12_operator');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.jobs SET run_after = ''{t12_a,t12_b}'' WHERE job_name = ''t12_dep''')$$,
                'the operator sets run_after');
SELECT throws_ok($$SELECT dblink_exec('op', 'UPDATE ct4.jobs SET run_after = ''{t12_a,nope}'' WHERE job_name = ''t12_dep''')$$,
                 '22023', NULL, 'an unknown name is refused');
SELECT throws_ok($$UPDATE ct4.jobs SET run_after = '{t12_dep}' WHERE job_name = 't12_a'$$, '22023',
                 'run_after of job "t12_a" makes a cycle: t12_a -> t12_dep -> t12_a', 'a cycle is refused, shown as a path');
SELECT throws_ok($$UPDATE ct4.jobs SET run_after = '{t12_b}' WHERE job_name = 't12_b'$$, '22023', NULL, 'running after itself is a cycle');
SELECT is((SELECT run_after FROM ct4.jobs WHERE job_name = 't12_dep'), '{t12_a,t12_b}'::text[], 'the refused writes changed nothing');

-- By hand (nothing scheduled, no external scheduler) nothing starts on its own.
CALL ct4.run_job('t12_a');
CALL ct4.run_job('t12_b');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 0::bigint, 'by hand: the dependent is not started');
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 't12_dep'), '{}'::text[], '... though it waits for nothing now');

-- 8. An external scheduler is the design: health() needs no pg_cron.
SELECT is(ct4.health()->>'status', 'degraded', 'without pg_cron and without the setting: degraded');
UPDATE ct4.settings SET value = 'true' WHERE name = 'external_scheduler';
SELECT is(ct4.health()->>'status', 'healthy', 'external_scheduler = true: healthy without pg_cron');
SELECT is(ct4.health()->>'scheduler', 'external', '... and health() says which scheduler');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'sometimes' WHERE name = 'external_scheduler'$$, '22023',
                 'setting "external_scheduler" must be true or false (got ''sometimes'')', 'the setting is a boolean');

-- 6. With the scheduler: started at the end of the last predecessor's run.
DELETE FROM ct4.job_runs WHERE job_name LIKE 't12_%';
CALL ct4.run_job('t12_a');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 0::bigint, 'one predecessor done: not started');
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 't12_dep'), '{t12_b}'::text[], '... it waits for t12_b');
CALL ct4.run_job('t12_b');
SELECT is((SELECT string_agg(status, ',') FROM ct4.job_runs WHERE job_name = 't12_dep'), 'SUCCESS',
          'both succeeded: started at the end of t12_b''s run_job, once');
CALL ct4.run_job('t12_b');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 1::bigint,
          'a predecessor again alone does not start it again (the other has not succeeded since)');
-- Only SUCCESS counts: a failed predecessor holds the chain.
UPDATE ct4.jobs SET command = 'SELECT 1/0' WHERE job_name = 't12_a';
-- it fails (another client, so that the error ends only that call)
\set out `psql -X -d :DBNAME -c "CALL ct4.run_job('t12_a')" 2>&1`
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 1::bigint, 'a failed predecessor: not started');
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 't12_dep'), '{t12_a}'::text[], '... it waits for the failed one');
-- A predecessor that failed for good (no retry left) no longer holds it:
-- the dependent runs (its alerts say why), at the end of that failed run.
UPDATE ct4.jobs SET max_retries = 0 WHERE job_name = 't12_a';
\set out `psql -X -d :DBNAME -c "CALL ct4.run_job('t12_a')" 2>&1`
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 2::bigint, 'a predecessor failed for good: the dependent starts');
UPDATE ct4.jobs SET max_retries = 3 WHERE job_name = 't12_a';
\set out `psql -X -d :DBNAME -c "CALL ct4.run_job('t12_a')" 2>&1`
CALL ct4.run_job('t12_b');

INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('t12_a', 'DRY_RUN', now(), clock_timestamp()), ('t12_a', 'SKIPPED_LOCKED', now(), clock_timestamp());
SELECT is((SELECT waiting_for FROM ct4.job_status WHERE job_name = 't12_dep'), '{t12_a}'::text[], 'DRY_RUN and SKIPPED_LOCKED do not count');
-- maintenance starts it at the latest (here a success recorded by another way).
UPDATE ct4.jobs SET command = 'SELECT 1' WHERE job_name = 't12_a';
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES ('t12_a', 'SUCCESS', now(), clock_timestamp());
CALL ct4.maintenance();
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 3::bigint, 'ct4.maintenance starts a dependent that is due');

-- The deadline (its own schedule: pg_cron's CALL ct4.run_job decides with
-- run_job_if_due), time as an argument.
INSERT INTO ct4.scheduled_jobs VALUES ('ct4:t12_dep', 't12_dep', '35 2 * * *', '35 2 * * *', 'CALL ct4.run_job(''t12_dep'')', '2025-06-01 00:00+00');
DELETE FROM ct4.job_runs WHERE job_name = 't12_dep';
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES ('t12_dep', 'SUCCESS', '2025-06-18 02:31+00', '2025-06-18 02:31:05+00');
SELECT ok(ct4._deadline_skip('t12_dep', '2025-06-18 02:35:00.3+00') LIKE 'it already ran at 2025-06-18 02:31:00+00, shortly before this deadline%',
          'at 02:35 after a chained run at 02:31: the deadline does not run it again');
SELECT is(ct4._deadline_skip('t12_dep', '2025-06-19 02:35:00+00'), NULL, 'the next night it runs if nothing started it');
UPDATE ct4.job_runs SET started_at = '2025-06-17 02:40+00' WHERE job_name = 't12_dep';
SELECT is(ct4._deadline_skip('t12_dep', '2025-06-18 02:35:02+00'), NULL, 'predecessors late (last run yesterday 02:40, after that deadline): the deadline runs it');
UPDATE ct4.job_runs SET started_at = '2025-06-18 02:31+00' WHERE job_name = 't12_dep';
CALL ct4.run_job_if_due('t12_dep', '2025-06-18 02:35:00+00');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 1::bigint, 'run_job_if_due skips when it already ran shortly before');
CALL ct4.run_job_if_due('t12_dep', '2025-06-19 02:35:00+00');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 2::bigint, '... and runs it at the next deadline');
-- Every entry's command is CALL ct4.run_job (SPEC 5): pg_cron's call of it is
-- the deadline, a call by hand always runs. pg_cron's libpq mode is a session
-- named pg_cron (its background-worker mode: framework_cron_e2e). The entry
-- now fires daily at this minute, and the run above started just now.
SELECT is(ct4._called_by_pg_cron(), false, 'psql is not pg_cron');
UPDATE ct4.scheduled_jobs SET utc_schedule = to_char(now(), 'FMMI FMHH24 * * *') WHERE jobname = 'ct4:t12_dep';
INSERT INTO ct4.scheduled_jobs SELECT 'ct4:t12_a', 't12_a', s, s, 'CALL ct4.run_job(''t12_a'')', now()
  FROM to_char(now(), 'FMMI FMHH24 * * *') s;
CALL ct4.run_job('t12_a');
SELECT max(run_id) AS before_cron FROM ct4.job_runs \gset
SET application_name = 'pg_cron';
SELECT is(ct4._called_by_pg_cron(), true, 'a session named pg_cron (pg_cron''s libpq connection) is pg_cron');
CALL ct4.run_job('t12_dep');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 2::bigint,
          'pg_cron''s run_job of a chained job that ran shortly before its deadline: nothing runs');
CALL ct4.run_job('t12_a');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_a' AND run_id > :before_cron), 1::bigint,
          'pg_cron''s run_job of a job without run_after always runs it');
RESET application_name;
CALL ct4.run_job('t12_dep');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't12_dep'), 3::bigint, 'by hand, run_job always runs');
DELETE FROM ct4.scheduled_jobs WHERE jobname = 'ct4:t12_a';
DELETE FROM ct4.scheduled_jobs WHERE jobname = 'ct4:t12_dep';

-- 5. Pause and resume (no pg_cron here: the recorded state).
SELECT throws_ok($$SELECT ct4.pause(NULL)$$, '22023', NULL, 'a pause needs a reason');
SELECT pg_temp.login('nobody', 't12_nobody');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT ct4.pause(''x'')')$$, '42501', NULL, 'a role without a tier cannot pause');
SELECT is(pg_temp.q('op', $$SELECT ct4.pause('pg_dump backup')$$), '0', 'the operator pauses (no pg_cron entry here)');
SELECT is(ct4.health()->'paused'->>'reason', 'pg_dump backup', 'health() shows the pause and its reason');
SELECT is(ct4.health()->'paused'->>'by', 't12_operator', '... who paused');
SELECT ok((ct4.health()->'paused'->>'since')::timestamptz <= now() AND ct4.health()->>'status' = 'degraded', '... since when; status degraded');
SELECT ct4.pause('another reason');
SELECT is(ct4.health()->'paused'->>'reason', 'pg_dump backup', 'a second pause keeps the first reason');
-- While paused: no JOB_STALE, no chained start from maintenance.
INSERT INTO ct4.scheduled_jobs VALUES ('ct4:t12_b', 't12_b', '0 * * * *', '0 * * * *', 'CALL ct4.run_job(''t12_b'')', '2025-06-18 00:00+00');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at('2025-06-18 12:00+00') WHERE alert_code = 'JOB_STALE'), 0::bigint,
          'paused: no JOB_STALE');
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('t12_a', 'SUCCESS', clock_timestamp(), clock_timestamp()), ('t12_b', 'SUCCESS', clock_timestamp(), clock_timestamp());
CREATE TEMP TABLE last_run AS SELECT max(run_id) AS id FROM ct4.job_runs;
CALL ct4.maintenance();
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE run_id > (SELECT id FROM last_run)), 0::bigint, 'paused: maintenance starts no chained job');
SELECT is(pg_temp.q('op', 'SELECT ct4.resume()'), '0', 'the operator resumes');
SELECT ok(NOT ct4.health() ? 'paused', 'health() no longer shows a pause');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at('2025-06-18 12:00+00') WHERE alert_code = 'JOB_STALE'), 1::bigint,
          'resumed: JOB_STALE is evaluated again');

DELETE FROM ct4.scheduled_jobs;
UPDATE ct4.settings SET value = 'false' WHERE name = 'external_scheduler';
DELETE FROM ct4.job_runs;
DELETE FROM ct4.run_counters;
DELETE FROM ct4.jobs WHERE job_name LIKE 't12_%';
\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
