-- ct4.check_limbo_alerts on crafted data, alert_events, assert_no_alerts,
-- health states and the metrics format.
BEGIN;
SELECT plan(39);

-- Until the SPEC 3 views land, stand-ins with their semantics (first stage
-- that holds: NO_IDENTITY, NO_DRIVER, NO_TRIPS_14D, TRIPS_NO_CLAIM, OK).
DO $$
BEGIN
    IF to_regclass('ops.v_cabinet_leads_limbo') IS NULL THEN
        CREATE VIEW ops.v_cabinet_leads_limbo AS
        SELECT l.lead_id, l.lead_date, il.person_key, dl.source_pk AS driver_id,
               coalesce(t.trips, 0)::integer AS trips_in_window,
               CASE WHEN il.person_key IS NULL THEN 'NO_IDENTITY'
                    WHEN dl.source_pk IS NULL THEN 'NO_DRIVER'
                    WHEN coalesce(t.trips, 0) < 1 THEN 'NO_TRIPS_14D'
                    WHEN NOT EXISTS (SELECT 1 FROM ops.cabinet_claims_14d c WHERE c.driver_id = dl.source_pk) THEN 'TRIPS_NO_CLAIM'
                    ELSE 'OK' END AS limbo_stage
          FROM raw.module_ct_cabinet_leads l
          LEFT JOIN canon.identity_links il ON il.source_table = 'module_ct_cabinet_leads' AND il.source_pk = l.lead_id::text
          LEFT JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = il.person_key
          LEFT JOIN LATERAL (SELECT sum(s.count_orders_completed) AS trips FROM raw.summary_daily s
                              WHERE s.driver_id = dl.source_pk AND s.trip_date >= l.lead_date AND s.trip_date < l.lead_date + 14) t ON true;
    END IF;
    IF to_regclass('ops.v_cabinet_14d_funnel_audit_weekly') IS NULL THEN
        CREATE VIEW ops.v_cabinet_14d_funnel_audit_weekly AS
        SELECT date_trunc('week', lead_date)::date AS week_start, count(*) AS leads_total,
               count(*) FILTER (WHERE limbo_stage = 'NO_IDENTITY') AS limbo_no_identity,
               count(*) FILTER (WHERE limbo_stage = 'NO_DRIVER') AS limbo_no_driver,
               count(*) FILTER (WHERE limbo_stage = 'NO_TRIPS_14D') AS limbo_no_trips_14d,
               count(*) FILTER (WHERE limbo_stage = 'TRIPS_NO_CLAIM') AS limbo_trips_no_claim,
               count(*) FILTER (WHERE limbo_stage = 'OK') AS limbo_ok
          FROM ops.v_cabinet_leads_limbo WHERE lead_date IS NOT NULL GROUP BY 1;
    END IF;
END $$;

-- Time is an argument: as of Wednesday 2025-06-18 12:00 UTC.
CREATE TEMP TABLE t_now AS SELECT '2025-06-18 12:00+00'::timestamptz AS t;
SET LOCAL TimeZone = 'UTC';

-- A fresh install raises nothing.
SELECT is((SELECT count(*) FROM ct4._check_limbo_alerts_record((SELECT t FROM t_now))), 0::bigint, 'a fresh install raises nothing');
SELECT is(ct4.assert_no_alerts(), 'ok: no alerts', 'assert_no_alerts passes when nothing fires');
SELECT results_eq($$SELECT status, (stats->>'alerts_raised')::int FROM ct4.job_runs WHERE job_name = 'check_limbo_alerts' ORDER BY run_id LIMIT 1$$,
                  $$VALUES ('SUCCESS', 0)$$, 'the alert job records its run with counters');

