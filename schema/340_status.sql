-- Watching the jobs (SPEC 5): ct4.job_status, ct4.health(), ct4.metrics().

-- Reading the view first marks runs whose backend died as CRASHED (in a
-- read-write transaction); its status columns are computed live anyway.
CREATE VIEW ct4.job_status AS
WITH reaped AS MATERIALIZED (SELECT ct4._reap_crashed() AS n)
SELECT j.job_name,
       j.enabled,
       s.local_schedule AS schedule,
       coalesce(run.running, false) AS running,
       last.run_id AS last_run_id,
       last.started_at AS last_started_at,
       last.status AS last_status,
       CASE WHEN last.finished_at IS NOT NULL
            THEN round((extract(epoch FROM last.finished_at - last.started_at) * 1000)::numeric, 3)::float8
       END AS last_duration_ms,
       ok.last_success_at,
       CASE WHEN j.enabled AND s.utc_schedule IS NOT NULL THEN ct4.cron_next(s.utc_schedule, now()) END
           AS next_run_at,
       coalesce(agg.total_runs, 0) AS total_runs,
       coalesce(agg.total_failures, 0) AS total_failures,
       coalesce(cf.consecutive_failures, 0) AS consecutive_failures,
       st.timezone AS schedule_timezone,
       s.utc_schedule AS schedule_utc,
       -- run_after: the predecessors that have neither succeeded nor failed for
       -- good since this job's latest run (empty: it starts now or has
       -- started); NULL without run_after
       CASE WHEN j.run_after IS NOT NULL THEN
           ARRAY(SELECT c.predecessor FROM ct4._chain_state(j.job_name) c WHERE NOT c.done) END AS waiting_for
  FROM ct4.jobs j
  CROSS JOIN reaped
  LEFT JOIN ct4.schedule_state st ON true
  LEFT JOIN ct4.scheduled_jobs s ON s.job_name = j.job_name
  LEFT JOIN LATERAL (
        SELECT r.run_id, r.started_at, r.finished_at,
               ct4._live_status(r.status, r.backend_pid, r.started_at) AS status
          FROM ct4.job_runs r WHERE r.job_name = j.job_name
         ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (
        SELECT bool_or(ct4._backend_alive(r.backend_pid, r.started_at)) AS running
          FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'RUNNING') run ON true
  LEFT JOIN LATERAL (
        SELECT max(r.started_at) AS last_success_at
          FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'SUCCESS') ok ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS total_runs,
               count(*) FILTER (WHERE ct4._live_status(r.status, r.backend_pid, r.started_at)
                                      IN ('FAILED', 'CRASHED')) AS total_failures
          FROM ct4.job_runs r WHERE r.job_name = j.job_name) agg ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS consecutive_failures
          FROM ct4.job_runs r
         WHERE r.job_name = j.job_name
           AND ct4._live_status(r.status, r.backend_pid, r.started_at) IN ('FAILED', 'CRASHED')
           AND r.started_at > coalesce(ok.last_success_at, '-infinity')) cf ON true;

-- pg_cron's state: extension here, and its launcher process in the cluster.
CREATE FUNCTION ct4._pg_cron_state(OUT installed boolean, OUT scheduler_running boolean)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') AND to_regnamespace('cron') IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher')
$$;

-- healthy | degraded | unhealthy, with the reasons (see docs/operations.md):
--   unhealthy: an open critical alert; a job whose retries are used up
--              (consecutive failures > max_retries); scheduled but pg_cron's
--              scheduler is not running.
--   degraded:  pg_cron missing here or nothing scheduled (jobs run only by
--              hand); a job whose last run failed (retry pending); an open
--              warning alert.
-- health() and metrics() are SECURITY DEFINER so that a reader sees what a
-- superuser sees: other users' rows of pg_stat_activity (pg_cron's launcher,
-- the runs' backends) are hidden from an ordinary role.
CREATE FUNCTION ct4.health() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cron     record;
    bad      text[] := '{}';
    warn     text[] := '{}';
    jobs     jsonb;
    alerts   jsonb;
    r        record;
    scheduled boolean := EXISTS (SELECT 1 FROM ct4.schedule_state);
    external boolean := ct4._external_scheduler();
    pause    ct4.pause_state;
