-- End to end: pg_cron really runs a ct4 job through ct4.run_job, after a
-- pause and resume of its entry, and the history shows it. pg_cron 1.4 has
-- minute granularity, so this polls ct4.job_runs for at most 75 s (the one
-- bounded wait of the suite).
SELECT plan(6);
SELECT ct4.unschedule();
INSERT INTO ct4.jobs (job_name, command, description, max_runtime)
VALUES ('e2e_probe', 'SELECT count(*) FROM ct4.jobs', 'end-to-end test job', '10 seconds');
INSERT INTO ct4.job_schedules (profile, job_name, schedule) VALUES ('production', 'e2e_probe', '* * * * *');
SELECT is((SELECT count(*) FROM ct4.schedule('production', 'UTC') WHERE jobname = 'ct4:e2e_probe'), 1::bigint, 'probe scheduled every minute');
-- Paused and resumed first (SPEC 10): pg_cron runs the resumed entry.
SELECT is(ct4.pause('e2e: pause and resume'), (SELECT count(*)::int FROM cron.job WHERE jobname LIKE 'ct4:%'), 'pause stops every ct4: entry');
SELECT is((SELECT active FROM cron.job WHERE jobname = 'ct4:e2e_probe'), false, 'the probe''s entry is inactive');
SELECT is(ct4.resume(), (SELECT count(*)::int FROM cron.job WHERE jobname LIKE 'ct4:%'), 'resume starts them all again');

DO $$
BEGIN
    FOR i IN 1 .. 75 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM ct4.job_runs WHERE job_name = 'e2e_probe' AND status <> 'RUNNING');
        PERFORM pg_sleep(1);
    END LOOP;
END $$;

SELECT results_eq($$SELECT status, attempt, sqlstate FROM ct4.job_runs WHERE job_name = 'e2e_probe' AND status <> 'RUNNING' ORDER BY run_id LIMIT 1$$,
                  $$VALUES ('SUCCESS', 1, NULL::text)$$, 'pg_cron ran the job; its run is in ct4.job_runs');
SELECT ok((SELECT last_success_at IS NOT NULL FROM ct4.job_status WHERE job_name = 'e2e_probe'), 'job_status shows the success');

SELECT ct4.unschedule();
DELETE FROM ct4.job_runs WHERE job_name = 'e2e_probe';
DELETE FROM ct4.jobs WHERE job_name = 'e2e_probe';
SELECT * FROM finish();
