-- run_job: history, FAILED kept with SQLSTATE, max_runtime (57014), lock,
-- CRASHED detection, retries driven by time arguments, pruning.
-- No transaction: run_job commits. The database is a throwaway clone.
SELECT plan(30);
CREATE EXTENSION dblink;
INSERT INTO ct4.jobs (job_name, command, max_runtime, max_retries, retry_delay) VALUES
    ('t_ok',   'CREATE TABLE IF NOT EXISTS public.t_side (x int); INSERT INTO public.t_side VALUES (1)', '1 minute', 3, '10 minutes'),
    ('t_fail', 'INSERT INTO public.t_side VALUES (2); SELECT 1 / 0', '1 minute', 3, '10 minutes'),
    ('t_slow', 'SELECT pg_sleep(1)', '100 milliseconds', 0, '10 minutes');

CALL ct4.run_job('t_ok');
SELECT results_eq($$SELECT status, attempt, sqlstate FROM ct4.job_runs WHERE job_name = 't_ok'$$,
                  $$VALUES ('SUCCESS', 1, NULL::text)$$, 'a plain SQL job is recorded SUCCESS');
SELECT ok((SELECT finished_at >= started_at AND backend_pid = pg_backend_pid() FROM ct4.job_runs WHERE job_name = 't_ok'),
          'finished_at and backend_pid recorded');
SELECT ok((SELECT (stats->>'duration_ms')::numeric >= 0 FROM ct4.job_runs WHERE job_name = 't_ok'), 'duration in stats');

-- run_job raises the job's error after committing the FAILED record, so the
-- psql script must go on past it here.
\set ON_ERROR_STOP 0
CALL ct4.run_job('t_fail');
\set ON_ERROR_STOP 1
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't_fail'), 1::bigint, 'run_job''s error came after the record was committed');
SELECT results_eq($$SELECT status, sqlstate, error_message FROM ct4.job_runs WHERE job_name = 't_fail'$$,
                  $$VALUES ('FAILED', '22012', 'division by zero')$$, 'a failed run stays recorded with SQLSTATE and message');
SELECT is((SELECT count(*) FROM public.t_side WHERE x = 2), 0::bigint, 'the failed run''s work rolled back');

\set ON_ERROR_STOP 0
CALL ct4.run_job('t_slow');
\set ON_ERROR_STOP 1
SELECT results_eq($$SELECT status, sqlstate FROM ct4.job_runs WHERE job_name = 't_slow'$$,
                  $$VALUES ('FAILED', '57014')$$, 'max_runtime stops a run: FAILED with 57014');
SELECT ok((SELECT finished_at - started_at < interval '900 milliseconds' FROM ct4.job_runs WHERE job_name = 't_slow'),
          'the run was stopped before its 1 s sleep ended');

-- Overlap: another session holds the job's lock -> SKIPPED_LOCKED.
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_database(), current_user));
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT ct4._job_lock('t_ok', false)::text$$) AS t(x text);
CALL ct4.run_job('t_ok');
SELECT is((SELECT status FROM ct4.job_runs WHERE job_name = 't_ok' ORDER BY run_id DESC LIMIT 1), 'SKIPPED_LOCKED',
          'a second run while one holds the lock is SKIPPED_LOCKED');
SELECT dblink_exec('other', 'ROLLBACK');
-- While another session's run is RUNNING, job_status shows it running.
SELECT dblink_exec('other', $$INSERT INTO ct4.job_runs (job_name, status) VALUES ('t_ok', 'RUNNING')$$);
SELECT results_eq($$SELECT running, last_status FROM ct4.job_status WHERE job_name = 't_ok'$$,
                  $$VALUES (true, 'RUNNING')$$, 'a RUNNING row whose backend lives: running');
DELETE FROM ct4.job_runs WHERE job_name = 't_ok' AND status = 'RUNNING';
SELECT dblink_disconnect('other');
-- A backend that died: CRASHED as soon as the history is read.
INSERT INTO ct4.job_runs (job_name, status, backend_pid) VALUES ('t_ok', 'RUNNING', 99999999);
SELECT results_eq($$SELECT running, last_status FROM ct4.job_status WHERE job_name = 't_ok'$$,
                  $$VALUES (false, 'CRASHED')$$, 'a RUNNING row whose pid does not exist shows CRASHED in job_status');