BEGIN
    SELECT * INTO pause FROM ct4.pause_state;
    SELECT * INTO cron FROM ct4._pg_cron_state();
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job_name', s.job_name, 'enabled', s.enabled, 'schedule', s.schedule,
               'running', s.running, 'last_status', s.last_status, 'last_started_at', s.last_started_at,
               'last_success_at', s.last_success_at, 'next_run_at', s.next_run_at,
               'consecutive_failures', s.consecutive_failures, 'max_retries', lim.max_retries,
               'waiting_for', s.waiting_for)
               ORDER BY s.job_name), '[]')
      INTO jobs
      FROM ct4.job_status s CROSS JOIN LATERAL ct4._job_limits(s.job_name) lim;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'event_id', e.event_id, 'rule_code', e.rule_code, 'severity', e.severity,
               'metric_value', e.metric_value, 'threshold', e.threshold, 'message', e.message,
               'raised_at', e.raised_at) ORDER BY e.event_id), '[]')
      INTO alerts FROM ct4.alert_events e WHERE e.resolved_at IS NULL;

    -- An external scheduler (setting external_scheduler) is a design, not a
    -- fault: no pg_cron or no pg_cron schedule is then fine.
    IF NOT cron.installed AND NOT external THEN
        warn := warn || format('pg_cron is not installed in database %s: jobs run only by hand '
                               '(with an external scheduler, set ct4.settings external_scheduler = true)', current_database());
    ELSIF cron.installed AND NOT scheduled AND NOT external THEN
        warn := warn || 'no schedule is registered: run SELECT ct4.schedule(...)'::text;
    ELSIF scheduled AND NOT cron.scheduler_running THEN
        bad := bad || 'jobs are scheduled but the pg_cron scheduler is not running'::text;
    END IF;
    IF pause.reason IS NOT NULL THEN
        warn := warn || format('schedules paused since %s by %s: %s (SELECT ct4.resume() resumes them)',
                               pause.since, pause.paused_by, pause.reason);
    END IF;
    FOR r IN SELECT x->>'job_name' AS job, (x->>'consecutive_failures')::int AS cf,
                    (x->>'max_retries')::int AS mr, x->>'last_status' AS ls
               FROM jsonb_array_elements(jobs) x
              WHERE (x->>'consecutive_failures')::int > 0 LOOP
        IF r.cf > r.mr THEN
            bad := bad || format('job %s failed %s times in a row (retries used up)', r.job, r.cf);
        ELSE
            warn := warn || format('job %s: last run %s (%s consecutive failure(s), retry pending)', r.job, r.ls, r.cf);
        END IF;
    END LOOP;
    FOR r IN SELECT x->>'severity' AS sev, x->>'rule_code' AS rule, x->>'message' AS msg
               FROM jsonb_array_elements(alerts) x LOOP
        IF r.sev = 'critical' THEN
            bad := bad || format('open critical alert %s: %s', r.rule, r.msg);
        ELSE
            warn := warn || format('open %s alert %s: %s', r.sev, r.rule, r.msg);
        END IF;
    END LOOP;

    RETURN jsonb_build_object(
        'status', CASE WHEN cardinality(bad) > 0 THEN 'unhealthy'
                       WHEN cardinality(warn) > 0 THEN 'degraded' ELSE 'healthy' END,
        'reasons', to_jsonb(bad || warn),
        'pg_cron', jsonb_build_object('installed', cron.installed, 'scheduler_running', cron.scheduler_running),
        'scheduler', CASE WHEN scheduled THEN 'pg_cron' WHEN external THEN 'external' ELSE 'none' END,
        'jobs', jobs,
        'open_alerts', alerts,
        'checked_at', now())
        || CASE WHEN pause.reason IS NOT NULL THEN
               jsonb_build_object('paused', jsonb_build_object('reason', pause.reason, 'since', pause.since,
                                                               'by', pause.paused_by))
           ELSE '{}' END;
END $$;

