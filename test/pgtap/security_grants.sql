-- SPEC 6: PUBLIC has no access; every routine says who may call it and pins
-- search_path; the README's roles, created exactly as shown, work as LOGIN
-- users for everything they are for, and nothing more.
-- Not inside BEGIN: the LOGIN users connect through dblink and must see
-- committed roles and data.
\ir ../fixtures/readme_roles.sql
SELECT plan(71);

CREATE TEMP VIEW ext_routines AS
SELECT p.oid, p.oid::regprocedure AS sig, p.prokind, l.lanname, p.proconfig, p.prosrc
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ct4_jobs');

-- 1. The catalog.
SELECT is((SELECT count(*) FROM ext_routines WHERE has_function_privilege('public', oid, 'EXECUTE')), 0::bigint,
          'no routine of the extension is executable by PUBLIC');
SELECT is((SELECT array_agg(sig::text ORDER BY sig::text) FROM ext_routines r
            WHERE NOT EXISTS (SELECT 1 FROM ct4.access_grants a
                               WHERE a.kind = 'routine' AND a.object::regprocedure = r.oid)),
          NULL, 'every routine has a row in ct4.access_grants (who may call it)');
SELECT is((SELECT array_agg(a.object ORDER BY a.object) FROM ct4.access_grants a
            WHERE a.kind = 'routine' AND a.tier = 'owner'
              AND EXISTS (SELECT 1 FROM ct4.access_grants b
                           WHERE b.kind = 'routine' AND b.object = a.object AND b.tier <> 'owner')),
          NULL, 'an owner-only routine is in no other tier');
SELECT is((SELECT count(*) FROM ct4.access_grants a WHERE a.kind = 'routine'
              AND NOT EXISTS (SELECT 1 FROM ext_routines r WHERE r.oid = a.object::regprocedure)),
          0::bigint, 'every routine row names a routine of the extension');
-- Every routine pins search_path, except those that cannot or need not:
-- procedures that commit (they pin it for each of their transactions with
-- set_config), C functions that run no SQL or only the owner's job command
-- under a pinned caller, and the demo helpers and the CRM's episode text
-- inlined into a pinned caller.
SELECT is((SELECT array_agg(sig::text ORDER BY sig::text) FROM ext_routines
            WHERE NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)
              AND NOT (prokind = 'p' AND (prosrc LIKE '%set_config(''search_path'', ''pg_catalog, pg_temp'', true)%'
                                          OR prosrc NOT LIKE '%COMMIT%'))
              AND sig::text NOT LIKE 'ct4._demo\_%' AND sig::text <> 'ct4._crm_episode(timestamp with time zone)'
              AND sig::text NOT IN ('ct4.normalize_phone(text)', 'ct4.normalize_license(text)',
                                    'ct4.normalize_plate(text)', 'ct4.normalize_name(text)',
                                    'ct4.name_similarity(text,text)', 'ct4.name_tokens_agree(text,text)',
                                    'ct4.cron_next(text,timestamp with time zone)',
                                    'ct4.cron_interval(text,timestamp with time zone)', 'ct4.cron_local_to_utc(text,integer)', 'ct4.cron_error(text)',
                                    'ct4.cron_prev(text,timestamp with time zone)',
                                    'ct4._exec_with_timeout(text,interval)')),
          NULL, 'every other function pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT array_agg(sig::text ORDER BY sig::text) FROM ext_routines
            WHERE prokind = 'p' AND prosrc LIKE '%COMMIT%'
              AND regexp_count(prosrc, 'COMMIT;') >= regexp_count(prosrc, 'set_config\(''search_path''')),
          NULL, 'a procedure that commits pins search_path again after each COMMIT');
SELECT is((SELECT array_agg(sig::text ORDER BY sig::text) FROM ext_routines
            WHERE lanname = 'c' AND sig::text SIMILAR TO 'ct4.(reconcile|check_limbo|claims_gap)%'
              AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)),
          NULL, 'the C jobs pin search_path');
SELECT ok(NOT has_table_privilege('t12_nobody', 'ct4.access_grants', 'SELECT'), 'PUBLIC reads no table');

INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
VALUES (1, current_date, 'Ana Perez', '987654321');

-- 2. nobody: a LOGIN role with no grant. Even with USAGE on ct4 it can call
-- nothing, because EXECUTE is revoked from PUBLIC.
SELECT pg_temp.login('nobody', 't12_nobody');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT count(*) FROM raw.module_ct_cabinet_leads')$$, '42501', NULL,
                 'nobody cannot read raw leads');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT count(*) FROM ops.v_cabinet_leads_limbo')$$, '42501', NULL,
                 'nobody cannot read the limbo view');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT ct4.health()')$$, '42501', NULL, 'nobody cannot call health()');
