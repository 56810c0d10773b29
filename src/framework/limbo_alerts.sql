-- The SQL of ct4.check_limbo_alerts (src/framework/limbo_alerts.cpp), one
-- named statement each (scripts/sql_header.awk makes them C++ constants).
--
-- An evaluator is named after its rule code. It returns the candidate alerts
-- of the rule as (metric_value numeric, threshold numeric, message text,
-- details jsonb); an alert fires when metric_value > threshold. Parameters:
-- $1 as_of timestamptz, $2 the rule's threshold (text), $3 the rule's params.

-- name: as_of_json
SELECT pg_catalog.to_jsonb($1::timestamptz)::text AS as_of;

-- name: reap_crashed
SELECT ct4._reap_crashed();

-- name: enabled_rules
SELECT r.rule_code, r.threshold::text AS threshold, r.severity, r.params::text AS params
  FROM ct4.alert_rules r
 WHERE r.enabled
 ORDER BY r.rule_code;

-- name: view_exists
SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present;

-- name: NO_IDENTITY_RECENT
SELECT pg_catalog.count(l.lead_id)::numeric AS metric_value,
       $2::numeric AS threshold,
       pg_catalog.format('%s leads of the last %s days are at NO_IDENTITY (threshold %s)',
                         pg_catalog.count(l.lead_id), d.days, $2) AS message,
       pg_catalog.jsonb_build_object(
           'days', d.days,
           'since', $1::date - d.days + 1,
           'count', pg_catalog.count(l.lead_id),
           'sample_lead_ids', (pg_catalog.array_agg(l.lead_id ORDER BY l.lead_date DESC, l.lead_id)
                                   FILTER (WHERE l.lead_id IS NOT NULL))[1:20]) AS details
  FROM (SELECT coalesce(($3->>'days')::integer, 7) AS days) d
  LEFT JOIN ops.v_cabinet_leads_limbo l
    ON l.limbo_stage = 'NO_IDENTITY' AND l.lead_date > $1::date - d.days
   AND l.lead_date <= $1::date
 GROUP BY d.days;

-- name: TRIPS_NO_CLAIM
SELECT pg_catalog.count(l.lead_id)::numeric AS metric_value,
       $2::numeric AS threshold,
       pg_catalog.format('%s leads older than %s day(s) reached a milestone without its claim'
                         ' (TRIPS_NO_CLAIM, threshold %s)', pg_catalog.count(l.lead_id), d.age, $2) AS message,
       pg_catalog.jsonb_build_object(
           'min_age_days', d.age,
           'lead_date_before', $1::date - d.age,
           'count', pg_catalog.count(l.lead_id),
           'sample_lead_ids', (pg_catalog.array_agg(l.lead_id ORDER BY l.lead_date, l.lead_id)
                                   FILTER (WHERE l.lead_id IS NOT NULL))[1:20],
           'sample_driver_ids', (pg_catalog.array_agg(l.driver_id ORDER BY l.lead_date, l.lead_id)
                                     FILTER (WHERE l.lead_id IS NOT NULL))[1:20]) AS details
  FROM (SELECT coalesce(($3->>'min_age_days')::integer, 1) AS age) d
  LEFT JOIN ops.v_cabinet_leads_limbo l
    ON l.limbo_stage = 'TRIPS_NO_CLAIM' AND l.lead_date < $1::date - d.age
 GROUP BY d.age;

-- name: NO_IDENTITY_WOW_GROWTH
SELECT pg_catalog.round((c.n - p.n) * 100.0 / p.n, 2) AS metric_value,
       $2::numeric AS threshold,
       pg_catalog.format('NO_IDENTITY leads grew %s%% week over week: %s in the week of %s, %s the'
                         ' week before (threshold %s%%)',
                         pg_catalog.round((c.n - p.n) * 100.0 / p.n, 2), c.n, w.cur, p.n, $2) AS message,
       pg_catalog.jsonb_build_object(
           'week_start', w.cur,
           'limbo_no_identity', c.n,
           'previous_week_start', w.cur - 7,
           'previous_limbo_no_identity', p.n) AS details
  FROM (SELECT pg_catalog.date_trunc('week', $1::date::timestamp)::date - 7 AS cur) w
 CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.sum(a.limbo_no_identity), 0)::numeric AS n
                       FROM ops.v_cabinet_14d_funnel_audit_weekly a WHERE a.week_start = w.cur) c
 CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.sum(a.limbo_no_identity), 0)::numeric AS n
                       FROM ops.v_cabinet_14d_funnel_audit_weekly a WHERE a.week_start = w.cur - 7) p
 WHERE p.n > 0;

