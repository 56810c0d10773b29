-- Two concurrent calls: a second backend (started from here through COPY TO
-- PROGRAM, since dblink is not available) runs the job and keeps its
-- transaction open; this session's call must return SKIPPED_LOCKED at once.
-- Not inside BEGIN: the other session must see committed data.
SELECT plan(5);
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
VALUES (1, current_date, 'Ana Diaz', '911000111');
DO $$
BEGIN
    EXECUTE format(
        'COPY (SELECT 1) TO PROGRAM %L',
        format('PGAPPNAME=ct4_lock_holder /usr/lib/postgresql/15/bin/psql -X -q -h %s -p %s -U %s -d %s'
               ' -c "BEGIN; SELECT * FROM ct4.reconcile_leads_pipeline(); SELECT pg_sleep(60); COMMIT;"'
               ' >/dev/null 2>&1 &',
               split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), current_user, current_database()));
END $$;
-- Wait (bounded) until the holder has run the job and sits in pg_sleep.
DO $$
BEGIN
    FOR i IN 1..400 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity a
                           WHERE a.application_name = 'ct4_lock_holder' AND a.wait_event = 'PgSleep');
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT ok(EXISTS (SELECT 1 FROM pg_stat_activity a
                   WHERE a.application_name = 'ct4_lock_holder' AND a.wait_event = 'PgSleep'
                     AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'transactionid')),
          'the other session ran the job and holds its transaction open');
SELECT is(status, 'SKIPPED_LOCKED', 'second concurrent call is skipped')
  FROM ct4.reconcile_leads_pipeline();
SELECT is((SELECT count(*) FROM canon.identity_links), 0::bigint,
          'the skipped call linked nothing (the holder has not committed)');
SELECT ok(pg_terminate_backend(pid, 10000), 'the holder is terminated (its transaction rolls back)')
  FROM pg_stat_activity WHERE application_name = 'ct4_lock_holder';
SELECT is(status, 'SUCCESS', 'once the holder is gone the job runs again')
  FROM ct4.reconcile_leads_pipeline();
SELECT * FROM finish();
