-- SPEC 4 and 6 (amended), issue 12 point 0: each way in that the issue
-- reproduced, tried as written by fresh LOGIN roles (the README's roles,
-- test/fixtures/readme_roles.sql), and shown to be closed.
-- Not inside BEGIN: the roles connect through dblink, and run_job commits.
\ir ../fixtures/readme_roles.sql
SELECT plan(26);

INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
VALUES (777001, current_date, 'Rosa Quispe', '987000111');
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D-777', 'Rosa Quispe', '987000111');
INSERT INTO raw.summary_daily VALUES ('D-777', current_date, 2);

-- 1. The operator edits a job's command to make itself superuser, and waits
-- for a superuser's (pg_cron's) run_job. Tried with the grants the README
-- used to give (DML on every ct4 table), so the trigger is what stops it.
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, canon, ops, ct4 TO ct4_operator;
SELECT pg_temp.login('op', 't12_operator');
SELECT throws_ok($$SELECT dblink_exec('op', $c$UPDATE ct4.jobs SET command = 'ALTER ROLE t12_operator SUPERUSER'
                                              WHERE job_name = 'check_limbo_alerts'$c$)$$,
                 '42501', 'only the owner of extension ct4_jobs (role postgres) may update ct4.jobs (command, job_name)',
                 'even with UPDATE on ct4.jobs, an operator cannot change a command');
SELECT throws_ok($$SELECT dblink_exec('op', $c$INSERT INTO ct4.jobs (job_name, command)
                                              VALUES ('evil', 'ALTER ROLE t12_operator SUPERUSER')$c$)$$,
                 '42501', 'only the owner of extension ct4_jobs (role postgres) may insert into ct4.jobs',
                 '... nor register a job of its own');
SELECT throws_ok($$SELECT dblink_exec('op', $c$UPDATE ct4.jobs SET job_name = 'x' WHERE job_name = 'check_limbo_alerts'$c$)$$,
                 '42501', NULL, '... nor rename a job');
SELECT throws_ok($$SELECT dblink_exec('op', $c$INSERT INTO ct4.refresh_views (view_name) VALUES ('public.any_mv')$c$)$$,
                 '42501', 'only the owner of extension ct4_jobs (role postgres) may insert into ct4.refresh_views',
                 '... nor register a materialized view for the claims job to refresh');
SELECT lives_ok($$SELECT dblink_exec('op', $c$UPDATE ct4.jobs SET max_runtime = '6 minutes' WHERE job_name = 'check_limbo_alerts'$c$)$$,
                'the limits stay the operator''s to change');
CALL ct4.run_job('check_limbo_alerts');
CALL ct4.run_job('reconcile_leads_pipeline');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 't12_operator'), false,
          'after the superuser''s run_job the operator is no superuser');
SELECT is((SELECT command FROM ct4.jobs WHERE job_name = 'check_limbo_alerts'), 'SELECT * FROM ct4.check_limbo_alerts()',
          'the command is the owner''s');
REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, canon, ops, ct4 FROM ct4_operator;
SELECT dblink_disconnect('op');

-- 2. A role that may CREATE in public shadows builtins that the extension's
-- code would call unqualified (more specific signatures win over
-- pg_catalog's polymorphic ones; same signatures win when public comes
-- first in the caller's search_path), and waits for a superuser to run the
-- jobs. Every shadow records who ran it and, run by a superuser, makes its
-- author one.
SELECT pg_temp.login('creator', 't12_creator');
SELECT dblink_exec('creator', $setup$
CREATE TABLE public.t12_pwned (who name, via text);
GRANT INSERT ON public.t12_pwned TO PUBLIC;
CREATE FUNCTION public.t12_pwn(via text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.t12_pwned VALUES (current_user, via);
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE t12_creator SUPERUSER';
    END IF;
END $f$;
CREATE FUNCTION public.unnest(a text[]) RETURNS SETOF text LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('unnest(text[])'); SELECT pg_catalog.unnest(a) $f$;
CREATE FUNCTION public.unnest(a bigint[]) RETURNS SETOF bigint LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('unnest(bigint[])'); SELECT pg_catalog.unnest(a) $f$;
CREATE FUNCTION public.jsonb_build_object(k text, v text) RETURNS jsonb LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('jsonb_build_object'); SELECT pg_catalog.jsonb_build_object(k, v) $f$;
CREATE FUNCTION public.format(f text, a text) RETURNS text LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('format'); SELECT pg_catalog.format(f, a) $f$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('now'); SELECT pg_catalog.now() $f$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('clock_timestamp'); SELECT pg_catalog.clock_timestamp() $f$;
CREATE FUNCTION public.set_config(a text, b text, c boolean) RETURNS text LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('set_config'); SELECT pg_catalog.set_config(a, b, c) $f$;
CREATE FUNCTION public.current_setting(a text, b boolean) RETURNS text LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('current_setting'); SELECT pg_catalog.current_setting(a, b) $f$;
CREATE FUNCTION public.pg_backend_pid() RETURNS integer LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('pg_backend_pid'); SELECT pg_catalog.pg_backend_pid() $f$;
CREATE FUNCTION public.pg_notify(a text, b text) RETURNS void LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('pg_notify'); SELECT pg_catalog.pg_notify(a, b) $f$;
CREATE FUNCTION public.to_regclass(a text) RETURNS regclass LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('to_regclass'); SELECT pg_catalog.to_regclass(a) $f$;
CREATE FUNCTION public.t12_texteq(a text, b text) RETURNS boolean LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('text = text'); SELECT pg_catalog.texteq(a, b) $f$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.t12_texteq);
CREATE FUNCTION public.t12_textcat(a text, b text) RETURNS text LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('text || text'); SELECT pg_catalog.textcat(a, b) $f$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.t12_textcat);
CREATE FUNCTION public.t12_int8eq(a bigint, b bigint) RETURNS boolean LANGUAGE sql AS
    $f$ SELECT public.t12_pwn('bigint = bigint'); SELECT pg_catalog.int8eq(a, b) $f$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.t12_int8eq);