SELECT is((SELECT status FROM ct4.job_runs WHERE backend_pid = 99999999), 'CRASHED', '... and in job_runs');
SELECT ok((SELECT finished_at IS NOT NULL AND error_message LIKE 'backend 99999999 ended%' FROM ct4.job_runs WHERE backend_pid = 99999999),
          'CRASHED run gets finished_at and a message');
SELECT is((SELECT consecutive_failures FROM ct4.job_status WHERE job_name = 't_ok'), 1::bigint, 'a crash counts as a failure');

-- Retries: driven by the time argument of ct4.maintenance, no sleeping.
SELECT finished_at AS t0 FROM ct4.job_runs WHERE job_name = 't_fail' \gset
DELETE FROM ct4.job_runs WHERE job_name IN ('t_ok', 't_slow');
CALL ct4.maintenance(:'t0'::timestamptz + interval '9 minutes');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't_fail'), 1::bigint, 'no retry before retry_delay');
CALL ct4.maintenance(:'t0'::timestamptz + interval '10 minutes 1 second');
SELECT results_eq($$SELECT attempt, status, retry_of IS NOT NULL FROM ct4.job_runs WHERE job_name = 't_fail' ORDER BY run_id$$,
                  $$VALUES (1, 'FAILED', false), (2, 'FAILED', true)$$, 'retried once retry_delay passed: attempt 2');
CALL ct4.maintenance(now() + interval '1 hour');
CALL ct4.maintenance(now() + interval '2 hours');
CALL ct4.maintenance(now() + interval '3 hours');
CALL ct4.maintenance(now() + interval '4 hours');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't_fail'), 4::bigint, 'at most max_retries (3) retries');
SELECT is((SELECT max(attempt) FROM ct4.job_runs WHERE job_name = 't_fail'), 4, 'last attempt is 4');
SELECT is((SELECT consecutive_failures FROM ct4.job_status WHERE job_name = 't_fail'), 4::bigint, 'consecutive failures counted');
-- A retry that succeeds ends the chain.
UPDATE ct4.jobs SET command = 'SELECT 1', max_retries = 5 WHERE job_name = 't_fail';
CALL ct4.maintenance(now() + interval '5 hours');
SELECT is((SELECT status FROM ct4.job_runs WHERE job_name = 't_fail' ORDER BY run_id DESC LIMIT 1), 'SUCCESS', 'retry succeeded');
CALL ct4.maintenance(now() + interval '6 hours');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 't_fail'), 5::bigint, 'no retry after a success');
SELECT results_eq($$SELECT last_status, consecutive_failures, total_runs, total_failures FROM ct4.job_status WHERE job_name = 't_fail'$$,
                  $$VALUES ('SUCCESS', 0::bigint, 5::bigint, 4::bigint)$$, 'job_status after the chain');
-- A disabled job is not retried (but still runs by hand).
UPDATE ct4.jobs SET command = 'SELECT 1/0' WHERE job_name = 't_fail';
SELECT ct4.disable_job('t_fail');
\set ON_ERROR_STOP 0
CALL ct4.run_job('t_fail');
\set ON_ERROR_STOP 1
SELECT is((SELECT status FROM ct4.job_runs WHERE job_name = 't_fail' ORDER BY run_id DESC LIMIT 1), 'FAILED', 'a disabled job runs by hand');
SELECT is((SELECT count(*) FROM ct4._due_retries(now() + interval '1 day')), 0::bigint, 'a disabled job is not retried');
SELECT throws_ok($$CALL ct4.run_job('nope')$$, '22023', 'job_name "nope" is not a registered job', 'unknown job is 22023');

-- Pruning: old finished runs go, each job's latest run and latest success stay.
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('old_job', 'SUCCESS', now() - interval '90 days', now() - interval '90 days'),
    ('old_job', 'FAILED',  now() - interval '80 days', now() - interval '80 days'),
    ('old_job', 'FAILED',  now() - interval '70 days', now() - interval '70 days'),
    ('old_job', 'FAILED',  now() - interval '60 days', now() - interval '60 days');
SELECT is(ct4.prune_history('30 days'), 2::bigint, 'prune_history deleted the old runs in between');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE job_name = 'old_job'), 2::bigint, 'latest run and latest success kept');
SELECT is(ct4._prune_history('0', now() + interval '1000 days') >= 1, true, 'time drivable through _prune_history');
SELECT throws_ok($$SELECT ct4.prune_history(NULL)$$, '22023', NULL, 'NULL keep is 22023');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE status = 'RUNNING'), 0::bigint, 'nothing is left RUNNING');

SELECT * FROM finish();
