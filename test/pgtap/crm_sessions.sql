-- The CRM jobs as the operator lives them: the schedules' default calls
-- through ct4.run_job, the NOTIFY payloads heard by a session that LISTENs
-- and runs the jobs itself, a second run while one holds the job lock, and
-- the README's roles as LOGIN users. Not inside BEGIN: the other sessions
-- must see committed data (this test database is dropped afterwards).
\ir ../fixtures/readme_roles.sql
SELECT plan(29);
\i test/fixtures/crm_thread.sql

-- 1. The default calls of the schedules, on an empty CRM: no-ops that succeed.
CALL ct4.run_job('crm_notification_checks');
CALL ct4.run_job('crm_seller_metrics');
CALL ct4.run_job('crm_cleanup');
CALL ct4.run_job('crm_daily_report');
SELECT results_eq($$SELECT job_name, status, attempt FROM ct4.job_runs ORDER BY run_id$$,
    $$VALUES ('crm_notification_checks', 'SUCCESS', 1), ('crm_seller_metrics', 'SUCCESS', 1),
             ('crm_cleanup', 'SUCCESS', 1), ('crm_daily_report', 'SUCCESS', 1)$$,
    'run_job runs each CRM job with its default arguments');
SELECT is((SELECT stats - 'duration_ms' FROM ct4.job_runs WHERE job_name = 'crm_cleanup'),
          '{"notifications_deleted": 0, "metrics_deleted": 0, "conversations_archived": 0}'::jsonb,
          'the run record holds the counters');
SELECT is((SELECT (args->>'for_date')::date FROM ct4.job_runs WHERE job_name = 'crm_daily_report'), ct4._crm_day(now()) - 1,
          'the report ran for yesterday');
SELECT ok((SELECT (args->>'as_of')::timestamptz <= now() FROM ct4.job_runs WHERE job_name = 'crm_notification_checks'),
          'the check ran as of its start');
SELECT is((SELECT jsonb_agg(j->>'job_name' ORDER BY j->>'job_name') FROM jsonb_array_elements(ct4.health()->'jobs') j
            WHERE j->>'job_name' LIKE 'crm\_%'),
          '["crm_cleanup", "crm_daily_report", "crm_notification_checks", "crm_seller_metrics"]'::jsonb,
          'health() lists the CRM jobs');
SELECT is((SELECT count(*) FROM ct4.job_status WHERE job_name LIKE 'crm\_%' AND last_status = 'SUCCESS'), 4::bigint,
          'job_status shows their last runs');

-- A CRM with personal data in every row.
SET timezone = 'UTC';
INSERT INTO crm.sellers (seller_id, full_name, email) VALUES (1, 'Zed Secret', 'zed@secret.example');
INSERT INTO crm.leads (lead_id, seller_id, full_name, status, conversion_probability, created_at) VALUES
    (7, 1, 'Rosa Hidden', 'new', 0.99, '2026-06-01');
SELECT pg_temp.thread(5, 1, 'active', '2026-06-10', 'C 08:00:00');
UPDATE crm.messages SET body = 'my card is 4111 1111 1111 1111' WHERE conversation_id = 5;

-- 2. LISTEN in the session that runs the jobs: it hears its own
-- notifications once they commit.
SELECT pg_temp.login('listener', 'postgres');
SELECT dblink_exec('listener', 'LISTEN crm_notifications');
SELECT dblink_exec('listener', 'LISTEN crm_metrics');
SELECT dblink_exec('listener', 'LISTEN crm_reports');
SELECT is(pg_temp.q('listener', $$SELECT notifications_created FROM ct4.crm_check_notifications('2026-06-10 12:00+00')$$), '2',
          'the check creates two notifications');
SELECT pg_temp.q('listener', $$SELECT sellers FROM ct4.crm_refresh_seller_metrics('2026-06-10 12:00+00')$$);
SELECT pg_temp.q('listener', $$SELECT run_id FROM ct4.crm_daily_report('2026-06-10')$$);
CREATE TEMP TABLE heard AS SELECT * FROM dblink_get_notify('listener');
SELECT is((SELECT count(*) FROM heard WHERE notify_name = 'crm_notifications'), 2::bigint, 'one crm_notifications per notification');
SELECT is((SELECT array_agg(extra::jsonb->>'kind' ORDER BY (extra::jsonb->>'notification_id')::bigint) FROM heard
            WHERE notify_name = 'crm_notifications'),
          (SELECT array_agg(kind ORDER BY notification_id) FROM crm.notifications), 'in notification_id order, the rows'' kinds');
SELECT is((SELECT extra::jsonb FROM heard WHERE notify_name = 'crm_notifications' AND extra::jsonb->>'kind' = 'HOT_LEAD'),
          (SELECT to_jsonb(n) FROM crm.notifications n WHERE kind = 'HOT_LEAD'), 'the payload is the row''s JSON');
SELECT is((SELECT string_agg(DISTINCT k, ',' ORDER BY k) FROM heard, jsonb_object_keys(extra::jsonb) k
            WHERE notify_name = 'crm_notifications'),
          'created_at,details,episode,kind,message,notification_id,read_at,run_id,seller_id,subject_id', 'every column');
