-- Running jobs (SPEC 5): ct4.run_job, crash detection, retries, pruning.

-- Advisory-lock key shared with JobRun::try_lock (src/jobs/job_run.cpp).
CREATE FUNCTION ct4._job_lock_class() RETURNS integer
LANGUAGE sql IMMUTABLE AS 'SELECT 1129591873';   -- 0x43543441 "CT4J"

-- Runs `command` (admin-defined SQL) and cancels it with SQLSTATE 57014 when
-- it runs longer than max_runtime (C++: a statement-timeout timer around SPI).
CREATE FUNCTION ct4._exec_with_timeout(command text, max_runtime interval) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ct4_exec_with_timeout' LANGUAGE C VOLATILE;

-- Whether the backend that wrote a RUNNING row is still the one alive with
-- that pid (a pid reused by a newer backend does not count).
CREATE FUNCTION ct4._backend_alive(pid integer, since timestamptz) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity($1) a
                    WHERE a.pid = $1 AND (a.backend_start IS NULL OR a.backend_start <= $2))
$$;

-- Marks RUNNING rows whose backend is gone as CRASHED; returns how many.
-- Called by whatever reads the history (job_status, health, metrics,
-- run_job, maintenance, the alert job). Does nothing in a read-only
-- transaction (job_status still shows CRASHED, computed on the fly).
-- SECURITY DEFINER: a read-only role reading job_status must be able to
-- record what it saw; this only turns dead RUNNING rows into CRASHED.
CREATE FUNCTION ct4._reap_crashed() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE n integer;
BEGIN
    IF current_setting('transaction_read_only')::boolean THEN RETURN 0; END IF;
    PERFORM pg_stat_clear_snapshot();   -- see backends started since this transaction began
    UPDATE ct4.job_runs r
       SET status = 'CRASHED', finished_at = clock_timestamp(),
           error_message = format('backend %s ended while the run was RUNNING', r.backend_pid)
     WHERE r.status = 'RUNNING' AND NOT ct4._backend_alive(r.backend_pid, r.started_at);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The status a reader must see: RUNNING only while its backend lives.
CREATE FUNCTION ct4._live_status(status text, pid integer, started_at timestamptz) RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN $1 = 'RUNNING' AND NOT ct4._backend_alive($2, $3) THEN 'CRASHED' ELSE $1 END
$$;