-- NO_IDENTITY_RECENT: 50 unlinked leads in the last 7 days is at the threshold, 51 is above.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name)
SELECT g, date '2025-06-18' - (g % 7), 'lead ' || g FROM generate_series(1, 50) g;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name) VALUES (500, '2025-06-01', 'old lead');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'NO_IDENTITY_RECENT'), 0::bigint,
          '50 NO_IDENTITY leads in 7 days: not above 50');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name) VALUES (51, '2025-06-12', 'lead 51');
SELECT results_eq($$SELECT alert_code, severity, metric_value, threshold FROM ct4._check_limbo_alerts_record((SELECT t FROM t_now)) WHERE alert_code = 'NO_IDENTITY_RECENT'$$,
                  $$VALUES ('NO_IDENTITY_RECENT', 'warning', 51::numeric, 50::numeric)$$, '51 fire NO_IDENTITY_RECENT');
SELECT ok((SELECT (details->>'count')::int = 51 AND jsonb_array_length(details->'sample_lead_ids') = 20 FROM ct4.alert_events WHERE rule_code = 'NO_IDENTITY_RECENT' AND resolved_at IS NULL),
          'the evidence lists the leads');
SELECT is((SELECT e.run_id FROM ct4.alert_events e WHERE e.rule_code = 'NO_IDENTITY_RECENT' AND e.resolved_at IS NULL),
          (SELECT max(run_id) FROM ct4.job_runs WHERE job_name = 'check_limbo_alerts'), 'the event names the run that raised it');
SELECT throws_ok($$SELECT ct4._assert_no_alerts((SELECT t FROM t_now))$$, 'P0001', NULL, 'assert_no_alerts raises when an alert fires');
UPDATE ct4.alert_rules SET threshold = 100 WHERE rule_code = 'NO_IDENTITY_RECENT';
SELECT is((SELECT count(*) FROM ct4._check_limbo_alerts_record((SELECT t FROM t_now)) WHERE alert_code = 'NO_IDENTITY_RECENT'), 0::bigint,
          'thresholds are data (ct4.alert_rules)');
SELECT is((SELECT count(*) FROM ct4.alert_events WHERE resolved_at IS NULL), 0::bigint, 'an evaluation resolves the previous alerts');

-- NO_IDENTITY_WOW_GROWTH: last complete ISO week (2025-06-09) vs the one before (2025-06-02).
DELETE FROM raw.module_ct_cabinet_leads;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name)
SELECT g, date '2025-06-02' + (g % 7), 'prev ' || g FROM generate_series(1, 10) g;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name)
SELECT 100 + g, date '2025-06-09' + (g % 7), 'cur ' || g FROM generate_series(1, 12) g;
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'NO_IDENTITY_WOW_GROWTH'), 0::bigint,
          '10 -> 12 is 20 %: not above 20 %');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name) VALUES (200, '2025-06-15', 'one more');
SELECT results_eq($$SELECT metric_value, threshold, details->>'week_start' FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'NO_IDENTITY_WOW_GROWTH'$$,
                  $$VALUES (30.00::numeric, 20::numeric, '2025-06-09')$$, '10 -> 13 is 30 %: fires');

-- TRIPS_NO_CLAIM: a lead whose driver reached a milestone without a claim.
DELETE FROM raw.module_ct_cabinet_leads;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone) VALUES
    (1, '2025-06-10', 'Ana Perez', '987654321'), (2, '2025-06-17', 'Luis Soto', '912345678');
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D1', 'Ana Perez', '987654321'), ('D2', 'Luis Soto', '912345678');
INSERT INTO canon.persons (person_key) VALUES (1), (2);
INSERT INTO canon.identity_links (source_table, source_pk, person_key, match_rule, evidence, linked_at, run_id) VALUES
    ('module_ct_cabinet_leads', '1', 1, 'NEW_PERSON', '{}', now(), 0), ('drivers', 'D1', 1, 'PHONE+NAME', '{}', now(), 0),
    ('module_ct_cabinet_leads', '2', 2, 'NEW_PERSON', '{}', now(), 0), ('drivers', 'D2', 2, 'PHONE+NAME', '{}', now(), 0);
