-- Issue 12 points 2 and 9 (SPEC 5, 6): health() and metrics() in READ ONLY
-- transactions, as the README's reader and as a superuser; a malformed
-- setting degrades only the metrics that read it; counters never decrease
-- (pruning); a dry run is not a success; check_limbo_alerts_at writes
-- nothing; CALL ct4.run_job tells the caller what happened (NOTICE).
-- Not inside BEGIN: the LOGIN users (dblink) and the psql client that
-- catches the NOTICE must see committed data. Everything is undone at the end.
\ir ../fixtures/readme_roles.sql
SELECT plan(24);
SET TimeZone = 'UTC';

INSERT INTO ct4.jobs (job_name, command, description, max_runtime)
VALUES ('t12_ok', 'SELECT 1', 'issue 12 test job', '10 seconds');

-- 2. READ ONLY: both work and write nothing, for a superuser and a reader.
SELECT pg_temp.login('reader', 't12_reader');
SELECT dblink_exec('reader', 'BEGIN TRANSACTION READ ONLY');
SELECT ok(pg_temp.q('reader', 'SELECT ct4.metrics()') LIKE '%ct4_pg_cron_scheduler_running %',
          'reader: metrics() in a READ ONLY transaction');
SELECT ok(pg_temp.q('reader', 'SELECT ct4.health()->>''status''') IN ('healthy', 'degraded', 'unhealthy'),
          'reader: health() in a READ ONLY transaction');
SELECT is(pg_temp.q('reader', 'SELECT string_agg(job_name || '' '' || waiting_for::text, '', '') FROM ct4.job_status WHERE waiting_for IS NOT NULL'),
          'check_limbo_alerts {reconcile_leads_pipeline,reconcile_claims_14d}', 'reader: job_status, what a chained job waits for included');
SELECT dblink_exec('reader', 'COMMIT');
SELECT is(pg_temp.q('reader', 'SELECT ct4.metrics()'), ct4.metrics(), 'reader: the same metrics() as the superuser');

BEGIN TRANSACTION READ ONLY;
SELECT lives_ok('SELECT ct4.metrics()', 'superuser: metrics() in a READ ONLY transaction');
SELECT lives_ok('SELECT ct4.health()', 'superuser: health() in a READ ONLY transaction');
COMMIT;

-- A run whose backend died: CRASHED in a READ ONLY transaction, not written.
INSERT INTO ct4.job_runs (job_name, status, backend_pid, started_at) VALUES ('t12_ok', 'RUNNING', 2147483000, now() - interval '1 minute');
BEGIN TRANSACTION READ ONLY;
SELECT is((SELECT x->>'last_status' FROM jsonb_array_elements(ct4.health()->'jobs') x WHERE x->>'job_name' = 't12_ok'),
          'CRASHED', 'READ ONLY: health() shows the dead run as CRASHED');
COMMIT;
SELECT is((SELECT status FROM ct4.job_runs WHERE job_name = 't12_ok'), 'RUNNING', '... without writing it');
SELECT ok(ct4.metrics() LIKE '%ct4_job_runs_total{job="t12_ok",status="CRASHED"} 1%',
          'a read-write metrics() records it and counts it as a finished run');

-- A malformed setting (written past the validation, as a restore of an old
-- dump could) degrades only the limbo counts, which read it.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone) VALUES (1, '2025-06-10', 'Ana Perez', '987654321');
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D1', 'Ana Perez', '987654321');
INSERT INTO canon.persons (person_key) VALUES (1);
INSERT INTO canon.identity_links (source_table, source_pk, person_key, match_rule, evidence, linked_at, run_id) VALUES
    ('module_ct_cabinet_leads', '1', 1, 'NEW_PERSON', '{}', now(), 0), ('drivers', 'D1', 1, 'PHONE+NAME', '{}', now(), 0);
SET session_replication_role = replica;   -- skips the validation trigger
UPDATE ct4.settings SET value = 'abc' WHERE name = 'window_days';
RESET session_replication_role;
SELECT lives_ok('SELECT ct4.metrics()', 'window_days = ''abc'': metrics() still answers');
SELECT ok(ct4.metrics() LIKE '%ct4_metrics_section_ok{section="limbo"} 0%'
      AND ct4.metrics() NOT LIKE '%ct4_limbo_leads{%' AND ct4.metrics() LIKE '%ct4_job_enabled{job="t12_ok"} 1%',
          '... without the limbo counts (section marked 0), with the job metrics');
SELECT is(ct4.health()->>'status', 'degraded', 'health() does not read the setting: unchanged (degraded: pg_cron missing here)');
SET session_replication_role = replica;
UPDATE ct4.settings SET value = '14' WHERE name = 'window_days';
RESET session_replication_role;
SELECT ok(ct4.metrics() LIKE '%ct4_metrics_section_ok{section="limbo"} 1%' AND ct4.metrics() LIKE '%ct4_limbo_leads{stage="NO_TRIPS_14D"} 1%',
          'fixed: the limbo counts are back');