-- One run: records it (committed before the work starts, so that it
-- survives the work's failure), takes the job's advisory lock (held by
-- another run: SKIPPED_LOCKED), runs the command under max_runtime, and
-- records SUCCESS, or FAILED with SQLSTATE and message. Never sleeps.
-- Returns nothing; the outcome is in ct4.job_runs (a failure is also a WARNING).
-- Procedures that COMMIT cannot carry SET clauses: every name below is
-- schema-qualified or a pg_catalog builtin (pg_catalog is searched first).
-- p_raise: after the FAILED record is committed, raise the job's error again
-- (ct4.run_job does, so psql and pg_cron see the failure; maintenance's retry
-- loop does not, so one failure does not stop the other retries).
CREATE PROCEDURE ct4._run_job(p_job text, p_attempt integer, p_retry_of bigint,
                              p_raise boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    j   ct4.jobs;
    lim record;
    rid bigint;
    t0  timestamptz;
    st  text;
    msg text;
    det text;
BEGIN
    IF p_job IS NULL THEN
        RAISE EXCEPTION 'job_name must not be NULL' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO j FROM ct4.jobs WHERE job_name = p_job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job_name "%" is not a registered job', p_job USING ERRCODE = '22023',
            HINT = 'Registered jobs: SELECT job_name FROM ct4.jobs.';
    END IF;
    SELECT * INTO lim FROM ct4._job_limits(p_job);
    PERFORM ct4._reap_crashed();
    INSERT INTO ct4.job_runs (job_name, status, attempt, retry_of, args)
    VALUES (p_job, 'RUNNING', p_attempt, p_retry_of, jsonb_build_object('command', j.command))
    RETURNING run_id INTO rid;
    COMMIT;

    IF NOT pg_try_advisory_xact_lock(ct4._job_lock_class(), hashtext(p_job)) THEN
        UPDATE ct4.job_runs SET status = 'SKIPPED_LOCKED', finished_at = clock_timestamp()
         WHERE run_id = rid;
        COMMIT;
        RAISE NOTICE 'ct4 run % of job %: SKIPPED_LOCKED (another run holds the lock)', rid, p_job;
        RETURN;
    END IF;

    PERFORM set_config('ct4.run_id', rid::text, true);   -- JobRun adopts this row
    t0 := clock_timestamp();
    BEGIN
        PERFORM ct4._exec_with_timeout(j.command, lim.max_runtime);
        -- Jobs built on JobRun finished the row themselves; plain SQL did not.
        UPDATE ct4.job_runs
           SET status = 'SUCCESS', finished_at = clock_timestamp(),
               stats = stats || jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE run_id = rid AND status = 'RUNNING';
    EXCEPTION WHEN query_canceled OR OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        -- The block's work (and the job's writes to its row) rolled back.
        UPDATE ct4.job_runs
           SET status = 'FAILED', finished_at = clock_timestamp(), sqlstate = st,
               error_message = msg || coalesce(E'\n' || nullif(det, ''), ''),
               stats = jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE run_id = rid;
        IF NOT p_raise THEN
            RAISE WARNING 'ct4 run % of job % FAILED (SQLSTATE %): %', rid, p_job, st, msg;
        END IF;
    END;
    PERFORM set_config('ct4.run_id', '', true);
    COMMIT;
    IF p_raise AND st IS NOT NULL THEN
        RAISE EXCEPTION 'ct4 run % of job % FAILED: %', rid, p_job, msg
            USING ERRCODE = st, DETAIL = format('attempt %s of the job''s command', p_attempt) || coalesce(E'\n' || nullif(det, ''), ''),
                  HINT = format('The run is recorded in ct4.job_runs (run_id %s); ct4.maintenance retries it after the job''s retry_delay.', rid);
    END IF;
END $$;

CREATE PROCEDURE ct4.run_job(job_name text)
LANGUAGE plpgsql AS $$
BEGIN
    CALL ct4._run_job(job_name, 1, NULL, true);
END $$;

-- Deletes finished runs that started before as_of - keep, and resolved
-- alerts raised before it; each job's latest run and latest success stay
-- (ct4.job_status needs them). Returns the number of runs deleted.
CREATE FUNCTION ct4._prune_history(keep interval, as_of timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE n bigint;
BEGIN
    IF keep IS NULL OR keep < '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval (got %)', keep USING ERRCODE = '22023';
    END IF;
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = '22023';
    END IF;
    DELETE FROM ct4.job_runs r
     WHERE r.started_at < as_of - keep AND r.status <> 'RUNNING'
       AND r.run_id NOT IN (SELECT DISTINCT ON (job_name) run_id FROM ct4.job_runs
                             ORDER BY job_name, started_at DESC, run_id DESC)
       AND r.run_id NOT IN (SELECT DISTINCT ON (job_name) run_id FROM ct4.job_runs
                             WHERE status IN ('SUCCESS', 'DRY_RUN')
                             ORDER BY job_name, started_at DESC, run_id DESC);
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM ct4.alert_events e WHERE e.resolved_at IS NOT NULL AND e.raised_at < as_of - keep;
    RETURN n;
END $$;

CREATE FUNCTION ct4.prune_history(keep interval DEFAULT '30 days') RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._prune_history(keep, now())
$$;

-- Failed or crashed runs due for a retry at as_of: the job's latest run (runs
-- skipped on the lock do not count) failed, retry_delay has passed since, and
-- fewer than max_retries retries were made (attempt 1 is the first run).
CREATE FUNCTION ct4._due_retries(as_of timestamptz)
RETURNS TABLE(job_name text, run_id bigint, attempt integer)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.job_name, l.run_id, l.attempt + 1
      FROM ct4.jobs j
      CROSS JOIN LATERAL ct4._job_limits(j.job_name) lim
      JOIN LATERAL (SELECT r.* FROM ct4.job_runs r
                     WHERE r.job_name = j.job_name AND r.status <> 'SKIPPED_LOCKED'
                     ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
     WHERE j.enabled
       AND l.status IN ('FAILED', 'CRASHED')
       AND l.attempt <= lim.max_retries
       AND coalesce(l.finished_at, l.started_at) + lim.retry_delay <= as_of
     ORDER BY l.job_name
$$;

-- Every 5 minutes from pg_cron (ct4:maintenance): marks crashed runs,
-- re-registers the schedule when the zone's UTC offset changed (DST), runs
-- the due retries, prunes history. `now` drives time in tests.
CREATE PROCEDURE ct4.maintenance(now timestamptz DEFAULT now())
LANGUAGE plpgsql AS $$
DECLARE
    jobs     text[];
    runs     bigint[];
    attempts integer[];
    keep     interval;
BEGIN
    IF now IS NULL THEN
        RAISE EXCEPTION 'now must not be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM ct4._reap_crashed();
    PERFORM ct4._schedule_dst_check(now);
    COMMIT;
    SELECT array_agg(d.job_name), array_agg(d.run_id), array_agg(d.attempt)
      INTO jobs, runs, attempts FROM ct4._due_retries(now) d;
    FOR i IN 1 .. coalesce(array_length(jobs, 1), 0) LOOP
        RAISE NOTICE 'ct4 maintenance: retrying job % (run % failed), attempt %', jobs[i], runs[i], attempts[i];
        CALL ct4._run_job(jobs[i], attempts[i], runs[i]);
    END LOOP;
    SELECT value::interval INTO keep FROM ct4.settings WHERE name = 'history_keep';
    PERFORM ct4._prune_history(coalesce(keep, '30 days'), now);
    COMMIT;
END $$;