INSERT INTO raw.summary_daily VALUES ('D1', '2025-06-11', 3), ('D2', '2025-06-17', 2);
SELECT results_eq($$SELECT alert_code, severity, metric_value, details->'sample_lead_ids' FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'TRIPS_NO_CLAIM'$$,
                  $$VALUES ('TRIPS_NO_CLAIM', 'critical', 1::numeric, '[1]'::jsonb)$$,
                  'a milestone without its claim fires (the lead of yesterday is not older than 1 day)');
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount, trips_in_window, achieved_date, window_end, evidence, run_id)
VALUES ('D1', 1, 1, '2025-06-10', 1, 25, 3, '2025-06-11', '2025-06-23', '{}', 0);
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'TRIPS_NO_CLAIM'), 0::bigint, 'claimed: no alert');

-- JOB_FAILED: the last finished run of a job failed.
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at, sqlstate, error_message) VALUES
    ('reconcile_claims_14d', 'SUCCESS', '2025-06-17 02:30+00', '2025-06-17 02:31+00', NULL, NULL),
    ('reconcile_claims_14d', 'FAILED',  '2025-06-18 02:30+00', '2025-06-18 02:31+00', '57014', 'canceling statement due to statement timeout');
SELECT results_eq($$SELECT metric_value, details->>'sqlstate' FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_FAILED'$$,
                  $$VALUES (1::numeric, '57014')$$, 'a failed last run fires JOB_FAILED with its SQLSTATE');
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('reconcile_claims_14d', 'SKIPPED_LOCKED', '2025-06-18 02:40+00', '2025-06-18 02:40+00');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_FAILED'), 1::bigint, 'a run skipped on the lock does not hide the failure');
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('reconcile_claims_14d', 'SUCCESS', '2025-06-18 02:45+00', '2025-06-18 02:46+00');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_FAILED'), 0::bigint, 'a later success clears it');

-- JOB_STALE: scheduled hourly for 5 h, no success in the 2 h window.
INSERT INTO ct4.scheduled_jobs VALUES ('ct4:reconcile_leads_pipeline', 'reconcile_leads_pipeline', '0 * * * *', '0 * * * *',
    'CALL ct4.run_job(''reconcile_leads_pipeline'')', '2025-06-18 07:00+00');
SELECT results_eq($$SELECT metric_value, threshold FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'$$,
                  $$VALUES (5.00::numeric, 2.00::numeric)$$, 'scheduled 5 h ago, never succeeded: JOB_STALE (window max(2 x 1 h, 2 h))');
UPDATE ct4.scheduled_jobs SET registered_at = '2025-06-18 10:30+00';
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 0::bigint, 'scheduled 1.5 h ago: not stale yet');
UPDATE ct4.scheduled_jobs SET registered_at = '2025-06-10 00:00+00', local_schedule = '30 2 * * *', utc_schedule = '30 2 * * *';
INSERT INTO ct4.job_runs (job_name, status, started_at, finished_at) VALUES
    ('reconcile_leads_pipeline', 'SUCCESS', '2025-06-17 02:30+00', '2025-06-17 02:31+00');
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 0::bigint, 'daily job with a success 34 h ago: window is 48 h, fine');
UPDATE ct4.jobs SET enabled = false WHERE job_name = 'reconcile_leads_pipeline';
UPDATE ct4.scheduled_jobs SET local_schedule = '0 * * * *', utc_schedule = '0 * * * *';
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 0::bigint, 'a disabled job is not stale');
UPDATE ct4.jobs SET enabled = true WHERE job_name = 'reconcile_leads_pipeline';
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 1::bigint, 'enabled again: stale');
UPDATE ct4.alert_rules SET enabled = false WHERE rule_code = 'JOB_STALE';
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 0::bigint, 'a disabled rule is not evaluated');
UPDATE ct4.alert_rules SET enabled = true WHERE rule_code = 'JOB_STALE';
SELECT is((SELECT count(*) FROM ct4._check_limbo_alerts_record((SELECT t FROM t_now)) WHERE alert_code = 'JOB_STALE'), 1::bigint, 'enabled rule: stale again');

