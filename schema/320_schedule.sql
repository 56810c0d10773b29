-- Scheduling on pg_cron 1.4 (SPEC 5). pg_cron lives in one database only
-- (cron.database_name) and ct4_jobs installs in any, so nothing here depends
-- on it at install time: it is detected at run time and every cron.* call is
-- dynamic, parameterized SQL.

-- The cron evaluator (C++ over src/core/cron.cpp).
CREATE FUNCTION ct4.cron_next(expr text, after timestamptz DEFAULT now()) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'ct4_cron_next' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_prev(expr text, before timestamptz DEFAULT now()) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'ct4_cron_prev' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_interval(expr text, after timestamptz DEFAULT now()) RETURNS interval
    AS 'MODULE_PATHNAME', 'ct4_cron_interval' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_local_to_utc(expr text, utc_offset_seconds integer) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_cron_local_to_utc' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION ct4.cron_error(expr text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_cron_error' LANGUAGE C IMMUTABLE STRICT;

-- Schedules are validated when written (SPEC 6): a cron line pg_cron 1.4
-- would refuse, or that never does what it says ('61 * * * *', '5-1 * * *
-- *'), is 22023 naming the row and saying what is allowed. TG_ARGV[0]: the
-- column; the row is named by job_name/profile.
CREATE FUNCTION ct4._schedule_row_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expr text := to_jsonb(NEW) ->> TG_ARGV[0];
    err  text := ct4.cron_error(expr);
BEGIN
    IF err IS NOT NULL THEN
        RAISE EXCEPTION '%.% of %: % is not a valid schedule: %', TG_TABLE_NAME, TG_ARGV[0],
            concat_ws(' ', 'profile ' || (to_jsonb(NEW) ->> 'profile'), 'job ' || (to_jsonb(NEW) ->> 'job_name')),
            quote_literal(expr), err
            USING ERRCODE = '22023',
            HINT = 'Allowed: five fields "minute hour day-of-month month day-of-week" (minute 0-59, hour 0-23, '
                   'day 1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat), each *, n, a-b, */n, a-b/n or a '
                   'comma list of them; or @hourly, @daily, @weekly, @monthly, @yearly. Times are wall-clock '
                   'times of the zone given to ct4.schedule().';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER job_schedules_valid BEFORE INSERT OR UPDATE OF schedule ON ct4.job_schedules
    FOR EACH ROW EXECUTE FUNCTION ct4._schedule_row_check('schedule');
CREATE TRIGGER schedule_profiles_valid BEFORE INSERT OR UPDATE OF maintenance ON ct4.schedule_profiles
    FOR EACH ROW EXECUTE FUNCTION ct4._schedule_row_check('maintenance');

-- UTC offset in seconds of `timezone` at `at` (local = UTC + offset).
-- An unknown zone is 22023 naming the argument.
CREATE FUNCTION ct4._zone_offset(timezone text, at timestamptz) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF timezone IS NULL THEN
        RAISE EXCEPTION 'timezone must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = timezone)
       AND NOT EXISTS (SELECT 1 FROM pg_timezone_abbrevs WHERE abbrev = upper(timezone)) THEN
        RAISE EXCEPTION 'timezone "%" is not a known time zone', timezone USING ERRCODE = '22023',
            HINT = 'Use a name from pg_timezone_names, e.g. ''America/Lima''.';
    END IF;
    RETURN extract(epoch FROM (at AT TIME ZONE timezone) - (at AT TIME ZONE 'UTC'))::integer;
END $$;

-- What ct4.schedule(profile, timezone) registers at as_of: one entry per
-- enabled job plus ct4:maintenance, local times converted to pg_cron's GMT
-- with the zone's offset in force at as_of. Needs no pg_cron.
CREATE FUNCTION ct4.schedule_plan(profile text DEFAULT 'production', timezone text DEFAULT 'UTC',
                                  as_of timestamptz DEFAULT now())
RETURNS TABLE(jobname text, job_name text, local_schedule text, utc_schedule text, command text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE off integer;
BEGIN
    IF profile IS NULL THEN
        RAISE EXCEPTION 'profile must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ct4.schedule_profiles p WHERE p.profile = schedule_plan.profile) THEN
        RAISE EXCEPTION 'profile "%" is not a schedule profile', profile USING ERRCODE = '22023',
            HINT = 'Profiles: SELECT profile FROM ct4.schedule_profiles (development, staging, production, high_load).';
    END IF;
    off := ct4._zone_offset(timezone, as_of);
    RETURN QUERY
    -- The same command for every job (SPEC 5); for a job with run_after,
    -- run_job knows pg_cron's call and treats it as a deadline.
    SELECT 'ct4:' || s.job_name, s.job_name, s.schedule, ct4.cron_local_to_utc(s.schedule, off),
           format('CALL ct4.run_job(%L)', s.job_name)
      FROM ct4.job_schedules s JOIN ct4.jobs j ON j.job_name = s.job_name
     WHERE s.profile = schedule_plan.profile AND j.enabled
    UNION ALL
    SELECT 'ct4:maintenance', NULL, p.maintenance, ct4.cron_local_to_utc(p.maintenance, off),
           'CALL ct4.maintenance()'
      FROM ct4.schedule_profiles p WHERE p.profile = schedule_plan.profile
     ORDER BY 1;
END $$;

-- Whether pg_cron is usable here; else a clear error (SQLSTATE 55000).
CREATE FUNCTION ct4._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
       OR to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
            DETAIL = format('cron.database_name is %s. pg_cron 1.4 schedules jobs only in that database.',
                            coalesce(quote_literal(current_setting('cron.database_name', true)), 'not set')),
            HINT = 'Install ct4_jobs in the database named by cron.database_name and run CREATE EXTENSION pg_cron there '
                   '(pg_cron must be in shared_preload_libraries). Without pg_cron, run jobs with CALL ct4.run_job(...).';
    END IF;
END $$;

-- Makes pg_cron's ct4:* entries equal to schedule_plan(profile, timezone,
-- as_of): adds and updates what differs, removes ct4:* entries not in the
-- plan (disabled jobs). Idempotent. Returns the plan. Runs as the
-- extension's owner (every caller is SECURITY DEFINER), so the entries
-- belong to the owner whoever schedules: pg_cron runs them as the owner,
-- and an operator's schedule() or pause() acts on those same entries.
CREATE FUNCTION ct4._sync_schedule(p_profile text, p_timezone text, as_of timestamptz)
RETURNS TABLE(jobname text, local_schedule text, utc_schedule text, command text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e      record;
    jid    bigint;
    -- Paused: the entries are registered (so that a schedule, enable_job or
    -- disable_job during the pause is recorded) but inactive until resume.
    active boolean := NOT EXISTS (SELECT 1 FROM ct4.pause_state);
BEGIN
    PERFORM ct4._require_pg_cron();
    CREATE TEMP TABLE IF NOT EXISTS _ct4_plan (LIKE ct4.scheduled_jobs) ON COMMIT DROP;
    TRUNCATE _ct4_plan;
    INSERT INTO _ct4_plan (jobname, job_name, local_schedule, utc_schedule, command, registered_at)
    SELECT p.jobname, p.job_name, p.local_schedule, p.utc_schedule, p.command, as_of
      FROM ct4.schedule_plan(p_profile, p_timezone, as_of) p;

    -- Entries of ours that the plan no longer has, and ct4:* entries of any
    -- other user (copies: pg_cron runs an entry as its user): by id, since
    -- pg_cron 1.4 unschedules by name only the caller's own entry.
    FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%''
                         AND (jobname <> ALL ($1) OR username <> current_user)'
               USING (SELECT array_agg(p.jobname) FROM _ct4_plan p) LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING e.jobid;
    END LOOP;
    -- New or changed entries (cron.schedule updates an entry of the same name).
    FOR e IN EXECUTE
        'SELECT p.jobname, p.utc_schedule, p.command FROM pg_temp._ct4_plan p
          WHERE NOT EXISTS (SELECT 1 FROM cron.job c WHERE c.jobname = p.jobname AND c.schedule = p.utc_schedule
                               AND c.command = p.command AND c.active = $1 AND c.database = current_database())'
        USING active LOOP
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jid USING e.jobname, e.utc_schedule, e.command;
        EXECUTE 'SELECT cron.alter_job($1, active => $2)' USING jid, active;   -- an update keeps 'active'
    END LOOP;

    -- Keep registered_at of entries that stayed (the job stayed scheduled).
    DELETE FROM ct4.scheduled_jobs s WHERE s.jobname NOT IN (SELECT p.jobname FROM _ct4_plan p);
    INSERT INTO ct4.scheduled_jobs AS s
    SELECT * FROM _ct4_plan
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey DO UPDATE
       SET local_schedule = excluded.local_schedule, utc_schedule = excluded.utc_schedule,
           command = excluded.command, job_name = excluded.job_name;
    INSERT INTO ct4.schedule_choice (profile, timezone, chosen_at) VALUES (p_profile, p_timezone, as_of)
    ON CONFLICT (singleton) DO UPDATE SET profile = excluded.profile, timezone = excluded.timezone,
                                          chosen_at = excluded.chosen_at;
    INSERT INTO ct4.schedule_state (profile, timezone, utc_offset, scheduled_at)
    VALUES (p_profile, p_timezone, ct4._zone_offset(p_timezone, as_of), as_of)
    ON CONFLICT (singleton) DO UPDATE
       SET profile = excluded.profile, timezone = excluded.timezone, utc_offset = excluded.utc_offset,
           scheduled_at = CASE WHEN ct4.schedule_state.profile = excluded.profile
                                AND ct4.schedule_state.timezone = excluded.timezone
                               THEN ct4.schedule_state.scheduled_at ELSE excluded.scheduled_at END;
    RETURN QUERY SELECT p.jobname, p.local_schedule, p.utc_schedule, p.command FROM _ct4_plan p ORDER BY 1;
END $$;

-- The operator's entry points below are SECURITY DEFINER: pg_cron's schema
-- is the owner's, and the entries must be the owner's (see _sync_schedule).
-- NULL profile or timezone: the one last given (ct4.schedule_choice, kept
-- by unschedule), else 'production' / 'UTC' (SPEC 5).
CREATE FUNCTION ct4.schedule(profile text DEFAULT NULL, timezone text DEFAULT NULL)
RETURNS TABLE(jobname text, local_schedule text, utc_schedule text, command text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.* FROM (SELECT coalesce(schedule.profile, (SELECT c.profile FROM ct4.schedule_choice c), 'production') AS p,
                            coalesce(schedule.timezone, (SELECT c.timezone FROM ct4.schedule_choice c), 'UTC') AS tz) a
     CROSS JOIN LATERAL ct4._sync_schedule(a.p, a.tz, now()) s
$$;

-- Removes every ct4:* pg_cron entry; returns how many. The profile and zone
-- stay in ct4.schedule_choice for the next ct4.schedule().
CREATE FUNCTION ct4.unschedule() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    n integer := 0;
BEGIN
    PERFORM ct4._require_pg_cron();
    FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%''' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING e.jobid;
        n := n + 1;
    END LOOP;
    DELETE FROM ct4.scheduled_jobs;
    DELETE FROM ct4.schedule_state;
    RETURN n;
END $$;

-- Called by ct4.maintenance: when the active zone's UTC offset at as_of
-- differs from the one the entries were computed with (a DST change),
-- recomputes and re-registers them. Returns true when it did.
CREATE FUNCTION ct4._schedule_dst_check(as_of timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE st ct4.schedule_state;
BEGIN
    SELECT * INTO st FROM ct4.schedule_state;
    IF NOT FOUND OR ct4._zone_offset(st.timezone, as_of) = st.utc_offset
       OR to_regnamespace('cron') IS NULL THEN
        RETURN false;
    END IF;
    RAISE NOTICE 'ct4: UTC offset of % changed from % s to % s; re-registering the schedule',
        st.timezone, st.utc_offset, ct4._zone_offset(st.timezone, as_of);
    PERFORM ct4._sync_schedule(st.profile, st.timezone, as_of);
    RETURN true;
END $$;

-- Re-applies the active schedule after enable/disable (no-op when nothing is
-- scheduled or pg_cron is absent here).
CREATE FUNCTION ct4._resync_schedule() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE st ct4.schedule_state;
BEGIN
    SELECT * INTO st FROM ct4.schedule_state;
    IF FOUND AND to_regnamespace('cron') IS NOT NULL THEN
        PERFORM ct4._sync_schedule(st.profile, st.timezone, now());
    END IF;
END $$;

CREATE FUNCTION ct4._set_enabled(p_job text, p_enabled boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_job IS NULL THEN
        RAISE EXCEPTION 'name must not be NULL' USING ERRCODE = '22023';
    END IF;
    UPDATE ct4.jobs SET enabled = p_enabled WHERE job_name = p_job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name "%" is not a registered job', p_job USING ERRCODE = '22023',
            HINT = 'Registered jobs: SELECT job_name FROM ct4.jobs.';
    END IF;
    PERFORM ct4._resync_schedule();
    RETURN p_enabled;
END $$;

-- Disabling removes the job's pg_cron entry (and stops its retries); it
-- still runs by hand. Enabling registers it again with the active profile.
CREATE FUNCTION ct4.enable_job(name text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._set_enabled(name, true)
$$;
CREATE FUNCTION ct4.disable_job(name text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._set_enabled(name, false)
$$;

-- Pausing (SPEC 10; seed 004's backup: stop tasks, pg_dump, start tasks).
-- ct4.pause(reason) stops every ct4: pg_cron entry (inactive, kept as it
-- is) and the framework starts nothing on its own (no retries, no chained
-- starts) until ct4.resume(), which registers the entries again from the
-- recorded profile and zone: they come back as they were, with what
-- schedule(), enable_job() and disable_job() changed meanwhile. A second
-- pause keeps the first reason. Both return the number of entries stopped
-- or running again. Without pg_cron (an external scheduler) the pause is
-- recorded and shown by health(); stopping the external scheduler is its own.
CREATE FUNCTION ct4.pause(reason text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p ct4.pause_state;
    e record;
    n integer := 0;
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'reason must say why the schedules are paused (got %)', coalesce(quote_literal(reason), 'NULL')
            USING ERRCODE = '22023', HINT = 'For example: SELECT ct4.pause(''pg_dump before the upgrade'');';
    END IF;
    SELECT * INTO p FROM ct4.pause_state;
    IF FOUND THEN
        RAISE NOTICE 'ct4: already paused since % by %: % (the first reason is kept)', p.since, p.paused_by, p.reason
            USING HINT = 'SELECT ct4.resume() ends the pause.';
    ELSE
        INSERT INTO ct4.pause_state (reason, since, paused_by) VALUES (reason, now(), ct4._actor());
    END IF;
    IF to_regclass('cron.job') IS NOT NULL THEN
        FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%'' AND active ORDER BY jobid' LOOP
            EXECUTE 'SELECT cron.alter_job($1, active => false)' USING e.jobid;
            n := n + 1;
        END LOOP;
    END IF;
    RETURN n;
END $$;

CREATE FUNCTION ct4.resume() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p  ct4.pause_state;
    st ct4.schedule_state;
    n  integer := 0;
BEGIN
    DELETE FROM ct4.pause_state RETURNING * INTO p;
    IF NOT FOUND THEN
        RAISE NOTICE 'ct4: not paused, nothing to resume';
        RETURN 0;
    END IF;
    SELECT * INTO st FROM ct4.schedule_state;
    IF FOUND AND to_regclass('cron.job') IS NOT NULL THEN
        PERFORM ct4._sync_schedule(st.profile, st.timezone, now());
        EXECUTE 'SELECT count(*) FROM cron.job WHERE jobname LIKE ''ct4:%'' AND active' INTO n;
    END IF;
    RAISE NOTICE 'ct4: resumed after % (paused since % by %: %)', now() - p.since, p.since, p.paused_by, p.reason;
    RETURN n;
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('operator', 'routine', 'ct4.pause(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.resume()', 'EXECUTE');

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'routine', 'ct4.cron_next(text, timestamptz)', 'EXECUTE'),   -- job_status
    ('reader', 'routine', 'ct4.cron_interval(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_prev(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_local_to_utc(text, integer)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_error(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._schedule_row_check()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.schedule_plan(text, text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._zone_offset(text, timestamptz)', 'EXECUTE'),   -- schedule_plan
    ('owner', 'routine', 'ct4._require_pg_cron()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._sync_schedule(text, text, timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._schedule_dst_check(timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._resync_schedule()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._set_enabled(text, boolean)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.schedule(text, text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.unschedule()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.enable_job(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.disable_job(text)', 'EXECUTE');