-- name: JOB_STALE
SELECT pg_catalog.round((extract(epoch FROM $1 - GREATEST(s.registered_at, ok.last_ok)) / 3600)::numeric, 2)
           AS metric_value,
       pg_catalog.round((extract(epoch FROM w.win) / 3600)::numeric, 2) AS threshold,
       pg_catalog.format('job %s (schedule %s UTC) has had no successful run for more than %s',
                         s.job_name, s.utc_schedule, w.win) AS message,
       pg_catalog.jsonb_build_object(
           'job_name', s.job_name,
           'schedule_utc', s.utc_schedule,
           'registered_at', s.registered_at,
           'last_success_at', ok.last_ok,
           'window_hours', pg_catalog.round((extract(epoch FROM w.win) / 3600)::numeric, 2)) AS details
  FROM ct4.scheduled_jobs s
  JOIN ct4.jobs j ON j.job_name = s.job_name
 CROSS JOIN LATERAL (SELECT GREATEST(ct4.cron_interval(s.utc_schedule, $1) * $2::float8,
                                     pg_catalog.make_interval(
                                         secs => coalesce(($3->>'min_window_hours')::float8, 2) * 3600)) AS win) w
 CROSS JOIN LATERAL (SELECT pg_catalog.max(r.started_at) AS last_ok FROM ct4.job_runs r
                      WHERE r.job_name = s.job_name AND r.status = 'SUCCESS'
                        AND r.started_at <= $1) ok
 WHERE j.enabled AND s.registered_at <= $1 - w.win
   AND (ok.last_ok IS NULL OR ok.last_ok < $1 - w.win)
   AND NOT EXISTS (SELECT 1 FROM ct4.pause_state)   -- no JOB_STALE while paused (SPEC 10)
 ORDER BY s.job_name;

-- name: JOB_FAILED
SELECT cf.n::numeric AS metric_value,
       $2::numeric AS threshold,
       pg_catalog.format('job %s: last run %s %s (SQLSTATE %s): %s', j.job_name, l.run_id, l.status,
                         coalesce(l.sqlstate, '-'), coalesce(l.error_message, '-')) AS message,
       pg_catalog.jsonb_build_object(
           'job_name', j.job_name,
           'run_id', l.run_id,
           'status', l.status,
           'attempt', l.attempt,
           'sqlstate', l.sqlstate,
           'error_message', l.error_message,
           'finished_at', l.finished_at,
           'consecutive_failures', cf.n) AS details
  FROM ct4.jobs j
  JOIN LATERAL (SELECT r.* FROM ct4.job_runs r
                 WHERE r.job_name = j.job_name AND r.status NOT IN ('RUNNING', 'SKIPPED_LOCKED')
                   AND r.started_at <= $1
                 ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
 CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM ct4.job_runs r
                      WHERE r.job_name = j.job_name AND r.status IN ('FAILED', 'CRASHED')
                        AND r.started_at <= $1
                        AND r.started_at > coalesce((SELECT pg_catalog.max(o.started_at) FROM ct4.job_runs o
                                                      WHERE o.job_name = j.job_name
                                                        AND o.status = 'SUCCESS'),
                                                    '-infinity')) cf
 WHERE l.status IN ('FAILED', 'CRASHED')
 ORDER BY j.job_name;

-- name: resolve_open
-- The open alerts are those of the latest evaluation.
UPDATE ct4.alert_events SET resolved_at = $1 WHERE resolved_at IS NULL;

-- name: store_and_notify
-- Any role that can connect can LISTEN: the payload carries codes, numbers
-- and ids, never the message or details (lead and driver ids, error texts),
-- which stay in ct4.alert_events (SPEC 6).
WITH ins AS (
    INSERT INTO ct4.alert_events (run_id, rule_code, severity, metric_value, threshold, message, details, raised_at)
    SELECT $1, a.code, a.severity, a.metric::numeric, a.threshold::numeric, a.message, a.details::jsonb, $2
      FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]),
                      pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]),
                      pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]))
           AS a(code, severity, metric, threshold, message, details)
    RETURNING *)
SELECT pg_catalog.count(pg_catalog.pg_notify('ct4_alerts', pg_catalog.jsonb_build_object(
           'event_id', event_id, 'run_id', run_id, 'alert_code', rule_code, 'severity', severity,
           'metric_value', metric_value, 'threshold', threshold, 'raised_at', raised_at)::text))
  FROM ins;