$setup$);
SELECT dblink_disconnect('creator');

-- The superuser does its rounds with public first in its search_path: the
-- jobs by run_job and directly, maintenance, status, health, metrics, the
-- views, an unlink, ingestion through the triggers, a settings change.
SET search_path = public, pg_catalog;
CALL ct4.run_job('reconcile_leads_pipeline');
CALL ct4.run_job('reconcile_claims_14d');
CALL ct4.run_job('check_limbo_alerts');
CALL ct4.maintenance();
SELECT count(*) FROM ct4.reconcile_leads_pipeline();
SELECT count(*) FROM ct4.reconcile_claims_14d(21, 1000);
SELECT count(*) FROM ct4.check_limbo_alerts();
SELECT count(*) FROM ct4.check_limbo_alerts_at(pg_catalog.now());
SELECT count(*) FROM ct4.claims_gap_report(21, 1000);
SELECT ct4.health() IS NOT NULL, ct4.metrics() IS NOT NULL;
SELECT count(*) FROM ct4.job_status;
SELECT count(*) FROM ops.v_cabinet_leads_limbo;
SELECT count(*) FROM ops.v_cabinet_claims_gap_14d;
SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly;
SELECT ct4.disable_job('reconcile_claims_14d'), ct4.enable_job('reconcile_claims_14d');
SELECT count(*) FROM ct4.schedule_plan('production', 'America/Lima');
SELECT ct4.prune_history();
SELECT source_pk FROM ct4.unlink('drivers', 'D-777', 'test: shadowing');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone) VALUES (777002, current_date, 'Luis Diaz', '987000222');
UPDATE raw.module_ct_cabinet_leads SET phone = '987000223' WHERE lead_id = 777002;
INSERT INTO raw.summary_daily VALUES ('D-777', current_date - 1, 1);
DELETE FROM raw.summary_daily WHERE trip_date = current_date - 1;
UPDATE ct4.settings SET value = '3' WHERE name OPERATOR(pg_catalog.=) 'link_threshold';   -- our own text = text
INSERT INTO ct4.jobs (job_name, command) VALUES ('t12_probe', 'SELECT 1');
CALL ct4.run_job('t12_probe');
RESET search_path;
CREATE TEMP TABLE pwned AS SELECT * FROM public.t12_pwned;
DROP OWNED BY t12_creator;
SELECT is((SELECT string_agg(DISTINCT via, ', ') FROM pwned), NULL,
          'no shadow in public ran while the superuser ran the extension');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 't12_creator'), false, 'the role that can CREATE in public is no superuser');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE status NOT IN ('SUCCESS', 'DRY_RUN')), 0::bigint,
          'every run under that search_path succeeded');

-- 3. Any connected role takes the advisory keys the jobs used to lock with
-- (1129591873, hashtext(job)) and the claims cache's, and holds them.
SELECT pg_temp.login('nobody', 't12_nobody');
SELECT is(pg_temp.q('nobody', $$SELECT bool_and(pg_advisory_lock(1129591873, hashtext(k)) IS NOT NULL)::text
                                 FROM unnest(ARRAY['reconcile_leads_pipeline', 'reconcile_claims_14d',
                                                   'check_limbo_alerts', 'claims_cache']) k$$),
          'true', 'nobody holds every old advisory key');
