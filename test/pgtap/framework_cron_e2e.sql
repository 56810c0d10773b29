-- End to end: pg_cron really runs a ct4 job through ct4.run_job, after a
-- pause and resume of its entry, and the history shows it; and pg_cron's
-- fire of a chained job's entry (its deadline, SPEC 10) right after the
-- chain started it records no second run, while a run by hand does.
-- pg_cron 1.4 has minute granularity, so this polls for at most 80 s (the
-- one bounded wait of the suite).
SELECT plan(10);
SELECT ct4.unschedule();
INSERT INTO ct4.jobs (job_name, command, description, max_runtime)
VALUES ('e2e_probe', 'SELECT count(*) FROM ct4.jobs', 'end-to-end test job', '10 seconds'),
       ('e2e_pred', 'SELECT 1', 'end-to-end test job: the chained job''s predecessor (no schedule)', '10 seconds');
INSERT INTO ct4.jobs (job_name, command, description, max_runtime, run_after)
VALUES ('e2e_chained', 'SELECT 1', 'end-to-end test job: runs after e2e_pred', '10 seconds', '{e2e_pred}');
INSERT INTO ct4.job_schedules (profile, job_name, schedule) VALUES ('production', 'e2e_probe', '* * * * *');
-- The chained job's deadline: daily, at the first minute boundary at least
-- 10 s away (the chained run below happens before it).
INSERT INTO ct4.job_schedules (profile, job_name, schedule)
SELECT 'production', 'e2e_chained', to_char(m, 'FMMI FMHH24 * * *')
  FROM (SELECT date_trunc('minute', clock_timestamp() AT TIME ZONE 'UTC' + interval '10 seconds') + interval '1 minute' AS m) t;
SELECT is((SELECT count(*) FROM ct4.schedule('production', 'UTC') WHERE jobname IN ('ct4:e2e_probe', 'ct4:e2e_chained')), 2::bigint,
          'probe scheduled every minute, the chained job at its deadline');
-- Paused and resumed first (SPEC 10): pg_cron runs the resumed entry.
SELECT is(ct4.pause('e2e: pause and resume'), (SELECT count(*)::int FROM cron.job WHERE jobname LIKE 'ct4:%'), 'pause stops every ct4: entry');
SELECT is((SELECT active FROM cron.job WHERE jobname = 'ct4:e2e_probe'), false, 'the probe''s entry is inactive');
SELECT is(ct4.resume(), (SELECT count(*)::int FROM cron.job WHERE jobname LIKE 'ct4:%'), 'resume starts them all again');
SELECT is((SELECT command FROM cron.job WHERE jobname = 'ct4:e2e_chained'), 'CALL ct4.run_job(''e2e_chained'')',
          'the chained job''s entry runs CALL ct4.run_job like every other');

-- The chain starts e2e_chained at the end of its predecessor's run.
CALL ct4.run_job('e2e_pred');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 'e2e_chained' AND status = 'SUCCESS'), 1::bigint,
          'the chain ran the chained job once');

DO $$
BEGIN
    FOR i IN 1 .. 80 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM ct4.job_runs WHERE job_name = 'e2e_probe' AND status <> 'RUNNING')
              AND EXISTS (SELECT 1 FROM cron.job_run_details d JOIN cron.job c USING (jobid)
                           WHERE c.jobname = 'ct4:e2e_chained' AND d.status IN ('succeeded', 'failed'));
        PERFORM pg_sleep(1);
    END LOOP;
END $$;

SELECT results_eq($$SELECT status, attempt, sqlstate FROM ct4.job_runs WHERE job_name = 'e2e_probe' AND status <> 'RUNNING' ORDER BY run_id LIMIT 1$$,
                  $$VALUES ('SUCCESS', 1, NULL::text)$$, 'pg_cron ran the job; its run is in ct4.job_runs');
SELECT ok((SELECT last_success_at IS NOT NULL FROM ct4.job_status WHERE job_name = 'e2e_probe'), 'job_status shows the success');
SELECT results_eq($$SELECT d.status::text, (SELECT count(*) FROM ct4.job_runs WHERE job_name = 'e2e_chained')
                      FROM cron.job_run_details d JOIN cron.job c USING (jobid) WHERE c.jobname = 'ct4:e2e_chained'$$,
                  $$VALUES ('succeeded', 1::bigint)$$,
                  'pg_cron fired the chained job''s deadline after the chain ran it: no second run');
CALL ct4.run_job('e2e_chained');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 'e2e_chained'), 2::bigint, 'by hand it runs again');

SELECT ct4.unschedule();
DELETE FROM ct4.job_runs WHERE job_name IN ('e2e_probe', 'e2e_pred', 'e2e_chained');
DELETE FROM ct4.jobs WHERE job_name = 'e2e_chained';
DELETE FROM ct4.jobs WHERE job_name IN ('e2e_probe', 'e2e_pred');
SELECT * FROM finish();
