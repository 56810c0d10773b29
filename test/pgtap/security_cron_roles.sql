-- SPEC 6 in the pg_cron database (ct4_cron): the README's operator, a LOGIN
-- member of ct4_operator without any right on schema cron, schedules,
-- unschedules, enables and disables; every ct4:* entry belongs to the
-- extension's owner whoever scheduled it; an operator cannot get an entry
-- of its own SQL; a reader sees pg_cron as a superuser does.
-- Not inside BEGIN (dblink); everything is undone at the end.
\ir ../fixtures/readme_roles.sql
SELECT plan(14);
SELECT ct4.unschedule();

SELECT pg_temp.login('op', 't12_operator');
SELECT throws_ok($$SELECT pg_temp.q('op', 'SELECT count(*) FROM cron.job')$$, '42501', NULL,
                 'the operator has no right on pg_cron''s schema');
SELECT is(pg_temp.q('op', $$SELECT count(*) FROM ct4.schedule('production', 'America/Lima')$$), '8',
          'the operator schedules the production profile');
SELECT is((SELECT string_agg(jobname || ' ' || username, ', ' ORDER BY jobname) FROM cron.job WHERE jobname LIKE 'ct4:%'),
          'ct4:check_limbo_alerts postgres, ct4:crm_cleanup postgres, ct4:crm_daily_report postgres, '
          'ct4:crm_notification_checks postgres, ct4:crm_seller_metrics postgres, ct4:maintenance postgres, ct4:reconcile_claims_14d postgres, ct4:reconcile_leads_pipeline postgres',
          'the entries belong to the extension''s owner, not to the operator');
SELECT is(pg_temp.q('op', $$SELECT ct4.disable_job('reconcile_claims_14d')$$), 'f', 'the operator disables a job');
SELECT ok(NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), '... and its entry is gone');
SELECT is(pg_temp.q('op', $$SELECT ct4.enable_job('reconcile_claims_14d')$$), 't', 'the operator enables it');
SELECT is((SELECT username::text FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'), 'postgres',
          '... and its entry is back, the owner''s');

-- ct4:evil: a job of the operator's own and a schedule row for it.
SELECT throws_ok($$SELECT dblink_exec('op', $c$INSERT INTO ct4.jobs (job_name, command) VALUES ('evil', 'ALTER ROLE t12_operator SUPERUSER')$c$)$$,
                 '42501', NULL, 'the operator cannot register a job');
SELECT throws_ok($$SELECT dblink_exec('op', $c$INSERT INTO ct4.job_schedules (profile, job_name, schedule) VALUES ('production', 'evil', '* * * * *')$c$)$$,
                 '23503', NULL, 'a schedule row names a registered job only');
SELECT pg_temp.q('op', $$SELECT count(*) FROM ct4.schedule('production', 'America/Lima')$$);
SELECT ok(NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'ct4:evil'), 'no ct4:evil entry');

-- A ct4:* entry that another user made is a copy (pg_cron would run it as
-- that user): the next schedule() replaces it with the owner's.
CREATE ROLE t12_cronuser LOGIN;
GRANT USAGE ON SCHEMA cron TO t12_cronuser;
SET ROLE t12_cronuser;
SELECT cron.schedule('ct4:reconcile_claims_14d', '* * * * *', 'SELECT 1');
RESET ROLE;
SELECT pg_temp.q('op', $$SELECT count(*) FROM ct4.schedule('production', 'America/Lima')$$);
SELECT is((SELECT string_agg(username || ' ' || command, ', ') FROM cron.job WHERE jobname = 'ct4:reconcile_claims_14d'),
          'postgres CALL ct4.run_job(''reconcile_claims_14d'')', 'the other user''s copy is gone; the owner''s entry stays');
REVOKE USAGE ON SCHEMA cron FROM t12_cronuser;
DROP ROLE t12_cronuser;

-- The reader sees pg_cron and the schedule as a superuser does.
SELECT pg_temp.login('reader', 't12_reader');
SELECT is(pg_temp.q('reader', $$SELECT (ct4.health() - 'checked_at')::text$$)::jsonb, ct4.health() - 'checked_at',
          'reader''s health() in the pg_cron database is the superuser''s');
SELECT is(pg_temp.q('reader', $$SELECT ct4.health()->>'pg_cron'$$), '{"installed": true, "scheduler_running": true}',
          'reader: pg_cron installed, its scheduler running');

SELECT is(pg_temp.q('op', 'SELECT ct4.unschedule()'), '8', 'the operator unschedules the eight entries');
\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