CALL ct4.run_job('reconcile_leads_pipeline');
CALL ct4.run_job('reconcile_claims_14d');
CALL ct4.run_job('check_limbo_alerts');
SELECT is((SELECT string_agg(status, ' ' ORDER BY job_name)
             FROM (SELECT DISTINCT ON (job_name) job_name, status FROM ct4.job_runs
                    WHERE job_name IN ('reconcile_leads_pipeline', 'reconcile_claims_14d', 'check_limbo_alerts')
                    ORDER BY job_name, run_id DESC) l),
          'SUCCESS SUCCESS SUCCESS', 'the jobs run anyway: no SKIPPED_LOCKED');
SELECT ok(EXISTS (SELECT 1 FROM ops.claims_cache_meta), 'the claims cache is active (its triggers lock)');
-- lock_timeout bounds what would otherwise hang: a wait fails with 55P03.
SELECT pg_temp.login('ing', 't12_ingest');
SELECT lives_ok($$SELECT dblink_exec('ing', $c$SET lock_timeout = '10s';
    INSERT INTO raw.summary_daily VALUES ('D-777', current_date - 2, 4);
    INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
    VALUES (777003, current_date, 'Ana Rojas', '987000333')$c$)$$,
    'ingestion into raw.summary_daily and raw.module_ct_cabinet_leads does not block');
SET lock_timeout = '10s';
SELECT lives_ok($$SELECT * FROM ct4.unlink('module_ct_cabinet_leads', '777002', 'test: lock')$$, 'unlink does not hang');
RESET lock_timeout;
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT count(*) FROM ct4.job_locks')$$, '42501', NULL,
                 'nobody cannot reach the job locks');
SELECT is(pg_temp.q('nobody', 'SELECT pg_advisory_unlock_all()::text'), '', 'nobody lets go');

-- 4. LISTEN ct4_alerts by any role: an alert about a lead sends codes and
-- numbers, not the lead and driver ids that are in its details.
SELECT dblink_exec('nobody', 'LISTEN ct4_alerts');
UPDATE ct4.alert_rules SET threshold = -1 WHERE rule_code IN ('NO_IDENTITY_RECENT', 'TRIPS_NO_CLAIM');
DELETE FROM canon.identity_links WHERE source_pk = '777001';
SELECT count(*) FROM ct4.check_limbo_alerts();
SELECT ok((SELECT details::text LIKE '%777001%' FROM ct4.alert_events
            WHERE rule_code = 'NO_IDENTITY_RECENT' AND resolved_at IS NULL), 'the alert''s details name the lead');
SELECT pg_temp.q('nobody', 'SELECT 1');   -- a round trip: the notifications are delivered
CREATE TEMP TABLE heard AS SELECT * FROM dblink_get_notify('nobody');
SELECT ok((SELECT count(*) FROM heard WHERE notify_name = 'ct4_alerts') >= 1, 'the listener heard the alerts');
SELECT is((SELECT count(*) FROM heard WHERE extra LIKE '%777%' OR extra LIKE '%Rosa%'
              OR extra::jsonb ? 'details' OR extra::jsonb ? 'message'), 0::bigint,
          'no payload carries a lead id, a driver id, a name, the message or the details');
SELECT is((SELECT string_agg(DISTINCT extra::jsonb->>'alert_code', ',') FROM heard),
          (SELECT string_agg(DISTINCT rule_code, ',') FROM ct4.alert_events WHERE resolved_at IS NULL),
          'the payloads name the alert codes');
SELECT is((SELECT string_agg(k, ',' ORDER BY k) FROM (SELECT DISTINCT jsonb_object_keys(extra::jsonb) k FROM heard) x),
          'alert_code,event_id,metric_value,raised_at,run_id,severity,threshold', 'the payload''s keys');

-- 5. The README's operator cannot reach the old holes without the old grants.
SELECT pg_temp.login('op', 't12_operator');
SELECT throws_ok($$SELECT dblink_exec('op', $c$UPDATE ct4.jobs SET command = 'SELECT 1' WHERE job_name = 'check_limbo_alerts'$c$)$$,
                 '42501', NULL, 'the README''s operator has no UPDATE on ct4.jobs.command');
SELECT throws_ok($$SELECT dblink_exec('op', $c$INSERT INTO ct4.refresh_views (view_name) VALUES ('public.any_mv')$c$)$$,
                 '42501', NULL, 'nor INSERT on ct4.refresh_views');
SELECT throws_ok($$SELECT dblink_exec('op', 'SELECT 1 FROM ct4.job_locks FOR UPDATE')$$,
                 '42501', NULL, 'nor may it lock a job''s lock row');
SELECT throws_ok($$SELECT dblink_exec('op', 'INSERT INTO ops.cabinet_claims_14d SELECT * FROM ops.cabinet_claims_14d')$$,
                 '42501', NULL, 'nor write the ledger');

DELETE FROM ct4.jobs WHERE job_name = 't12_probe';
\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