-- A Prometheus label value: backslash, double quote and newline escaped.
CREATE FUNCTION ct4._prom_label(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT '"' || replace(replace(replace(v, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"'
$$;

-- Prometheus text exposition format (version 0.0.4); every metric ct4_*.
-- Writes nothing (no temporary table, no reaping: job_status computes
-- CRASHED live), so it works in a READ ONLY transaction and on a hot
-- standby. The counters (_total, the summary) come from ct4.run_counters,
-- which pruning does not shrink. The limbo counts read the SPEC 3 views,
-- which read settings: if they fail (a malformed setting, a missing view),
-- ct4_metrics_section_ok{section="limbo"} is 0 and every other family is
-- still served.
-- JIT off: the estimates of the per-job lateral subqueries cross the JIT
-- thresholds and compiling cost most of a call (1.7 s of a 4 ms query
-- measured here; docs/operations.md "Prometheus").
CREATE FUNCTION ct4.metrics() RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    cron   record;
    out    text;
    limbo  text[] := '{}';
    lok    integer := 1;
BEGIN
    PERFORM ct4._reap_crashed();   -- nothing in a READ ONLY transaction
    SELECT * INTO cron FROM ct4._pg_cron_state();
    -- Limbo counts by stage: one pass over the view, zeros for empty stages.
    BEGIN
        IF to_regclass('ops.v_cabinet_leads_limbo') IS NULL THEN
            lok := 0;
        ELSE
            EXECUTE $q$
                WITH counts AS (SELECT l.limbo_stage, count(*) AS n
                                  FROM ops.v_cabinet_leads_limbo l GROUP BY l.limbo_stage)
                SELECT array_agg(format('ct4_limbo_leads{stage=%s} %s', ct4._prom_label(v.stage),
                                        coalesce(c.n, 0)) ORDER BY v.ord)
                  FROM (VALUES (1, 'NO_IDENTITY'), (2, 'NO_DRIVER'), (3, 'NO_TRIPS_14D'),
                               (4, 'TRIPS_NO_CLAIM'), (5, 'OK')) v(ord, stage)
                  LEFT JOIN counts c ON c.limbo_stage = v.stage
            $q$ INTO limbo;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        lok := 0;
        limbo := '{}';
        RAISE WARNING 'ct4.metrics: limbo counts skipped: %', SQLERRM
            USING HINT = 'Check ct4.settings (window_days) and the ops views; the other metrics are served.';
    END;

    WITH st AS (SELECT * FROM ct4.job_status),
    cnt AS (SELECT c.job_name, c.status, c.runs, c.duration_seconds FROM ct4.run_counters c),
    samples(family, ord, line) AS (
        SELECT 'ct4_job_runs_total', 1, format('ct4_job_runs_total{job=%s,status=%s} %s',
                   ct4._prom_label(c.job_name), ct4._prom_label(c.status), c.runs)
          FROM cnt c
        UNION ALL
        SELECT 'ct4_job_failures_total', 1, format('ct4_job_failures_total{job=%s} %s',
                   ct4._prom_label(s.job_name),
                   (SELECT coalesce(sum(c.runs), 0) FROM cnt c
                     WHERE c.job_name = s.job_name AND c.status IN ('FAILED', 'CRASHED')))
          FROM st s
        UNION ALL
        SELECT 'ct4_job_duration_seconds', x.ord, format('ct4_job_duration_seconds_%s{job=%s} %s',
                   x.k, ct4._prom_label(d.job_name), CASE x.k WHEN 'sum' THEN d.s::text ELSE d.n::text END)
          FROM (SELECT c.job_name, sum(c.runs) AS n, round(sum(c.duration_seconds)::numeric, 6) AS s
                  FROM cnt c WHERE c.status <> 'SKIPPED_LOCKED' GROUP BY c.job_name) d
          CROSS JOIN (VALUES (1, 'sum'), (2, 'count')) x(ord, k)
        UNION ALL
        SELECT 'ct4_job_last_duration_seconds', 1, format('ct4_job_last_duration_seconds{job=%s} %s',
                   ct4._prom_label(s.job_name), round((s.last_duration_ms / 1000)::numeric, 6))
          FROM st s WHERE s.last_duration_ms IS NOT NULL
        UNION ALL
        SELECT 'ct4_job_last_success_timestamp_seconds', 1, format('ct4_job_last_success_timestamp_seconds{job=%s} %s',
                   ct4._prom_label(s.job_name), round(extract(epoch FROM s.last_success_at)::numeric, 3))
          FROM st s WHERE s.last_success_at IS NOT NULL
        UNION ALL
        SELECT 'ct4_job_running', 1, format('ct4_job_running{job=%s} %s', ct4._prom_label(s.job_name), s.running::int)
          FROM st s
        UNION ALL
        SELECT 'ct4_job_consecutive_failures', 1, format('ct4_job_consecutive_failures{job=%s} %s',
                   ct4._prom_label(s.job_name), s.consecutive_failures)
          FROM st s
        UNION ALL
        SELECT 'ct4_job_enabled', 1, format('ct4_job_enabled{job=%s} %s', ct4._prom_label(s.job_name), s.enabled::int)
          FROM st s
        UNION ALL
        SELECT 'ct4_alerts_open', 1, format('ct4_alerts_open{severity=%s} %s', ct4._prom_label(v.sev),
                   (SELECT count(*) FROM ct4.alert_events e WHERE e.resolved_at IS NULL AND e.severity = v.sev))
          FROM (VALUES ('info'), ('warning'), ('critical')) v(sev)
        UNION ALL
        -- The CRM's notifications (SPEC 8): created since the install, by kind
        -- (kept in crm.notification_counts: the cleanup never lowers it), and
        -- the unread ones now.
        SELECT 'ct4_crm_notifications_created_total', 1, format('ct4_crm_notifications_created_total{kind=%s} %s',
                   ct4._prom_label(k.kind), k.created_total)
          FROM crm.notification_counts k
        UNION ALL
        SELECT 'ct4_crm_open_notifications', 1, format('ct4_crm_open_notifications{kind=%s} %s', ct4._prom_label(k.kind),
                   (SELECT count(*) FROM crm.notifications n WHERE n.kind = k.kind AND n.read_at IS NULL))
          FROM crm.notification_counts k        UNION ALL
        SELECT 'ct4_pg_cron_installed', 1, 'ct4_pg_cron_installed ' || cron.installed::int
        UNION ALL
        SELECT 'ct4_pg_cron_scheduler_running', 1, 'ct4_pg_cron_scheduler_running ' || cron.scheduler_running::int
        UNION ALL
        SELECT 'ct4_limbo_leads', 1, l FROM unnest(limbo) l
        UNION ALL
        SELECT 'ct4_metrics_section_ok', 1, format('ct4_metrics_section_ok{section=%s} %s', ct4._prom_label('limbo'), lok)
    )
    SELECT string_agg(h.head || s.lines, '' ORDER BY f.family) INTO out
      FROM (SELECT family, string_agg(line || E'\n', '' ORDER BY ord, line) AS lines
              FROM samples GROUP BY family) s
      JOIN (VALUES
        ('ct4_job_runs_total', 'counter', 'Finished runs by job and final status (kept in ct4.run_counters; pruning does not lower it).'),
        ('ct4_job_failures_total', 'counter', 'Runs that ended FAILED or CRASHED, by job.'),
        ('ct4_job_duration_seconds', 'summary', 'Wall-clock duration of finished runs (SKIPPED_LOCKED excluded), by job.'),
        ('ct4_job_last_duration_seconds', 'gauge', 'Duration of the latest finished run, by job.'),
        ('ct4_job_last_success_timestamp_seconds', 'gauge', 'Start time (Unix seconds) of the latest SUCCESS run (a dry run is not one), by job.'),
        ('ct4_job_running', 'gauge', '1 while a run of the job is in progress.'),
        ('ct4_job_consecutive_failures', 'gauge', 'Failed or crashed runs since the latest success, by job.'),
        ('ct4_job_enabled', 'gauge', '1 when the job is enabled.'),
        ('ct4_alerts_open', 'gauge', 'Alerts raised by the latest evaluation, by severity.'),
        ('ct4_crm_notifications_created_total', 'counter', 'CRM notifications created since the install, by kind.'),
        ('ct4_crm_open_notifications', 'gauge', 'CRM notifications not read yet, by kind.'),
        ('ct4_pg_cron_installed', 'gauge', '1 when pg_cron is installed in this database.'),
        ('ct4_pg_cron_scheduler_running', 'gauge', '1 when the pg_cron launcher runs in the cluster.'),
        ('ct4_limbo_leads', 'gauge', 'Leads by limbo stage (ops.v_cabinet_leads_limbo).'),
        ('ct4_metrics_section_ok', 'gauge', '0 when a section of ct4.metrics() could not be computed (see the server log WARNING).')
      ) f(family, type, help) ON f.family = s.family
     CROSS JOIN LATERAL (SELECT format(E'# HELP %s %s\n# TYPE %s %s\n', f.family, f.help, f.family, f.type) AS head) h;
    RETURN coalesce(out, '');
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._pg_cron_state()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._prom_label(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.health()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.metrics()', 'EXECUTE');
