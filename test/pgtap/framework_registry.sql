-- Job registry, profiles, limits, cron evaluator and the no-pg_cron paths.
BEGIN;
SELECT plan(24);

SELECT results_eq(
    $$SELECT job_name, command, enabled, max_retries, retry_delay FROM ct4.jobs
       WHERE job_name NOT LIKE 'crm\_%' ORDER BY job_name$$,
    $$VALUES ('check_limbo_alerts', 'SELECT * FROM ct4.check_limbo_alerts()', true, 3, '10 minutes'::interval),
             ('reconcile_claims_14d', 'SELECT * FROM ct4.reconcile_claims_14d(21, 1000)', true, 3, '10 minutes'::interval),
             ('reconcile_leads_pipeline', 'SELECT * FROM ct4.reconcile_leads_pipeline(30, 2000)', true, 3, '10 minutes'::interval)$$,
    'the three jobs of SPEC 1 with their seed arguments, 3 retries every 10 minutes');
SELECT col_is_pk('ct4', 'jobs', 'job_name', 'job_name is the key');
SELECT set_eq($$SELECT profile FROM ct4.schedule_profiles$$,
              ARRAY['development', 'staging', 'production', 'high_load'], 'four profiles');
SELECT results_eq(
    $$SELECT job_name, schedule FROM ct4.job_schedules
       WHERE profile = 'production' AND job_name NOT LIKE 'crm\_%' ORDER BY job_name$$,
    $$VALUES ('check_limbo_alerts', '35 2 * * *'), ('reconcile_claims_14d', '30 2 * * *'),
             ('reconcile_leads_pipeline', '*/15 * * * *')$$,
    'production: leads every 15 min, claims 02:30, alerts 02:35');

-- Limits: the job's, overridden by the active profile.
SELECT is((SELECT max_retries FROM ct4._job_limits('reconcile_claims_14d')), 3, 'no active profile: the job''s limits');
INSERT INTO ct4.schedule_state (profile, timezone, utc_offset, scheduled_at) VALUES ('high_load', 'UTC', 0, now());
SELECT is((SELECT max_retries FROM ct4._job_limits('reconcile_claims_14d')), 5, 'high_load overrides max_retries');
DELETE FROM ct4.schedule_state;

-- Cron evaluator over the C++ core.
SELECT is(ct4.cron_next('*/15 * * * *', '2025-03-01 10:07:30+00'), '2025-03-01 10:15:00+00'::timestamptz, 'cron_next every 15 min');
SELECT is(ct4.cron_next('30 2 * * *', '2025-03-01 02:30:00+00'), '2025-03-02 02:30:00+00'::timestamptz, 'cron_next is strictly after');
SELECT is(ct4.cron_interval('*/15 * * * *', '2025-03-01 00:00+00'), '15 minutes'::interval, 'cron_interval');
SELECT is(ct4.cron_local_to_utc('30 2 * * *', -5 * 3600), '30 7 * * *', 'Lima 02:30 is 07:30 UTC');
SELECT throws_ok($$SELECT ct4.cron_next('61 * * * *', now())$$, '22023', NULL, 'a bad cron expression is 22023');

-- The plan ct4.schedule would register (no pg_cron needed to compute it).
SELECT results_eq(
    $$SELECT jobname, utc_schedule FROM ct4.schedule_plan('production', 'America/Lima', '2025-01-15') ORDER BY 1$$,
    $$VALUES ('ct4:check_limbo_alerts', '35 7 * * *'), ('ct4:crm_cleanup', '0 * * * *'),
             ('ct4:crm_daily_report', '0 13 * * *'), ('ct4:crm_notification_checks', '*/5 * * * *'),
             ('ct4:crm_seller_metrics', '*/15 * * * *'), ('ct4:maintenance', '*/5 * * * *'),
             ('ct4:reconcile_claims_14d', '30 7 * * *'), ('ct4:reconcile_leads_pipeline', '*/15 * * * *')$$,
    'production in America/Lima: one entry per job plus maintenance, in GMT');
SELECT is((SELECT utc_schedule FROM ct4.schedule_plan('production', 'Europe/Madrid', '2025-01-15') WHERE jobname = 'ct4:reconcile_claims_14d'),
          '30 1 * * *', 'Madrid winter (UTC+1): 02:30 is 01:30 UTC');
SELECT is((SELECT utc_schedule FROM ct4.schedule_plan('production', 'Europe/Madrid', '2025-07-15') WHERE jobname = 'ct4:reconcile_claims_14d'),
          '30 0 * * *', 'Madrid summer (UTC+2): 02:30 is 00:30 UTC');
SELECT is((SELECT command FROM ct4.schedule_plan() WHERE jobname = 'ct4:reconcile_leads_pipeline'),
          'CALL ct4.run_job(''reconcile_leads_pipeline'')', 'entry command');
SELECT throws_ok($$SELECT * FROM ct4.schedule_plan('nightly')$$, '22023', NULL, 'unknown profile is 22023');
SELECT throws_ok($$SELECT * FROM ct4.schedule_plan('production', 'Mars/Olympus')$$, '22023', NULL, 'unknown timezone is 22023');

-- Without pg_cron in this database: a clear error; the rest works.
SELECT throws_ok($$SELECT * FROM ct4.schedule()$$, '55000', NULL, 'schedule says pg_cron is missing');
SELECT throws_like($$SELECT ct4.unschedule()$$, '%pg_cron is not installed%', 'unschedule says it too');
SELECT is(ct4.disable_job('reconcile_claims_14d'), false, 'disable works without pg_cron');
SELECT is((SELECT enabled FROM ct4.jobs WHERE job_name = 'reconcile_claims_14d'), false, 'job disabled');
SELECT ok(NOT EXISTS (SELECT 1 FROM ct4.schedule_plan() WHERE jobname = 'ct4:reconcile_claims_14d'), 'a disabled job is not in the plan');
SELECT is(ct4.enable_job('reconcile_claims_14d'), true, 'enable works without pg_cron');
SELECT throws_ok($$SELECT ct4.enable_job('nope')$$, '22023', 'name "nope" is not a registered job', 'unknown job is 22023');

SELECT * FROM finish();
ROLLBACK;
