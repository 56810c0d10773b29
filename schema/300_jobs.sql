-- Job framework (SPEC 5): the job registry, per-profile schedules and limits,
-- and the state of what ct4.schedule() registered in pg_cron.

-- One row per job. `command` is admin-defined SQL that ct4.run_job EXECUTEs
-- (the job's default arguments live in it). Limits here are the defaults;
-- a schedule profile may override them (ct4.job_schedules).
CREATE TABLE ct4.jobs (
    job_name    text PRIMARY KEY CHECK (job_name ~ '^[a-z][a-z0-9_]*$' AND job_name <> 'maintenance'),
    command     text        NOT NULL CHECK (length(btrim(command)) > 0),
    description text,
    enabled     boolean     NOT NULL DEFAULT true,
    max_runtime interval    NOT NULL DEFAULT '30 minutes' CHECK (max_runtime > '0'),
    max_retries integer     NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 100),
    retry_delay interval    NOT NULL DEFAULT '10 minutes' CHECK (retry_delay >= '0'),
    -- Job chains (SPEC 10): the jobs this one runs after. The framework starts
    -- it once all of them have succeeded since its own latest run; its
    -- schedule is then a deadline (pg_cron's CALL ct4.run_job decides with
    -- ct4.run_job_if_due). Checked when written.
    run_after   text[] CHECK (cardinality(run_after) > 0)
);
INSERT INTO ct4.jobs (job_name, command, description, max_runtime, run_after) VALUES
    ('reconcile_leads_pipeline', 'SELECT * FROM ct4.reconcile_leads_pipeline(30, 2000)',
     'Identity matching: links leads to persons and persons to drivers', '10 minutes', NULL),
    ('reconcile_claims_14d', 'SELECT * FROM ct4.reconcile_claims_14d(21, 1000)',
     'Files the claims that are missing although a milestone was reached', '30 minutes', NULL),
    ('check_limbo_alerts', 'SELECT * FROM ct4.check_limbo_alerts()',
     'Compares limbo counts and job health with ct4.alert_rules, raises alerts', '5 minutes',
     '{reconcile_leads_pipeline,reconcile_claims_14d}');

