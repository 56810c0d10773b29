-- ct4.schedule / unschedule / enable / disable on pg_cron 1.4 (database
-- ct4_cron), timezone conversion and DST re-registration. Rolled back.
BEGIN;
SELECT plan(23);
SELECT ct4.unschedule();

SELECT results_eq($$SELECT jobname, utc_schedule FROM ct4.schedule('production', 'America/Lima')$$,
    $$VALUES ('ct4:check_limbo_alerts', '35 7 * * *'), ('ct4:crm_cleanup', '0 * * * *'),
             ('ct4:crm_daily_report', '0 13 * * *'), ('ct4:crm_notification_checks', '*/5 * * * *'),
             ('ct4:crm_seller_metrics', '*/15 * * * *'), ('ct4:maintenance', '*/5 * * * *'),
             ('ct4:reconcile_claims_14d', '30 7 * * *'), ('ct4:reconcile_leads_pipeline', '*/15 * * * *')$$,
    'schedule returns what it registered, converted from Lima to GMT');
SELECT results_eq($$SELECT jobname::text COLLATE "default", schedule::text, command::text, active FROM cron.job WHERE jobname LIKE 'ct4:%' ORDER BY jobname$$,
    $$VALUES ('ct4:check_limbo_alerts', '35 7 * * *', 'CALL ct4.run_job(''check_limbo_alerts'')', true),
             ('ct4:crm_cleanup', '0 * * * *', 'CALL ct4.run_job(''crm_cleanup'')', true),
             ('ct4:crm_daily_report', '0 13 * * *', 'CALL ct4.run_job(''crm_daily_report'')', true),
             ('ct4:crm_notification_checks', '*/5 * * * *', 'CALL ct4.run_job(''crm_notification_checks'')', true),
             ('ct4:crm_seller_metrics', '*/15 * * * *', 'CALL ct4.run_job(''crm_seller_metrics'')', true),
             ('ct4:maintenance', '*/5 * * * *', 'CALL ct4.maintenance()', true),
             ('ct4:reconcile_claims_14d', '30 7 * * *', 'CALL ct4.run_job(''reconcile_claims_14d'')', true),
             ('ct4:reconcile_leads_pipeline', '*/15 * * * *', 'CALL ct4.run_job(''reconcile_leads_pipeline'')', true)$$,
    'one pg_cron entry per enabled job plus ct4:maintenance');
CREATE TEMP TABLE ids AS SELECT jobid, jobname FROM cron.job WHERE jobname LIKE 'ct4:%';
SELECT ct4.schedule('production', 'America/Lima');
SELECT set_eq($$SELECT jobid, jobname FROM cron.job WHERE jobname LIKE 'ct4:%'$$, $$SELECT jobid, jobname FROM ids$$,
              'schedule is idempotent: same entries, same ids');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'ct4:%'), 8::bigint, 'still eight entries');
SELECT is((SELECT profile || ' ' || timezone || ' ' || utc_offset FROM ct4.schedule_state), 'production America/Lima -18000',
          'the active profile, zone and offset are recorded');

-- Another profile and zone replaces the entries.
SELECT ct4.schedule('high_load', 'Asia/Kolkata');
SELECT results_eq($$SELECT jobname::text COLLATE "default", schedule::text FROM cron.job WHERE jobname LIKE 'ct4:%' ORDER BY jobname$$,
    $$VALUES ('ct4:check_limbo_alerts', '5 21 * * *'), ('ct4:crm_cleanup', '30 */2 * * *'),
             ('ct4:crm_daily_report', '30 2 * * *'), ('ct4:crm_notification_checks', '*/10 * * * *'),
             ('ct4:crm_seller_metrics', '*/30 * * * *'), ('ct4:maintenance', '*/10 * * * *'),
             ('ct4:reconcile_claims_14d', '0 21 * * *'), ('ct4:reconcile_leads_pipeline', '*/30 * * * *')$$,
    'high_load in Asia/Kolkata (UTC+5:30): 02:30 is 21:00 UTC the day before');
SELECT is((SELECT max_retries FROM ct4._job_limits('reconcile_leads_pipeline')), 5, 'high_load limits in force');

-- Disable removes the entry, enable restores it; job_status follows.
SELECT ct4.schedule('production', 'UTC');
SELECT ct4.disable_job('reconcile_claims_14d');
SELECT ok(NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), 'disable_job removes the pg_cron entry');
SELECT results_eq($$SELECT enabled, next_run_at FROM ct4.job_status WHERE job_name = 'reconcile_claims_14d'$$,
                  $$VALUES (false, NULL::timestamptz)$$, 'job_status: disabled, no next run');
SELECT ct4.enable_job('reconcile_claims_14d');
SELECT is((SELECT schedule::text FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), '30 2 * * *', 'enable_job restores it');
SELECT is((SELECT next_run_at FROM ct4.job_status WHERE job_name = 'reconcile_claims_14d'),
          ct4.cron_next('30 2 * * *', now()), 'job_status.next_run_at from the cron expression');
SELECT ok((SELECT next_run_at > now() AND next_run_at <= now() + interval '15 minutes' FROM ct4.job_status WHERE job_name = 'reconcile_leads_pipeline'),
          'leads: next run within 15 minutes');
SELECT is((SELECT schedule FROM ct4.job_status WHERE job_name = 'reconcile_leads_pipeline'), '*/15 * * * *', 'job_status.schedule');

-- An entry changed behind our back is repaired by schedule().
SELECT cron.alter_job((SELECT jobid FROM cron.job WHERE jobname = 'ct4:maintenance'), schedule => '0 0 * * *', active => false);
SELECT ct4.schedule('production', 'UTC');
SELECT results_eq($$SELECT schedule::text, active FROM cron.job WHERE jobname = 'ct4:maintenance'$$,
                  $$VALUES ('*/5 * * * *', true)$$, 'schedule repairs a modified entry');

-- DST: computed with the offset in force when scheduled; maintenance's
-- check re-registers when the offset changes.
SELECT ct4._sync_schedule('production', 'Europe/Madrid', '2025-03-29 12:00+00');
SELECT is((SELECT schedule::text FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), '30 1 * * *', 'Madrid winter: 01:30 UTC');
SELECT is(ct4._schedule_dst_check('2025-03-29 23:00+00'), false, 'same offset: nothing to do');
SELECT is(ct4._schedule_dst_check('2025-03-30 02:00+00'), true, 'after the spring change: re-registered');
SELECT is((SELECT schedule::text FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), '30 0 * * *', 'Madrid summer: 00:30 UTC');
SELECT is((SELECT utc_offset FROM ct4.schedule_state), 7200, 'new offset recorded');

-- Health with pg_cron: installed, scheduler running, nothing wrong.
SELECT is(ct4.health()->'pg_cron', '{"installed": true, "scheduler_running": true}'::jsonb, 'pg_cron installed and its launcher running');
-- status and reasons together, so that a failure says why.
SELECT is(ct4.health()->>'status' || ' ' || (ct4.health()->'reasons')::text, 'healthy []', 'healthy, no reasons');

SELECT is(ct4.unschedule(), 8, 'unschedule removes the eight entries');
SELECT is(ct4.unschedule(), 0, 'unschedule is idempotent');

SELECT * FROM finish();
ROLLBACK;