GRANT USAGE ON SCHEMA ct4 TO t12_nobody;
SELECT throws_ok(format('SELECT dblink_exec(%L, %L)', 'nobody', c), '42501', NULL,
                 'nobody with USAGE on ct4 cannot: ' || c)
  FROM unnest(ARRAY[
      $$CALL ct4.run_job('check_limbo_alerts')$$, 'CALL ct4.maintenance()', 'SELECT ct4.schedule()',
      'SELECT ct4.unschedule()', $$SELECT ct4.enable_job('check_limbo_alerts')$$,
      $$SELECT ct4.disable_job('check_limbo_alerts')$$, 'SELECT ct4.prune_history()',
      'SELECT * FROM ct4.check_limbo_alerts()', 'SELECT * FROM ct4.reconcile_leads_pipeline()',
      'SELECT ct4.metrics()', $$SELECT ct4.normalize_phone('987654321')$$]) c;
REVOKE USAGE ON SCHEMA ct4 FROM t12_nobody;

-- 3. reader: reads everything, sees what a superuser sees, writes and runs nothing.
SELECT pg_temp.login('reader', 't12_reader');
SELECT is(pg_temp.q('reader', 'SELECT count(*) FROM ops.v_cabinet_leads_limbo'), '1', 'reader reads the limbo view');
SELECT is(pg_temp.q('reader', 'SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly'), '1',
          'reader reads the weekly funnel');
CALL ct4.run_job('check_limbo_alerts');
SELECT is(pg_temp.q('reader', $$SELECT string_agg(concat_ws(' ', job_name, enabled, running, last_status, total_runs),
                                                 ', ' ORDER BY job_name) FROM ct4.job_status$$),
          (SELECT string_agg(concat_ws(' ', job_name, enabled, running, last_status, total_runs), ', ' ORDER BY job_name)
             FROM ct4.job_status), 'reader reads job_status as a superuser does');
SELECT is(pg_temp.q('reader', $$SELECT (ct4.health() - 'checked_at')::text$$)::jsonb,
          ct4.health() - 'checked_at', 'reader''s health() is the superuser''s');
SELECT is(pg_temp.q('reader', $$SELECT ct4.health()->'pg_cron'->>'scheduler_running'$$), 'true',
          'reader sees pg_cron''s launcher running');
SELECT is(pg_temp.q('reader', 'SELECT ct4.metrics()'), ct4.metrics(), 'reader''s metrics() are the superuser''s');
SELECT matches(pg_temp.q('reader', 'SELECT ct4.metrics()'), 'ct4_pg_cron_scheduler_running 1',
               'reader''s metrics: the scheduler runs');
SELECT lives_ok($$SELECT pg_temp.q('reader', 'SELECT count(*) FROM ct4.claims_gap_report(21, 1000)')$$,
                'reader runs the gap report');
SELECT throws_ok(format('SELECT dblink_exec(%L, %L)', 'reader', c), '42501', NULL, 'reader cannot: ' || c)
  FROM unnest(ARRAY[
      $$CALL ct4.run_job('check_limbo_alerts')$$, 'CALL ct4.maintenance()',
      $$SELECT ct4.disable_job('check_limbo_alerts')$$, 'SELECT * FROM ct4.reconcile_leads_pipeline()',
      $$UPDATE ct4.settings SET value = '15' WHERE name = 'window_days'$$,
      'DELETE FROM raw.module_ct_cabinet_leads',
      $$SELECT 1 FROM ct4.job_locks FOR UPDATE$$]) c;

-- 4. operator: everything an operator does, as a LOGIN member of ct4_operator.
SELECT pg_temp.login('op', 't12_operator');
SELECT lives_ok($$SELECT dblink_exec('op', 'CALL ct4.run_job(''reconcile_leads_pipeline'')')$$, 'operator: CALL ct4.run_job');
SELECT is((SELECT status FROM ct4.job_runs WHERE job_name = 'reconcile_leads_pipeline' ORDER BY run_id DESC LIMIT 1),
          'SUCCESS', 'the operator''s run succeeded');
SELECT is((SELECT count(*) FROM canon.identity_links), 1::bigint, 'the operator''s run linked the lead');
SELECT is(pg_temp.q('op', 'SELECT status FROM ct4.reconcile_claims_14d(21, 1000)'), 'SUCCESS',
          'operator runs the claims job directly');
SELECT is(pg_temp.q('op', 'SELECT status FROM ct4.reconcile_leads_pipeline()'), 'SUCCESS',
          'operator runs the identity job directly');
