-- The run record, the job lock and settings (src/jobs/job_run.cpp).

-- name: adopt_run
-- ct4.run_job() records the run itself (so that it survives a failure) and
-- passes its id in ct4.run_id; a job adopts that row (only a RUNNING row of
-- this job that this backend made) instead of making a second.
UPDATE ct4.job_runs
   SET args = $2, source_tables = $3
 WHERE run_id = NULLIF(pg_catalog.current_setting('ct4.run_id', true), '')::bigint
   AND job_name = $1 AND status = 'RUNNING'
   AND backend_pid = pg_catalog.pg_backend_pid()
RETURNING run_id;

-- name: insert_run
INSERT INTO ct4.job_runs (job_name, status, args, source_tables)
VALUES ($1, 'RUNNING', $2, $3)
RETURNING run_id;

-- name: try_lock
SELECT ct4._job_lock($1, false) AS locked;

-- name: finish_run
UPDATE ct4.job_runs
   SET status = $2, finished_at = pg_catalog.clock_timestamp(), stats = $3
 WHERE run_id = $1;

-- name: setting_value
SELECT s.value FROM ct4.settings s WHERE s.name = $1;

-- name: jit_setting
SELECT pg_catalog.current_setting('jit') AS jit;

-- name: set_jit
SELECT pg_catalog.set_config('jit', $1, true);