-- Health: the open critical alert makes it unhealthy.
SELECT is(ct4.health()->>'status', 'unhealthy', 'open critical alert: unhealthy');
SELECT ok((ct4.health()->'reasons')::text LIKE '%JOB_STALE%', 'the reason names the alert');
SELECT ok(ct4.health() ?& ARRAY['status', 'reasons', 'pg_cron', 'jobs', 'open_alerts'], 'health has the SPEC keys');
SELECT is(ct4.health()->'pg_cron'->>'installed', 'false', 'pg_cron is not installed in this database');
SELECT is(jsonb_array_length(ct4.health()->'jobs')::bigint, (SELECT count(*) FROM ct4.jobs), 'one object per job');
DELETE FROM ct4.scheduled_jobs;
SELECT is((SELECT count(*) FROM ct4._check_limbo_alerts_record((SELECT t FROM t_now))), 0::bigint, 'nothing fires any more');
SELECT is(ct4.health()->>'status', 'degraded', 'without pg_cron and without alerts: degraded');
SELECT ok(ct4.health()->'reasons'->>0 LIKE 'pg_cron is not installed in database %: jobs run only by hand%', '... saying why');

-- Metrics: Prometheus text format, every metric ct4_*.
CREATE TEMP TABLE m AS SELECT line FROM regexp_split_to_table(rtrim(ct4.metrics(), E'\n'), E'\n') line;
SELECT is((SELECT count(*) FROM m WHERE line !~ '^# (HELP|TYPE) ct4_[a-z_]+ .+$'
                                   AND line !~ '^ct4_[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'),
          0::bigint, 'every line is a HELP/TYPE comment or a ct4_ sample with a number');
SELECT ok((SELECT bool_and(line ~ ' (counter|gauge|summary|histogram|untyped)$') FROM m WHERE line LIKE '# TYPE %'), 'TYPE lines name a type');
SELECT ok(EXISTS (SELECT 1 FROM m WHERE line = 'ct4_job_runs_total{job="check_limbo_alerts",status="SUCCESS"} 5')
      AND EXISTS (SELECT 1 FROM m WHERE line LIKE 'ct4_limbo_leads{stage="OK"} %')
      AND EXISTS (SELECT 1 FROM m WHERE line LIKE 'ct4_job_last_success_timestamp_seconds{job="reconcile_claims_14d"} %'),
          'runs by status, limbo counts by stage and last success are exposed');

-- The one SKIPPED_LOCKED answer (jobs::Job): this transaction holds the
-- job's lock (its runs above took it); a call from another session raises
-- nothing, returns no alert, and its run record says SKIPPED_LOCKED with the
-- job's counters at zero.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT is(dblink_connect('other', format('host=%s port=%s dbname=%s user=%s',
       split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
       current_database(), current_user)), 'OK', 'a second session');
SELECT is((SELECT n FROM dblink('other', $$SELECT count(*) FROM ct4.check_limbo_alerts()$$) AS t(n bigint)),
          0::bigint, 'a locked-out call returns no alert');
SELECT results_eq($$SELECT status, stats - 'duration_ms' FROM ct4.job_runs
                    WHERE job_name = 'check_limbo_alerts' ORDER BY run_id DESC LIMIT 1$$,
                  $$VALUES ('SKIPPED_LOCKED', '{"alerts_raised": 0, "rules_skipped": 0, "rules_evaluated": 0}'::jsonb)$$,
                  'its run record says SKIPPED_LOCKED, with the counters at zero');
SELECT is(dblink_disconnect('other'), 'OK', 'the second session ends');

SELECT * FROM finish();
ROLLBACK;