SELECT is((SELECT extra::jsonb - 'run_id' FROM heard WHERE notify_name = 'crm_metrics'),
          '{"period": "2026-06-10", "sellers": 1}'::jsonb, 'crm_metrics: the period and the sellers refreshed...');
SELECT is((SELECT (extra::jsonb->>'run_id')::bigint FROM heard WHERE notify_name = 'crm_metrics'),
          (SELECT max(run_id) FROM ct4.job_runs WHERE job_name = 'crm_seller_metrics'), '... and the run');
SELECT is((SELECT extra::jsonb FROM heard WHERE notify_name = 'crm_reports'),
          jsonb_build_object('report_date', '2026-06-10',
                             'run_id', (SELECT max(run_id) FROM ct4.job_runs WHERE job_name = 'crm_daily_report')),
          'crm_reports: the day and the run');
SELECT is((SELECT count(*) FROM heard WHERE extra ~ '(Zed|Secret|Rosa|Hidden|4111|zed@)'), 0::bigint,
          'no payload carries a name, an e-mail or a message body (any role can LISTEN)');
SELECT ok((SELECT report::text LIKE '%Zed Secret%' FROM crm.daily_reports WHERE report_date = '2026-06-10'),
          'the names stay in the report, behind privileges');

-- 3. A second run while another session holds the job's lock.
SELECT pg_temp.login('holder', 'postgres');
SELECT dblink_exec('holder', 'BEGIN');
SELECT pg_temp.q('holder', $$SELECT ct4._job_lock('crm_seller_metrics', false)$$);
SELECT results_eq($$SELECT status, sellers, metrics_upserted FROM ct4.crm_refresh_seller_metrics('2026-06-10 12:05+00')$$,
    $$VALUES ('SKIPPED_LOCKED', 0, 0)$$, 'SKIPPED_LOCKED at once, zero counters');
SELECT is((SELECT status FROM ct4.job_runs ORDER BY run_id DESC LIMIT 1), 'SKIPPED_LOCKED', '... recorded in job_runs');
SELECT results_eq($$SELECT status, report_date, report FROM ct4.crm_daily_report('2026-06-10')$$,
    $$VALUES ('SUCCESS', '2026-06-10'::date, (SELECT report FROM crm.daily_reports WHERE report_date = '2026-06-10'))$$,
    'another job is not locked');
SELECT dblink_exec('holder', 'ROLLBACK');
SELECT is((SELECT status FROM ct4.crm_refresh_seller_metrics('2026-06-10 12:05+00')), 'SUCCESS', 'the lock released, it runs');

-- 4. The README's roles as LOGIN users.
SELECT pg_temp.login('reader', 't12_reader');
SELECT pg_temp.login('operator', 't12_operator');
SELECT pg_temp.login('nobody', 't12_nobody');
SELECT is(pg_temp.q('reader', 'SELECT count(*) FROM crm.notifications'), '2', 'a reader reads the CRM');
SELECT throws_ok($$SELECT pg_temp.q('reader', 'SELECT * FROM ct4.crm_cleanup()')$$, '42501', NULL, 'a reader runs no CRM job');
SELECT is(pg_temp.q('operator', $$SELECT status FROM ct4.crm_check_notifications('2026-06-10 12:10+00')$$), 'SUCCESS',
          'an operator runs a CRM job');
SELECT throws_ok($$SELECT pg_temp.q('operator', 'DELETE FROM crm.notifications')$$, '42501', NULL,
                 'an operator writes no job table');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT count(*) FROM crm.sellers')$$, '42501', NULL, 'nobody reads the CRM');

-- 5. ct4.metrics(): notifications created (kept) and open (unread), by kind.
CREATE FUNCTION pg_temp.crm_samples(metric text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_object_agg(labels->>'kind', value) FROM ct4.metric_samples() m WHERE m.metric = crm_samples.metric
$$;
SELECT is(pg_temp.crm_samples('ct4_crm_notifications_created_total'),
          '{"HOT_LEAD": 1, "FOLLOW_UP_DUE": 0, "SELLER_PERFORMANCE": 0, "UNANSWERED_CONVERSATION": 1}',
          'ct4_crm_notifications_created_total by kind');
UPDATE crm.notifications SET read_at = now() WHERE kind = 'HOT_LEAD';
SELECT is(pg_temp.crm_samples('ct4_crm_open_notifications'),
          '{"HOT_LEAD": 0, "FOLLOW_UP_DUE": 0, "SELLER_PERFORMANCE": 0, "UNANSWERED_CONVERSATION": 1}',
          'ct4_crm_open_notifications: the unread ones');
SELECT is((SELECT notifications_deleted FROM ct4.crm_cleanup('2026-07-01 00:00+00')), 2, 'the cleanup deletes both...');
SELECT is(pg_temp.crm_samples('ct4_crm_notifications_created_total'),
          '{"HOT_LEAD": 1, "FOLLOW_UP_DUE": 0, "SELLER_PERFORMANCE": 0, "UNANSWERED_CONVERSATION": 1}',
          '... and the counter does not decrease');

SELECT * FROM finish();
\ir ../fixtures/readme_roles_drop.sql
