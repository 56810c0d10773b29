-- A cancel (pg_cancel_backend) in the middle of a run leaves nothing
-- half-written. The job runs on a second connection (dblink) and is stopped
-- deterministically in the middle: this session holds a lock on
-- canon.identity_links, so the run has already written its persons, its
-- unmatched rows and its lead states (in its transaction), and waits to
-- insert its links (its last write) when it is cancelled.
-- Not inside BEGIN: the other connection must see committed data.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT plan(14);
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number)
SELECT 'D' || i, 'Driver ' || chr(65 + i % 26) || chr(65 + i / 26 % 26), (900000000 + i)::text, 'Q' || (10000000 + i)
  FROM generate_series(1, 300) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number)
SELECT i, current_date - i % 10, 'driver ' || chr(65 + i % 26) || chr(65 + i / 26 % 26), '+51 ' || (900000000 + i), NULL
  FROM generate_series(1, 300) i;

CREATE FUNCTION pg_temp.start_blocked(sql text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    job_pid integer;
BEGIN
    PERFORM dblink_connect('job', format('dbname=%s host=%s port=%s user=postgres', current_database(),
                           split_part(current_setting('unix_socket_directories'), ',', 1),
                           current_setting('port')));
    SELECT p INTO job_pid FROM dblink('job', 'SELECT pg_backend_pid()') AS t(p integer);
    PERFORM dblink_send_query('job', sql);
    -- Bounded poll until the run waits for the lock on identity_links.
    FOR i IN 1..600 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.pid = job_pid AND NOT l.granted
                             AND l.relation = 'canon.identity_links'::regclass);
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN job_pid;
END $$;

-- 1. A direct call.
BEGIN;
LOCK TABLE canon.identity_links IN SHARE ROW EXCLUSIVE MODE;
CREATE TEMP TABLE job AS
SELECT pg_temp.start_blocked('SELECT * FROM ct4.reconcile_leads_pipeline(30, 1000)') AS pid;
SELECT ok(EXISTS (SELECT 1 FROM pg_locks l JOIN job ON l.pid = job.pid
                   WHERE NOT l.granted AND l.relation = 'canon.identity_links'::regclass),
          'the run waits to insert its links');
SELECT is((SELECT count(*) FROM pg_locks l JOIN job ON l.pid = job.pid
            WHERE l.granted AND l.mode = 'RowExclusiveLock'
              AND l.relation IN ('canon.persons'::regclass, 'canon.identity_lead_state'::regclass)), 2::bigint,
          'after writing persons and lead states (it holds their write locks)');
SELECT ok(pg_cancel_backend(pid), 'the run is cancelled') FROM job;
COMMIT;
-- (dblink_get_result with fail => false: query_canceled is not trappable in plpgsql)
SELECT is((SELECT count(*) FROM dblink_get_result('job', false) AS t(run_id bigint, status text,
             processed integer, newly_linked integer, newly_driver_mapped integer,
             still_no_candidates integer, conflicts integer, errors integer, duration_ms double precision)),
          0::bigint, 'the call returns no row');
SELECT matches(dblink_error_message('job'), 'canceling statement due to user request',
               'the call ended with the cancel');
SELECT dblink_disconnect('job') \g /dev/null
SELECT is((SELECT count(*) FROM canon.persons) + (SELECT count(*) FROM canon.identity_links)
          + (SELECT count(*) FROM canon.identity_unmatched),
          0::bigint, 'canon holds nothing of the cancelled run');
SELECT is((SELECT count(*) FROM canon.identity_lead_state WHERE stage <> 'NEW'), 0::bigint,
          'every lead is still NEW');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE status = 'SUCCESS'), 0::bigint,
          'no run record says SUCCESS (the direct call''s record rolled back with it)');

-- 2. Through ct4.run_job, which keeps the run record of a failed run.
BEGIN;
LOCK TABLE canon.identity_links IN SHARE ROW EXCLUSIVE MODE;
TRUNCATE job;
INSERT INTO job SELECT pg_temp.start_blocked($$CALL ct4.run_job('reconcile_leads_pipeline')$$);
SELECT ok(EXISTS (SELECT 1 FROM pg_locks l JOIN job ON l.pid = job.pid
                   WHERE NOT l.granted AND l.relation = 'canon.identity_links'::regclass),
          'run_job: the run is in the middle');
SELECT ok(pg_cancel_backend(pid), 'run_job: the run is cancelled') FROM job;
COMMIT;
SELECT lives_ok($$SELECT * FROM dblink_get_result('job', false) AS t(x text)$$, 'run_job: the call returns');
SELECT dblink_disconnect('job') \g /dev/null
SELECT is((SELECT count(*) FROM canon.persons) + (SELECT count(*) FROM canon.identity_links)
          + (SELECT count(*) FROM canon.identity_unmatched),
          0::bigint, 'run_job: canon holds nothing of the cancelled run');
SELECT results_eq($$SELECT status, sqlstate FROM ct4.job_runs WHERE job_name = 'reconcile_leads_pipeline'$$,
                  $$VALUES ('FAILED'::text, '57014'::text)$$,
                  'run_job: its run record is FAILED with 57014');
SELECT is(status, 'SUCCESS', 'the next run links them') FROM ct4.reconcile_leads_pipeline(30, 1000);
SELECT * FROM finish();
