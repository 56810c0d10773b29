-- Running jobs (SPEC 5): ct4.run_job, crash detection, retries, pruning.

-- Runs `command` (admin-defined SQL) and cancels it with SQLSTATE 57014 when
-- it runs longer than max_runtime (C++: a statement-timeout timer around SPI).
CREATE FUNCTION ct4._exec_with_timeout(command text, max_runtime interval) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ct4_exec_with_timeout' LANGUAGE C VOLATILE;

-- Whether the backend that wrote a RUNNING row is still the one alive with
-- that pid (a pid reused by a newer backend does not count). SECURITY
-- DEFINER: other users' backend_start is hidden from a reader, who must see
-- what a superuser sees. On a hot standby the primary's backends are not
-- visible: a RUNNING row is taken as alive (the primary reaps it).
CREATE FUNCTION ct4._backend_alive(pid integer, since timestamptz) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_is_in_recovery()
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity($1) a
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

-- One run of a job, in three steps so that its record survives whatever
-- happens to its work (SPEC 5) and no caller borrows more than running the
-- job (SPEC 6):
--   ct4._run_start  records the run (RUNNING); the caller commits;
--   ct4._run_exec   takes the job lock (held by another run: SKIPPED_LOCKED),
--                   runs the job's command under max_runtime and records
--                   SUCCESS, or FAILED with SQLSTATE and message; the caller
--                   commits;
--   ct4._run_job    the procedure that calls both and commits in between.
-- The two functions are SECURITY DEFINER: the command, which only the
-- extension's owner may write (ct4.jobs trigger), runs with the owner's
-- rights whoever calls run_job, and is read by _run_exec itself, never
-- passed in. A procedure that commits can be neither SECURITY DEFINER nor
-- carry a SET clause, so _run_job pins search_path for each of its
-- transactions and names everything schema-qualified.
CREATE FUNCTION ct4._run_start(p_job text, p_attempt integer, p_retry_of bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j   ct4.jobs;
    rid bigint;
BEGIN
    IF p_job IS NULL THEN
        RAISE EXCEPTION 'job_name must not be NULL' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO j FROM ct4.jobs WHERE job_name = p_job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job_name "%" is not a registered job', p_job USING ERRCODE = '22023',
            HINT = 'Registered jobs: SELECT job_name FROM ct4.jobs.';
    END IF;
    PERFORM ct4._reap_crashed();
    INSERT INTO ct4.job_runs (job_name, status, attempt, retry_of, args)
    VALUES (p_job, 'RUNNING', coalesce(p_attempt, 1), p_retry_of, jsonb_build_object('command', j.command))
    RETURNING run_id INTO rid;
    RETURN rid;
END $$;

-- Runs the RUNNING run `rid` of this backend (see above). Returns its final
-- status and, when it FAILED, the error to raise again.
CREATE FUNCTION ct4._run_exec(rid bigint,
    OUT status text, OUT err_sqlstate text, OUT err_message text, OUT err_detail text, OUT stats jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r   ct4.job_runs;
    cmd text;
    lim record;
    t0  timestamptz;
BEGIN
    SELECT * INTO r FROM ct4.job_runs jr
     WHERE jr.run_id = rid AND jr.status = 'RUNNING' AND jr.backend_pid = pg_backend_pid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % is not a RUNNING run of this session', rid USING ERRCODE = '22023';
    END IF;
    IF NOT ct4._job_lock(r.job_name, false) THEN
        UPDATE ct4.job_runs SET status = 'SKIPPED_LOCKED', finished_at = clock_timestamp()
         WHERE run_id = rid;
        status := 'SKIPPED_LOCKED';
        RETURN;
    END IF;
    -- Read under the lock: the command in force when the run starts.
    SELECT j.command INTO cmd FROM ct4.jobs j WHERE j.job_name = r.job_name;
    SELECT * INTO lim FROM ct4._job_limits(r.job_name);
    PERFORM set_config('ct4.run_id', rid::text, true);   -- JobRun adopts this row
    t0 := clock_timestamp();
    BEGIN
        IF cmd IS NULL THEN
            RAISE EXCEPTION 'job "%" was removed from ct4.jobs', r.job_name USING ERRCODE = '22023';
        END IF;
        PERFORM ct4._exec_with_timeout(cmd, lim.max_runtime);
        -- Jobs built on JobRun finished the row themselves; plain SQL did not.
        UPDATE ct4.job_runs jr
           SET status = 'SUCCESS', finished_at = clock_timestamp(),
               stats = jr.stats || jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE jr.run_id = rid AND jr.status = 'RUNNING';
    EXCEPTION WHEN query_canceled OR OTHERS THEN
        GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL;
        -- The block's work (and the job's writes to its row) rolled back.
        UPDATE ct4.job_runs jr
           SET status = 'FAILED', finished_at = clock_timestamp(), sqlstate = err_sqlstate,
               error_message = err_message || coalesce(E'\n' || nullif(err_detail, ''), ''),
               stats = jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE jr.run_id = rid;
    END;
    PERFORM set_config('ct4.run_id', '', true);
    SELECT jr.status, jr.stats INTO status, stats FROM ct4.job_runs jr WHERE jr.run_id = rid;
END $$;

-- The NOTICE line of a finished run: 'ct4 run 42 of job x: SUCCESS (processed 10,
-- newly_linked 3, ..., duration_ms 12.5)'.
CREATE FUNCTION ct4._run_summary(rid bigint, job text, status text, stats jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('ct4 run %s of job %s: %s', rid, job, status)
        || CASE WHEN status = 'SKIPPED_LOCKED' THEN ' (another run holds the job''s lock; nothing was done)'
                ELSE coalesce(' (' || (SELECT string_agg(e.key || ' ' || e.value, ', ' ORDER BY e.ord)
                                         FROM jsonb_each_text(stats) WITH ORDINALITY e(key, value, ord)) || ')', '')
           END
$$;

-- Job chains (SPEC 10). Whether an external scheduler is the design
-- (setting external_scheduler); read without a cast, so that a malformed
-- value cannot break what reads it.
CREATE FUNCTION ct4._external_scheduler() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT lower(btrim(s.value)) IN ('true', 't', 'on', 'yes', 'y', '1')
                       FROM ct4.settings s WHERE s.name = 'external_scheduler'), false)