-- Counters never decrease: pruning history leaves ct4_job_runs_total.
DELETE FROM ct4.job_runs WHERE job_name = 't12_ok';
CALL ct4.run_job('t12_ok');
CALL ct4.run_job('t12_ok');
CALL ct4.run_job('t12_ok');
UPDATE ct4.job_runs SET started_at = started_at - interval '40 days' WHERE job_name = 't12_ok'
   AND run_id < (SELECT max(run_id) FROM ct4.job_runs WHERE job_name = 't12_ok');
SELECT is(ct4.prune_history('30 days'), 2::bigint, 'prune_history deletes the two old runs');
SELECT ok(ct4.metrics() LIKE '%ct4_job_runs_total{job="t12_ok",status="SUCCESS"} 3%'
      AND ct4.metrics() LIKE '%ct4_job_duration_seconds_count{job="t12_ok"} 4%',
          'ct4_job_runs_total and the duration summary still count the three runs (and the crashed one)');
SELECT ok(ct4.metrics() LIKE '%ct4_job_failures_total{job="t12_ok"} 1%', 'ct4_job_failures_total keeps the crashed run');

-- A dry run is not a success.
SELECT is((SELECT status FROM ct4.reconcile_claims_14d(21, 1000, true, true)), 'DRY_RUN', 'a dry run of the claims job');
SELECT is((SELECT last_success_at FROM ct4.job_status WHERE job_name = 'reconcile_claims_14d'), NULL,
          'job_status.last_success_at ignores it');
SELECT ok(ct4.metrics() NOT LIKE '%ct4_job_last_success_timestamp_seconds{job="reconcile_claims_14d"}%'
      AND ct4.metrics() LIKE '%ct4_job_runs_total{job="reconcile_claims_14d",status="DRY_RUN"} 1%',
          'no last-success metric for it; it counts as a DRY_RUN run');

-- check_limbo_alerts_at (back-checks) writes nothing.
INSERT INTO ct4.scheduled_jobs VALUES ('ct4:t12_ok', 't12_ok', '0 * * * *', '0 * * * *', 'CALL ct4.run_job(''t12_ok'')', '2025-06-18 00:00+00');
SELECT is((SELECT count(*) FROM ct4._check_limbo_alerts_record('2025-06-18 12:00+00') WHERE alert_code = 'JOB_STALE'), 1::bigint,
          'the job (as of a time) raises JOB_STALE and records it');
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM ct4.job_runs) AS runs, (SELECT count(*) FROM ct4.alert_events) AS events,
       (SELECT count(*) FROM ct4.alert_events WHERE resolved_at IS NULL) AS open;
SELECT is((SELECT count(*) FROM ct4.check_limbo_alerts_at('2025-06-20 12:00+00') WHERE alert_code = 'JOB_STALE'), 1::bigint,
          'check_limbo_alerts_at two days later returns the alert');
SELECT is((SELECT (count(*), (SELECT count(*) FROM ct4.alert_events), (SELECT count(*) FROM ct4.alert_events WHERE resolved_at IS NULL))::text
             FROM ct4.job_runs),
          (SELECT (runs, events, open)::text FROM before), '... and writes no run, no event, resolves nothing');
DELETE FROM ct4.scheduled_jobs WHERE jobname = 'ct4:t12_ok';

-- 9. CALL ct4.run_job tells the caller what happened (psql prints only CALL).
\set call_out `psql -X -d :DBNAME -c "CALL ct4.run_job('reconcile_claims_14d')" 2>&1`
SELECT matches(:'call_out'::text, 'NOTICE:  ct4 run [0-9]+ of job reconcile_claims_14d: SUCCESS \(.*processed 0.*duration_ms [0-9.]+.*claims_created 0',
               'run_job: a NOTICE with the status and the counters');
BEGIN;
SELECT ct4._job_lock('t12_ok', false);   -- another run holds the lock
\set call_out `psql -X -d :DBNAME -c "CALL ct4.run_job('t12_ok')" 2>&1`
ROLLBACK;
SELECT matches(:'call_out'::text, 'NOTICE:  ct4 run [0-9]+ of job t12_ok: SKIPPED_LOCKED \(another run holds',
               'run_job: SKIPPED_LOCKED is told too');

DELETE FROM canon.identity_links;
DELETE FROM canon.persons;
DELETE FROM raw.drivers;
DELETE FROM raw.module_ct_cabinet_leads;
DELETE FROM ct4.job_runs;
DELETE FROM ct4.run_counters;
DELETE FROM ct4.alert_events;
DELETE FROM ct4.jobs WHERE job_name = 't12_ok';
\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