SELECT lives_ok($$SELECT pg_temp.q('op', 'SELECT count(*) FROM ct4.check_limbo_alerts()')$$, 'operator runs the alerts');
SELECT lives_ok($$SELECT dblink_exec('op', 'CALL ct4.maintenance()')$$, 'operator: CALL ct4.maintenance()');
SELECT is(pg_temp.q('op', $$SELECT ct4.disable_job('reconcile_claims_14d')$$), 'f', 'operator disables a job');
SELECT is(pg_temp.q('op', $$SELECT ct4.enable_job('reconcile_claims_14d')$$), 't', 'operator enables it again');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.settings SET value = ''14'' WHERE name = ''window_days''')$$,
                'operator edits settings');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.alert_rules SET threshold = 60 WHERE rule_code = ''NO_IDENTITY_RECENT''')$$,
                'operator edits alert rules');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.jobs SET max_runtime = ''7 minutes'', max_retries = 2 WHERE job_name = ''check_limbo_alerts''')$$,
                'operator edits a job''s limits');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.job_schedules SET schedule = ''40 2 * * *'' WHERE profile = ''production'' AND job_name = ''check_limbo_alerts''')$$,
                'operator edits a profile''s schedule');
SELECT lives_ok($$SELECT dblink_exec('op', 'INSERT INTO ct4.milestones VALUES (50, 50, 150)')$$, 'operator adds a milestone');
SELECT lives_ok($$SELECT pg_temp.q('op', 'SELECT ct4.prune_history()')$$, 'operator prunes the history');
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D-1', 'Ana Perez', '987654321');
SELECT is(pg_temp.q('op', 'SELECT newly_driver_mapped FROM ct4.reconcile_leads_pipeline()'), '1', 'operator maps a driver');
SELECT is(pg_temp.q('op', $$SELECT source_pk FROM ct4.unlink('drivers', 'D-1', 'test: wrong person')$$), 'D-1',
          'operator unlinks through ct4.unlink');
SELECT is((SELECT removed_by::text FROM canon.identity_link_removals), 't12_operator',
          'the removal names the operator who asked for it (written by the owner''s function)');
-- ... and nothing more.
SELECT is((SELECT array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY 1)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('canon', 'ops') AND c.relkind IN ('r', 'v', 'm', 'S')
              AND (has_table_privilege('t12_operator', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                   OR (c.relkind = 'S' AND has_sequence_privilege('t12_operator', c.oid, 'USAGE, UPDATE')))),
          NULL, 'the operator may write no table or sequence of canon and ops');
SELECT throws_ok(format('SELECT dblink_exec(%L, %L)', 'op', c), '42501', NULL, 'operator cannot: ' || c)
  FROM unnest(ARRAY[
      $$INSERT INTO canon.identity_links VALUES ('drivers', 'X', 1, 'HAND', NULL, '{}', now(), 0)$$,
      'DELETE FROM canon.identity_link_removals',
      'UPDATE ops.cabinet_claims_14d SET amount = 0',
      $$UPDATE ct4.jobs SET command = 'SELECT 1' WHERE job_name = 'check_limbo_alerts'$$,
      $$INSERT INTO ct4.jobs (job_name, command) VALUES ('mine', 'SELECT 1')$$,
      $$INSERT INTO ct4.refresh_views (view_name) VALUES ('public.mv')$$,
      'DELETE FROM ct4.job_runs',
      $$SELECT 1 FROM ct4.job_locks FOR UPDATE$$,
      $$SELECT ct4.grant_access('t12_operator', 'operator')$$,
      $$SELECT ct4._exec_with_timeout('SELECT 1', '1 minute')$$,
      'BEGIN; LOCK TABLE ops.claims_cache_lock IN EXCLUSIVE MODE']) c;
SELECT dblink_exec('op', 'ROLLBACK');

-- 5. ingestion: writes raw.* (the key indexes' normalizers and the triggers
-- included), reads nothing else, runs nothing.
SELECT pg_temp.login('ing', 't12_ingest');
SELECT lives_ok($$SELECT dblink_exec('ing', $i$
    INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate)
    VALUES (2, current_date, 'Luis Rojas', '+51 912 345 678', 'q-1234 5678', 'abc-123');
    INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D-ING', 'Luis Rojas', '912345678');
    INSERT INTO raw.summary_daily VALUES ('D-ING', current_date, 3);
    INSERT INTO raw.claim_payments VALUES (1, 'D-ING', 1, current_date, 25, now());
    UPDATE raw.module_ct_cabinet_leads SET phone = '912345679' WHERE lead_id = 2;
    DELETE FROM raw.summary_daily WHERE driver_id = 'D-ING'$i$)$$,
    'the ingestion role inserts, updates and deletes raw rows');
SELECT throws_ok(format('SELECT dblink_exec(%L, %L)', 'ing', c), '42501', NULL, 'ingestion cannot: ' || c)
  FROM unnest(ARRAY['SELECT count(*) FROM canon.identity_links', 'SELECT * FROM ct4.reconcile_leads_pipeline()',
                    $$CALL ct4.run_job('reconcile_leads_pipeline')$$]) c;

\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