$$;

-- Per predecessor of a job with run_after: its latest finished run (SUCCESS,
-- FAILED or CRASHED: not SKIPPED_LOCKED, DRY_RUN or RUNNING), whether it is a
-- SUCCESS newer than the job's own latest run (ready), and whether the
-- predecessor is done for this cycle: ready, or failed for good (its latest
-- run failed with no retry left, after the job's own latest run). An
-- unknown predecessor (a removed job) is never done.
CREATE FUNCTION ct4._chain_state(p_job text)
RETURNS TABLE(predecessor text, last_status text, finished_at timestamptz, enabled boolean, ready boolean,
              done boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.name, l.status, l.finished_at, k.enabled,
           coalesce(l.status = 'SUCCESS' AND l.finished_at > coalesce(me.started_at, '-infinity'), false),
           coalesce(l.finished_at > coalesce(me.started_at, '-infinity')
                    AND (l.status = 'SUCCESS' OR l.attempt > lim.max_retries), false)
      FROM ct4.jobs j
     CROSS JOIN LATERAL unnest(j.run_after) WITH ORDINALITY p(name, ord)
      LEFT JOIN ct4.jobs k ON k.job_name = p.name
      LEFT JOIN LATERAL ct4._job_limits(p.name) lim ON true
      LEFT JOIN LATERAL (SELECT r.started_at FROM ct4.job_runs r
                          WHERE r.job_name = j.job_name AND r.status NOT IN ('SKIPPED_LOCKED', 'DRY_RUN')
                          ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) me ON true
      LEFT JOIN LATERAL (SELECT r.status, r.finished_at, r.attempt FROM ct4.job_runs r
                          WHERE r.job_name = p.name AND r.status IN ('SUCCESS', 'FAILED', 'CRASHED')
                          ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
     WHERE j.job_name = p_job
     ORDER BY p.ord
$$;

-- The jobs the framework starts now: enabled, with run_after, every
-- predecessor done (succeeded, or failed for good), not running, when the framework schedules (a pg_cron
-- schedule is registered, or an external scheduler is the design) and is
-- not paused. By hand, nothing starts on its own.
CREATE FUNCTION ct4._chain_due() RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT j.job_name FROM ct4.jobs j
     WHERE j.run_after IS NOT NULL AND j.enabled
       AND NOT EXISTS (SELECT 1 FROM ct4.pause_state)
       AND (EXISTS (SELECT 1 FROM ct4.schedule_state) OR ct4._external_scheduler())
       AND NOT EXISTS (SELECT 1 FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'RUNNING'
                          AND ct4._backend_alive(r.backend_pid, r.started_at))
       AND (SELECT bool_and(c.done) FROM ct4._chain_state(j.job_name) c)
     ORDER BY j.job_name
$$;

-- Why a chained job's deadline (its own schedule: pg_cron firing its entry
-- CALL ct4.run_job) does not run it at as_of: it already ran in the
-- second half of the interval that ends at the fire being served (the chain
-- started it shortly before its deadline). A run earlier than that, e.g.
-- yesterday's late chained run, does not count. NULL: run it (no run_after,
-- not scheduled, or not run lately).
CREATE FUNCTION ct4._deadline_skip(p_job text, as_of timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('it already ran at %s, shortly before this deadline (%s)', me.started_at, t.cur)
      FROM ct4.scheduled_jobs s
      JOIN ct4.jobs j ON j.job_name = s.job_name AND j.run_after IS NOT NULL
     CROSS JOIN LATERAL (SELECT ct4.cron_prev(s.utc_schedule, as_of + interval '1 second') AS cur) t
     CROSS JOIN LATERAL (SELECT ct4.cron_prev(s.utc_schedule, t.cur) AS prev) p
     CROSS JOIN LATERAL (SELECT max(r.started_at) AS started_at FROM ct4.job_runs r
                          WHERE r.job_name = p_job AND r.status NOT IN ('SKIPPED_LOCKED', 'DRY_RUN')) me
     WHERE s.job_name = p_job AND me.started_at > t.cur - (t.cur - p.prev) / 2
$$;

-- Starts the chained jobs that are due (each in its own transactions,
-- errors as WARNINGs), after the commit of the run that made them due.
CREATE PROCEDURE ct4._run_chain()
LANGUAGE plpgsql AS $$
DECLARE
    due text[];
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    due := ARRAY(SELECT ct4._chain_due());
    FOR i IN 1 .. coalesce(array_length(due, 1), 0) LOOP
        RAISE NOTICE 'ct4: starting job % (every job it runs after has succeeded)', due[i];
        CALL ct4._run_job(due[i], 1, NULL);
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
END $$;

-- p_raise: after the FAILED record is committed, raise the job's error again
-- (ct4.run_job does, so psql and pg_cron see the failure; maintenance's retry
-- loop does not, so one failure does not stop the other retries: a WARNING).
CREATE PROCEDURE ct4._run_job(p_job text, p_attempt integer, p_retry_of bigint,
                              p_raise boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
    r   record;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    rid := ct4._run_start(p_job, p_attempt, p_retry_of);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    SELECT * INTO r FROM ct4._run_exec(rid);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- What happened, for the caller (psql prints only CALL): status and counters.
    RAISE NOTICE '%', ct4._run_summary(rid, p_job, r.status, r.stats);
    CALL ct4._run_chain();   -- the jobs that run after this one (it succeeded or failed for good)
    IF r.err_sqlstate IS NULL THEN
        RETURN;
    END IF;
    IF NOT p_raise THEN
        RAISE WARNING 'ct4 run % of job % FAILED (SQLSTATE %): %', rid, p_job, r.err_sqlstate, r.err_message;
        RETURN;
    END IF;
    RAISE EXCEPTION 'ct4 run % of job % FAILED: %', rid, p_job, r.err_message
        USING ERRCODE = r.err_sqlstate,
              DETAIL = concat('attempt ', p_attempt, ' of the job''s command', E'\n' || nullif(r.err_detail, '')),
              HINT = concat('The run is recorded in ct4.job_runs (run_id ', rid,
                            '); ct4.maintenance retries it after the job''s retry_delay.');
END $$;

-- Whether this session is pg_cron running an entry's command: a pg_cron 1.4
-- background worker (cron.use_background_workers = on) has backend_type
-- 'pg_cron'; a libpq connection (off) has application_name 'pg_cron', its
-- fallback_application_name. A session that sets application_name to
-- 'pg_cron' is taken for pg_cron: all it gains is the deadline check below.
CREATE FUNCTION ct4._called_by_pg_cron() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.current_setting('application_name') = 'pg_cron'
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a
                    WHERE a.backend_type = 'pg_cron')
$$;

-- Every ct4:<job> pg_cron entry runs CALL ct4.run_job('<job>') (SPEC 5).
-- By hand it always runs; pg_cron's call is the job's schedule, which for a
-- job with run_after is a deadline (SPEC 10): run_job_if_due decides.
CREATE PROCEDURE ct4.run_job(job_name text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF ct4._called_by_pg_cron() THEN
        CALL ct4.run_job_if_due(job_name, pg_catalog.now());
        RETURN;
    END IF;
    CALL ct4._run_job(job_name, 1, NULL, true);
END $$;

-- What pg_cron's fire of a job's entry does (a job with run_after: its
-- deadline, SPEC 10): runs it like run_job unless it already ran in this
-- cycle (then a NOTICE says so); when its predecessors have not all
-- succeeded, a NOTICE says which. Without run_after it is run_job.
-- `now` drives time in tests.
CREATE PROCEDURE ct4.run_job_if_due(job_name text, now timestamptz DEFAULT now())
LANGUAGE plpgsql AS $$
DECLARE
    why     text;
    waiting text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    why := ct4._deadline_skip(job_name, now);
    IF why IS NOT NULL THEN
        RAISE NOTICE 'ct4: job % not run at its deadline: %', job_name, why;
        RETURN;
    END IF;
    SELECT string_agg(format('%s (%s)', c.predecessor,
                             CASE WHEN c.enabled IS NULL THEN 'not a registered job'
                                  WHEN NOT c.enabled THEN 'disabled'
                                  WHEN c.last_status IS NULL THEN 'never ran'
                                  WHEN c.last_status = 'SUCCESS' THEN 'no success since this job''s last run'
                                  WHEN c.last_status IN ('FAILED', 'CRASHED') THEN 'last run ' || c.last_status || ', a retry pending'
                                  ELSE 'last run ' || c.last_status END), ', ')
      INTO waiting FROM ct4._chain_state(job_name) c WHERE NOT c.done;
    IF waiting IS NOT NULL THEN
        RAISE NOTICE 'ct4: job % runs at its deadline although it waits for: %', job_name, waiting;
    END IF;
    CALL ct4._run_job(job_name, 1, NULL, true);
END $$;

-- Deletes finished runs that started before as_of - keep, and resolved
-- alerts raised before it; each job's latest run and latest success stay
-- (ct4.job_status needs them). Returns the number of runs deleted.
CREATE FUNCTION ct4._prune_history(keep interval, as_of timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
                             WHERE status = 'SUCCESS'
                             ORDER BY job_name, started_at DESC, run_id DESC);
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM ct4.alert_events e WHERE e.resolved_at IS NOT NULL AND e.raised_at < as_of - keep;
    RETURN n;
END $$;

CREATE FUNCTION ct4.prune_history(keep interval DEFAULT '30 days') RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- The first step of ct4.maintenance: marks crashed runs, re-registers the
-- schedule when the zone's UTC offset changed (DST), returns the due retries.
CREATE FUNCTION ct4._maintenance_begin(as_of timestamptz)
RETURNS TABLE(job_name text, run_id bigint, attempt integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'now must not be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM ct4._reap_crashed();
    PERFORM ct4._schedule_dst_check(as_of);
    IF EXISTS (SELECT 1 FROM ct4.pause_state) THEN
        RETURN;   -- paused: the framework starts nothing on its own
    END IF;
    RETURN QUERY SELECT * FROM ct4._due_retries(as_of);
END $$;

-- The last step: prunes history older than the setting history_keep.
CREATE FUNCTION ct4._maintenance_end(as_of timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._prune_history(coalesce((SELECT s.value::interval FROM ct4.settings s
                                         WHERE s.name = 'history_keep'), '30 days'), as_of)
$$;

-- Every 5 minutes from pg_cron (ct4:maintenance): marks crashed runs,
-- re-registers the schedule when the zone's UTC offset changed (DST), runs
-- the due retries (each in its own transactions), prunes history. `now`
-- drives time in tests. Like _run_job it commits, so it pins search_path
-- for each of its transactions; the work is in SECURITY DEFINER functions.
CREATE PROCEDURE ct4.maintenance(now timestamptz DEFAULT now())
LANGUAGE plpgsql AS $$
DECLARE
    jobs     text[];
    runs     bigint[];
    attempts integer[];
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    SELECT array_agg(d.job_name ORDER BY d.job_name), array_agg(d.run_id ORDER BY d.job_name),
           array_agg(d.attempt ORDER BY d.job_name)
      INTO jobs, runs, attempts FROM ct4._maintenance_begin(now) d;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    FOR i IN 1 .. coalesce(array_length(jobs, 1), 0) LOOP
        RAISE NOTICE 'ct4 maintenance: retrying job % (run % failed), attempt %', jobs[i], runs[i], attempts[i];
        CALL ct4._run_job(jobs[i], attempts[i], runs[i]);
    END LOOP;
    CALL ct4._run_chain();   -- chained jobs whose predecessors succeeded (at the latest here)
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    PERFORM ct4._maintenance_end(now);
    COMMIT;
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._exec_with_timeout(text, interval)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._backend_alive(integer, timestamptz)', 'EXECUTE'),   -- job_status
    ('reader', 'routine', 'ct4._reap_crashed()', 'EXECUTE'),                       -- job_status
    ('reader', 'routine', 'ct4._live_status(text, integer, timestamptz)', 'EXECUTE'), -- job_status
    ('operator', 'routine', 'ct4._run_start(text, integer, bigint)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_exec(bigint)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_summary(bigint, text, text, jsonb)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_job(text, integer, bigint, boolean)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._called_by_pg_cron()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.run_job(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.run_job_if_due(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._external_scheduler()', 'EXECUTE'),            -- health
    ('reader', 'routine', 'ct4._chain_state(text)', 'EXECUTE'),               -- job_status
    ('operator', 'routine', 'ct4._chain_due()', 'EXECUTE'),
    ('operator', 'routine', 'ct4._deadline_skip(text, timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_chain()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._prune_history(interval, timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.prune_history(interval)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._due_retries(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._maintenance_begin(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._maintenance_end(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.maintenance(timestamptz)', 'EXECUTE');