-- run_after of the rows written names registered jobs and makes no cycle
-- (22023 naming the job). Only written rows are checked, after the whole
-- statement (a restore's COPY replaces default rows one by one). Deleting a
-- job others run after leaves the name: such a predecessor never succeeds,
-- so its dependents run at their deadline, and job_status shows it.
CREATE FUNCTION ct4._jobs_run_after_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT j.job_name, p.name INTO bad
      FROM ct4.jobs j CROSS JOIN LATERAL unnest(j.run_after) p(name)
     WHERE j.job_name IN (SELECT n.job_name FROM new_rows n)
       AND (p.name IS NULL OR NOT EXISTS (SELECT 1 FROM ct4.jobs k WHERE k.job_name = p.name))
     ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run_after of job "%" names %, which is not a registered job', bad.job_name,
            coalesce('"' || bad.name || '"', 'NULL')
            USING ERRCODE = '22023',
            HINT = 'run_after lists job names of ct4.jobs (SELECT job_name FROM ct4.jobs).';
    END IF;
    WITH RECURSIVE walk(start, cur, path) AS (
        SELECT j.job_name, p.name, ARRAY[j.job_name]
          FROM ct4.jobs j CROSS JOIN LATERAL unnest(j.run_after) p(name)
         WHERE j.job_name IN (SELECT n.job_name FROM new_rows n)
        UNION ALL
        SELECT w.start, p.name, w.path || w.cur
          FROM walk w JOIN ct4.jobs j ON j.job_name = w.cur
         CROSS JOIN LATERAL unnest(j.run_after) p(name)
         WHERE w.cur <> ALL (w.path))
    SELECT w.start AS job_name, array_to_string(w.path || w.cur, ' -> ') AS name INTO bad
      FROM walk w WHERE w.cur = w.start ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run_after of job "%" makes a cycle: %', bad.job_name, bad.name
            USING ERRCODE = '22023',
            HINT = 'A job cannot run after itself, directly or through others: remove one name from run_after.';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_run_after_insert AFTER INSERT ON ct4.jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._jobs_run_after_check();
CREATE TRIGGER jobs_run_after_update AFTER UPDATE ON ct4.jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._jobs_run_after_check();

-- Schedule profiles (seed 004's per-environment settings). `maintenance`
-- is the schedule of ct4:maintenance (retries, pruning, DST re-registration).
CREATE TABLE ct4.schedule_profiles (
    profile     text PRIMARY KEY,
    maintenance text NOT NULL,
    description text
);
INSERT INTO ct4.schedule_profiles VALUES
    ('development', '*/2 * * * *',  'Hourly jobs so that results show within the hour; maintenance every 2 min'),
    ('staging',     '*/5 * * * *',  'Same cadence as production'),
    ('production',  '*/5 * * * *',  'Seed values: leads every 15 min, claims 02:30, alerts 02:35'),
    ('high_load',   '*/10 * * * *', 'Half the frequency, 5 retries');

-- Per profile and job: the schedule (in the wall-clock time of the timezone
-- given to ct4.schedule) and optional limit overrides (NULL = ct4.jobs').
CREATE TABLE ct4.job_schedules (
    profile     text NOT NULL REFERENCES ct4.schedule_profiles ON UPDATE CASCADE ON DELETE CASCADE,
    job_name    text NOT NULL REFERENCES ct4.jobs ON UPDATE CASCADE ON DELETE CASCADE,
    schedule    text NOT NULL,
    max_runtime interval CHECK (max_runtime > '0'),
    max_retries integer CHECK (max_retries BETWEEN 0 AND 100),
    retry_delay interval CHECK (retry_delay >= '0'),
    PRIMARY KEY (profile, job_name)
);
INSERT INTO ct4.job_schedules (profile, job_name, schedule, max_runtime, max_retries) VALUES
    ('development', 'reconcile_leads_pipeline', '0 * * * *',    NULL, NULL),
    ('development', 'reconcile_claims_14d',     '30 * * * *',   NULL, NULL),
    ('development', 'check_limbo_alerts',       '35 * * * *',   NULL, NULL),
    ('staging',     'reconcile_leads_pipeline', '*/15 * * * *', NULL, NULL),
    ('staging',     'reconcile_claims_14d',     '30 2 * * *',   NULL, NULL),
    ('staging',     'check_limbo_alerts',       '35 2 * * *',   NULL, NULL),
    ('production',  'reconcile_leads_pipeline', '*/15 * * * *', NULL, NULL),
    ('production',  'reconcile_claims_14d',     '30 2 * * *',   NULL, NULL),
    ('production',  'check_limbo_alerts',       '35 2 * * *',   NULL, NULL),
    ('high_load',   'reconcile_leads_pipeline', '*/30 * * * *', '25 minutes', 5),
    ('high_load',   'reconcile_claims_14d',     '30 2 * * *',   NULL, 5),
    ('high_load',   'check_limbo_alerts',       '35 2 * * *',   NULL, 5);

-- The profile and zone last given to ct4.schedule(); kept by unschedule(),
-- so that ct4.schedule() without arguments comes back as it was.
CREATE TABLE ct4.schedule_choice (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    profile   text        NOT NULL,
    timezone  text        NOT NULL,
    chosen_at timestamptz NOT NULL
);
-- A pause (SPEC 10, ct4.pause): while this row exists every ct4: pg_cron
-- entry is inactive and the framework starts nothing on its own.
CREATE TABLE ct4.pause_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    reason    text        NOT NULL,
    since     timestamptz NOT NULL,
    paused_by name        NOT NULL
);

-- What ct4.schedule() registered: the active profile and zone, the zone's
-- UTC offset when the cron lines were computed (ct4.maintenance re-registers
-- when it changes: DST), and each pg_cron entry.
CREATE TABLE ct4.schedule_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    profile      text        NOT NULL,
    timezone     text        NOT NULL,
    utc_offset   integer     NOT NULL,   -- seconds, local = UTC + offset
    scheduled_at timestamptz NOT NULL
);
CREATE TABLE ct4.scheduled_jobs (
    jobname        text PRIMARY KEY,      -- pg_cron entry name: ct4:<job_name> | ct4:maintenance
    job_name       text,                  -- NULL for ct4:maintenance
    local_schedule text        NOT NULL,
    utc_schedule   text        NOT NULL,
    command        text        NOT NULL,
    registered_at  timestamptz NOT NULL
);

-- A job's command runs with the rights of the extension's owner (ct4.run_job,
-- pg_cron), so only the owner registers jobs or changes a command (SPEC 6).
-- Operators change the limits (column grants below) and enable, disable,
-- schedule and pause through SECURITY DEFINER functions.
CREATE TRIGGER jobs_owner_only BEFORE INSERT OR UPDATE ON ct4.jobs
    FOR EACH ROW EXECUTE FUNCTION ct4._owner_only_rows('command', 'job_name');

-- The job lock (SPEC 4, amended): a run holds its job's row here FOR UPDATE
-- until it commits; a second run finds it locked and is SKIPPED_LOCKED. Only
-- the owner can lock these rows (no role is granted UPDATE on the table),
-- so no unprivileged role can stop a job, unlike an advisory lock, which
-- any connected role can take. A table of its own, not the ct4.jobs row: an
-- operator's enable_job, disable_job or limit change must not wait for a
-- run. One row per job, made when the job is registered (ct4._job_lock
-- makes a missing one).
CREATE TABLE ct4.job_locks (
    job_name text PRIMARY KEY
);
SELECT pg_catalog.pg_extension_config_dump('ct4.job_locks', 'WHERE false');
CREATE FUNCTION ct4._job_locks_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO ct4.job_locks (job_name) SELECT n.job_name FROM new_rows n
        ON CONFLICT (job_name) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_lock_rows AFTER INSERT ON ct4.jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._job_locks_add();
INSERT INTO ct4.job_locks SELECT job_name FROM ct4.jobs;

-- Takes the lock of `job` until the end of the transaction. p_wait = false:
-- returns false at once when another transaction holds it (SKIP LOCKED, so
-- no error and no subtransaction); true: waits for it (ct4.unlink).
CREATE FUNCTION ct4._job_lock(p_job text, p_wait boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ct4.job_locks l WHERE l.job_name = p_job) THEN
        INSERT INTO ct4.job_locks (job_name) VALUES (p_job) ON CONFLICT (job_name) DO NOTHING;
    END IF;
    IF p_wait THEN
        PERFORM 1 FROM ct4.job_locks l WHERE l.job_name = p_job FOR UPDATE;
    ELSE
        PERFORM 1 FROM ct4.job_locks l WHERE l.job_name = p_job FOR UPDATE SKIP LOCKED;
    END IF;
    RETURN FOUND;
END $$;

-- Config tables with default rows are dumped; a restore replaces the default
-- row of the same key (see ct4._config_row_replaces).
CREATE TRIGGER jobs_replace BEFORE INSERT ON ct4.jobs
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('job_name');
CREATE TRIGGER schedule_profiles_replace BEFORE INSERT ON ct4.schedule_profiles
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('profile');

CREATE FUNCTION ct4._job_schedules_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM ct4.job_schedules s WHERE s.profile = NEW.profile AND s.job_name = NEW.job_name;
    RETURN NEW;
END $$;
CREATE TRIGGER job_schedules_replace BEFORE INSERT ON ct4.job_schedules
    FOR EACH ROW EXECUTE FUNCTION ct4._job_schedules_replace();

SELECT pg_catalog.pg_extension_config_dump('ct4.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.job_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_state', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.scheduled_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_choice', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.pause_state', '');

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._job_schedules_replace()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._job_locks_add()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._job_lock(text, boolean)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._job_limits(text)', 'EXECUTE'),   -- job_status (waiting_for): reads what the reader may read
    ('owner', 'routine', 'ct4._jobs_run_after_check()', 'EXECUTE'),
    -- Limits, profiles and per-profile schedules are the operator's to edit
    -- (a schedule names a registered job: no SQL of the operator's runs).
    -- run_after only orders registered jobs: no SQL of the operator's runs.
    ('operator', 'table', 'ct4.jobs', 'UPDATE (description, max_runtime, max_retries, retry_delay, run_after)'),
    ('operator', 'table', 'ct4.schedule_profiles', 'INSERT, UPDATE, DELETE'),
    ('operator', 'table', 'ct4.job_schedules', 'INSERT, UPDATE, DELETE');

INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value) VALUES
    ('history_keep', '30 days', 'How long ct4.maintenance keeps finished runs and resolved alerts (ct4.prune_history)',
     'interval', '0 seconds', '100 years'),
    ('external_scheduler', 'false', 'true when an external scheduler (system cron, Kubernetes CronJob, ...) calls ct4.run_job and ct4.maintenance instead of pg_cron: health() then needs no pg_cron and chained jobs start after their predecessors',
     'boolean', NULL, NULL);

-- The limits in force for a job: the active profile's overrides, else the job's.
CREATE FUNCTION ct4._job_limits(p_job text,
    OUT max_runtime interval, OUT max_retries integer, OUT retry_delay interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(s.max_runtime, j.max_runtime), coalesce(s.max_retries, j.max_retries),
           coalesce(s.retry_delay, j.retry_delay)
      FROM ct4.jobs j
      LEFT JOIN ct4.schedule_state st ON true
      LEFT JOIN ct4.job_schedules s ON s.profile = st.profile AND s.job_name = j.job_name
     WHERE j.job_name = p_job
$$;
