-- The CRM jobs (SPEC 8.2): bad arguments and settings, once per episode
-- across repeated runs and advancing as_of, the metric definitions on
-- hand-computed threads (a day in America/Lima), cleanup boundaries and
-- batches, the report's rerun and default day, the profiles' entries.
-- Rolled back.
BEGIN;
SELECT plan(67);
SET LOCAL timezone = 'UTC';
\i test/fixtures/crm_thread.sql

-- 1. Bad arguments and settings: 22023 naming them.
SELECT throws_ok($$SELECT * FROM ct4.crm_check_notifications(NULL)$$, '22023', 'as_of must not be NULL', 'check: NULL as_of');
SELECT throws_ok($$SELECT * FROM ct4.crm_refresh_seller_metrics('infinity')$$, '22023', 'as_of must be finite', 'metrics: infinite as_of');
SELECT throws_ok($$SELECT * FROM ct4.crm_cleanup('-infinity')$$, '22023', 'as_of must be finite', 'cleanup: infinite as_of');
SELECT throws_ok($$SELECT * FROM ct4.crm_cleanup(NULL)$$, '22023', 'as_of must not be NULL', 'cleanup: NULL as_of');
SELECT throws_ok($$SELECT * FROM ct4.crm_daily_report(NULL)$$, '22023', 'for_date must not be NULL', 'report: NULL for_date');
SELECT throws_ok($$SELECT * FROM ct4.crm_daily_report('infinity')$$, '22023', 'for_date must be finite', 'report: infinite for_date');
SELECT is((SELECT count(*) FROM ct4.job_runs), 0::bigint, 'a rejected call records no run');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'abc' WHERE name = 'crm_unanswered_hours'$$, '22023',
                 'setting "crm_unanswered_hours" must be a number from 0 to 8760 (got ''abc'')', 'a setting of the wrong type');
SELECT throws_ok($$UPDATE ct4.settings SET value = '1.5' WHERE name = 'crm_hot_lead_probability'$$, '22023',
                 NULL, 'a probability above 1');
SELECT throws_ok($$UPDATE ct4.settings SET value = '0' WHERE name = 'crm_cleanup_batch'$$, '22023', NULL, 'a batch of 0');
SELECT throws_ok($$UPDATE ct4.settings SET value = '2.5' WHERE name = 'crm_cleanup_batch'$$, '22023', NULL, 'a batch that is no integer');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'Mars/Olympus' WHERE name = 'crm_timezone'$$, '22023',
                 NULL, 'an unknown time zone');
SELECT throws_ok($$INSERT INTO ct4.settings (name, value) VALUES ('crm_typo', '1')$$, '22023',
                 'setting "crm_typo" has no value_type: it is not a setting of the extension', 'an unknown crm_ setting');
SELECT lives_ok($$UPDATE ct4.settings SET value = 'America/Lima' WHERE name = 'crm_timezone'$$, 'a known time zone');
UPDATE ct4.settings SET value = 'UTC' WHERE name = 'crm_timezone';

-- 2. Once per episode. A static world checked every 5 minutes from 10:00
-- to 13:00: each condition notifies once, at the first check where it holds.
INSERT INTO crm.sellers (seller_id, full_name) VALUES (1, 'Zed Secret'), (2, 'Ina Busy');
SELECT pg_temp.thread(1, 1, 'active', '2026-06-10', 'C 10:00:00');
INSERT INTO crm.leads (lead_id, seller_id, status, conversion_probability, last_contact_time, next_follow_up, created_at) VALUES
    (11, 1, 'contacted', 0.9, '2026-06-10 09:00+00', NULL, '2026-06-01'),
    (12, 1, 'negotiation', 0.5, NULL, '2026-06-10 11:30+00', '2026-06-01');
-- Ina: 6 unanswered conversations (SELLER_PERFORMANCE).
SELECT pg_temp.thread(20 + i, 2, 'active', '2026-06-10', 'C 08:00:00') FROM generate_series(1, 6) i;
CREATE TEMP TABLE checks AS
SELECT t AS as_of, c.* FROM generate_series(timestamptz '2026-06-10 10:00+00', '2026-06-10 13:00+00', '5 minutes') t
 CROSS JOIN LATERAL ct4.crm_check_notifications(t) c;
SELECT is((SELECT sum(notifications_created) FROM checks), 10::bigint,
          '37 checks create 10 notifications: 6 + 1 unanswered, a hot lead, a follow-up, a seller');
SELECT results_eq($$SELECT kind, subject_id, episode, created_at FROM crm.notifications WHERE subject_id < 20 OR kind = 'SELLER_PERFORMANCE' ORDER BY kind, subject_id$$,
    $$VALUES ('FOLLOW_UP_DUE', 12::bigint, '2026-06-10T11:30:00.000000Z', '2026-06-10 11:30+00'::timestamptz),
             ('HOT_LEAD', 11, '2026-06-10T09:00:00.000000Z', '2026-06-10 11:05+00'),
             ('SELLER_PERFORMANCE', 2, '2026-06-10', '2026-06-10 10:00+00'),
             ('UNANSWERED_CONVERSATION', 1, '2026-06-10T10:00:00.000000Z', '2026-06-10 11:05+00')$$,
    'each at the first check where it holds (older than 1 h / 2 h: 11:05; due: 11:30), with its episode');
SELECT is((SELECT count(*) FROM checks WHERE as_of >= '2026-06-10 11:30+00'
              AND (unanswered_conversations, hot_leads, follow_up_reminders, performance_alerts) <> (7, 1, 1, 1)), 0::bigint,
          'every later check still finds the conditions...');
SELECT is((SELECT sum(notifications_created) FROM checks WHERE as_of > '2026-06-10 11:30+00'), 0::bigint, '... and notifies none again');
SELECT is((SELECT notifications_created FROM ct4.crm_check_notifications('2026-06-10 10:30+00')), 0,
          'a check for an earlier time repeats nothing');
-- New episodes: a new customer message, a new contact, a moved follow-up, a new day.
INSERT INTO crm.messages VALUES (150, 1, true, '2026-06-10 13:02+00', 'still there?');
UPDATE crm.leads SET last_contact_time = '2026-06-10 12:30+00' WHERE lead_id = 11;
UPDATE crm.leads SET next_follow_up = '2026-06-10 14:00+00' WHERE lead_id = 12;
CREATE TEMP TABLE later AS SELECT * FROM ct4.crm_check_notifications('2026-06-10 14:35+00');
SELECT results_eq($$SELECT kind, subject_id, episode FROM crm.notifications n JOIN later c ON n.run_id = c.run_id ORDER BY 1, 2$$,
    $$VALUES ('FOLLOW_UP_DUE', 12::bigint, '2026-06-10T14:00:00.000000Z'), ('HOT_LEAD', 11, '2026-06-10T12:30:00.000000Z'),
             ('UNANSWERED_CONVERSATION', 1, '2026-06-10T13:02:00.000000Z')$$,
    'a new customer message, a new contact, a moved follow-up: notified again, once');
SELECT is((SELECT notifications_created FROM ct4.crm_check_notifications('2026-06-10 23:59:59+00')), 0, 'the same day: nothing new');
SELECT is((SELECT (notifications_created, performance_alerts)::text FROM ct4.crm_check_notifications('2026-06-11 00:00+00')),
          '(1,1)', 'a new day: the struggling seller is notified again');
SELECT is((SELECT episode FROM crm.notifications WHERE kind = 'SELLER_PERFORMANCE' ORDER BY episode DESC LIMIT 1), '2026-06-11',
          '... with the day as its episode');
INSERT INTO crm.messages VALUES (151, 1, false, '2026-06-11 00:01+00', 'yes!');
SELECT is((SELECT unanswered_conversations || '/' || performance_alerts || '/' || notifications_created
             FROM ct4.crm_check_notifications('2026-06-11 02:00+00')), '6/2/1',
          'a seller reply ends the condition; it answered after 659 min: its seller is notified');
-- Episode texts are the same in every session's time zone and date style.
SET LOCAL timezone = 'Asia/Kolkata';
SET LOCAL datestyle = 'Postgres, MDY';
SELECT is((SELECT notifications_created FROM ct4.crm_check_notifications('2026-06-11 02:05+00')), 0,
          'a session in another time zone and date style writes the same episodes: nothing new');
SET LOCAL timezone = 'UTC';
SET LOCAL datestyle = 'ISO, MDY';
SELECT is((SELECT sum(created_total) FROM crm.notification_counts), (SELECT count(*) FROM crm.notifications)::numeric,
          'created_total counts every notification made');
-- Retention removes an open condition's notification: it is sent again (a reminder).
SELECT is((SELECT notifications_deleted || '/' || conversations_archived FROM ct4.crm_cleanup('2026-06-17 14:36+00')), '13/6',
          'cleanup deletes the notifications older than 7 days (and archives the silent conversations)');
SELECT is((SELECT hot_leads || '/' || follow_up_reminders || '/' || notifications_created
             FROM ct4.crm_check_notifications('2026-06-17 14:40+00')), '1/1/2',
          'the hot lead and the follow-up still wait: notified again after retention');
SELECT is((SELECT sum(created_total) FROM crm.notification_counts), 17::numeric,
          'created_total never decreases when notifications are deleted');

-- 3. Metric definitions on hand-computed threads, a day of America/Lima
-- (UTC-5). as_of 2026-06-10 20:00 Lima; period 2026-06-10.
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications, crm.seller_metrics CASCADE;
UPDATE ct4.settings SET value = 'America/Lima' WHERE name = 'crm_timezone';
SET LOCAL timezone = 'America/Lima';
INSERT INTO crm.sellers (seller_id, full_name, active) VALUES
    (10, 'S10', true), (11, 'S11', true), (12, 'S12', true), (13, 'S13', true), (14, 'S14', false);
-- A: a run that began the day before (23:50) answered at 00:20 = 30 min
-- from its first message; C 01:00, C 01:05, S 01:30 = 30 min; S 01:40
-- answers nothing. B: 5 min and 2 min. C: a customer message unanswered.
-- D: a seller message only.
SELECT pg_temp.thread(101, 10, 'active', '2026-06-09', 'C 23:50:00');
INSERT INTO crm.messages (message_id, conversation_id, from_customer, sent_at) VALUES
    (10102, 101, true,  '2026-06-10 00:10'), (10103, 101, false, '2026-06-10 00:20'),
    (10104, 101, true,  '2026-06-10 01:00'), (10105, 101, true,  '2026-06-10 01:05'),
    (10106, 101, false, '2026-06-10 01:30'), (10107, 101, false, '2026-06-10 01:40'),
    (10108, 101, true,  '2026-06-10 21:00');  -- after as_of: unseen
SELECT pg_temp.thread(102, 10, 'active', '2026-06-10', 'C 10:00:00', 'S 10:05:00', 'C 10:10:00', 'S 10:12:00');
SELECT pg_temp.thread(103, 10, 'active', '2026-06-10', 'C 11:00:00');
SELECT pg_temp.thread(104, 10, 'closed', '2026-06-10', 'S 12:00:00');
SELECT pg_temp.thread(105, 10, 'archived', '2026-06-01', 'C 09:00:00', 'S 09:10:00');
-- S11, S12: the same small day (ties); S13 nothing.
SELECT pg_temp.thread(111, 11, 'active', '2026-06-10', 'C 09:00:00');
SELECT pg_temp.thread(121, 12, 'active', '2026-06-10', 'C 09:30:00');
INSERT INTO crm.leads (lead_id, seller_id, status, created_at, converted_at) VALUES
    (1, 10, 'converted', '2026-06-10 08:00', '2026-06-10 15:00'),
    (2, 10, 'new',       '2026-06-10 09:00', NULL),
    (3, 10, 'converted', '2026-05-01', '2026-06-10 16:00'),        -- an older lead converted today
    (4, 10, 'new',       '2026-06-09 23:30', NULL),                -- the day before in Lima
    (5, 10, 'new',       '2026-06-10 20:30', NULL),                -- after as_of
    (6, 10, 'converted', '2026-06-10 10:00', '2026-06-10 22:00');  -- converted after as_of
SELECT is((SELECT sellers || '/' || metrics_upserted FROM ct4.crm_refresh_seller_metrics('2026-06-10 20:00')), '4/4',
          'one row per active seller');
SELECT results_eq($$SELECT period, conversations_total, conversations_active, conversations_today, unanswered,
                           avg_response_time_minutes, total_chat_time_minutes, round(engagement_rate::numeric, 6),
                           leads_generated, leads_converted, round(conversion_rate::numeric, 6)
                      FROM crm.seller_metrics WHERE seller_id = 10$$,
    $$VALUES ('2026-06-10'::date, 5, 3, 4, 1, 16.75::float8, 102::float8, 0.666667, 3, 2, 0.666667)$$,
    'S10: 5 conversations, 3 active, 4 today, 1 unanswered, replies (30+30+5+2)/4, chat 90+12+0+0, 2 of 3 engaged, leads 3 made, 2 converted');
SELECT is((SELECT round(productivity_score::numeric, 6) FROM crm.seller_metrics WHERE seller_id = 10),
          round((10 * (3 * (1 / (1 + 16.75 / 30)) + 2 * (2.0 / 3) + 3 * (2.0 / 3) + 2 * 0.4) / 10)::numeric, 6),
          'productivity_score: the weighted mean of response, engagement, conversion, activity, times 10');
SELECT results_eq($$SELECT seller_id, activity_level, rank_position FROM crm.seller_metrics ORDER BY seller_id$$,
    $$VALUES (10::bigint, 'medium', 1), (11, 'low', 2), (12, 'low', 2), (13, 'low', 4)$$,
    'activity levels; ranks share ties (1, 2, 2, 4); the inactive seller has no row');
SELECT results_eq($$SELECT seller_id, avg_response_time_minutes, engagement_rate, conversion_rate FROM crm.seller_metrics
                     WHERE seller_id IN (11, 13) ORDER BY 1$$,
    $$VALUES (11::bigint, NULL::float8, 0::float8, 0::float8), (13, NULL, 0, 0)$$,
    'no reply: NULL response time; no customer message or lead: rates 0');
SELECT is((SELECT computed_at FROM crm.seller_metrics WHERE seller_id = 10), '2026-06-10 20:00'::timestamptz,
          'computed_at is as_of, not the clock');
-- The next day makes a second row; a later run of the same day replaces its row.
SELECT ct4.crm_refresh_seller_metrics('2026-06-11 09:00');
SELECT ct4.crm_refresh_seller_metrics('2026-06-10 23:59');
SELECT results_eq($$SELECT period, computed_at FROM crm.seller_metrics WHERE seller_id = 10 ORDER BY period$$,
    $$VALUES ('2026-06-10'::date, '2026-06-10 23:59'::timestamptz), ('2026-06-11', '2026-06-11 09:00')$$,
    'history: one row per seller and day, replaced on rerun');
SELECT is((SELECT leads_converted FROM crm.seller_metrics WHERE seller_id = 10 AND period = '2026-06-10'), 3,
          'as of 23:59 the 22:00 conversion counts');
-- SELLER_PERFORMANCE uses the day's average response time (Lima's day).
UPDATE ct4.settings SET value = '16.7' WHERE name = 'crm_seller_response_minutes_max';
SELECT is((SELECT performance_alerts FROM ct4.crm_check_notifications('2026-06-10 20:00')), 1,
          'an average of 16.75 min is above 16.7');
SELECT is((SELECT episode FROM crm.notifications WHERE kind = 'SELLER_PERFORMANCE'), '2026-06-10', 'the episode is Lima''s day');
UPDATE ct4.settings SET value = '16.75' WHERE name = 'crm_seller_response_minutes_max';
SELECT is((SELECT performance_alerts FROM ct4.crm_check_notifications('2026-06-10 20:00')), 0, '... and 16.75 is not above 16.75');
UPDATE ct4.settings SET value = '30' WHERE name = 'crm_seller_response_minutes_max';

-- 4. Cleanup boundaries, in UTC.
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications, crm.seller_metrics CASCADE;
UPDATE ct4.settings SET value = 'UTC' WHERE name = 'crm_timezone';
SET LOCAL timezone = 'UTC';
INSERT INTO crm.sellers (seller_id, full_name) VALUES (1, 'S1');
INSERT INTO crm.notifications (kind, subject_id, episode, message, details, created_at, run_id) VALUES
    ('HOT_LEAD', 1, 'a', 'm', '{}', '2026-06-03 12:00:00+00', 0),         -- exactly 7 days: kept
    ('HOT_LEAD', 2, 'a', 'm', '{}', '2026-06-03 11:59:59.999999+00', 0);  -- older: deleted
INSERT INTO crm.seller_metrics (seller_id, period, computed_at, run_id) VALUES
    (1, '2026-05-11', now(), 0),   -- the day minus 30: kept
    (1, '2026-05-10', now(), 0);   -- minus 31: deleted
SELECT pg_temp.thread(1, 1, 'active', '2026-06-03', 'C 12:00:00');                  -- last message exactly 7 days ago: kept
SELECT pg_temp.thread(2, 1, 'active', '2026-06-03', 'S 11:00:00', 'C 11:59:59');    -- older: archived
SELECT pg_temp.thread(3, 1, 'closed', '2026-05-01', 'C 11:00:00');                  -- closed: untouched
SELECT pg_temp.thread(4, 1, 'active', '2026-06-13', VARIADIC '{}');                                -- no message, created 2026-06-04: kept
INSERT INTO crm.conversations (conversation_id, assigned_seller_id, created_at) VALUES (5, 1, '2026-06-02');  -- no message, created 8 days ago: archived
SELECT pg_temp.thread(6, 1, 'active', '2026-06-01', 'C 10:00:00');
INSERT INTO crm.messages VALUES (700, 6, true, '2026-06-11 10:00+00', 'later');    -- a message after as_of: unseen
SELECT results_eq($$SELECT notifications_deleted, metrics_deleted, conversations_archived FROM ct4.crm_cleanup('2026-06-10 12:00+00')$$,
    $$VALUES (1, 1, 3)$$, 'one notification, one metrics row, three conversations past their limits');
SELECT results_eq($$SELECT subject_id FROM crm.notifications$$, $$VALUES (1::bigint)$$, 'the notification of exactly 7 days stays');
SELECT results_eq($$SELECT period FROM crm.seller_metrics$$, $$VALUES ('2026-05-11'::date)$$, 'the period of exactly 30 days ago stays');
SELECT results_eq($$SELECT conversation_id, status FROM crm.conversations ORDER BY 1$$,
    $$VALUES (1::bigint, 'active'), (2, 'archived'), (3, 'closed'), (4, 'active'), (5, 'archived'), (6, 'archived')$$,
    'archived: silent for more than 7 days as of as_of; kept: exactly 7 days, closed, young');
-- A backlog larger than the batch is worked off over several runs.
INSERT INTO crm.notifications (kind, subject_id, episode, message, details, created_at, run_id)
SELECT 'FOLLOW_UP_DUE', i, 'x', 'm', '{}', '2026-05-01'::timestamptz + i * interval '1 minute', 0 FROM generate_series(1, 5) i;
UPDATE ct4.settings SET value = '2' WHERE name = 'crm_cleanup_batch';
SELECT is((SELECT notifications_deleted FROM ct4.crm_cleanup('2026-06-10 12:00+00')), 2, 'crm_cleanup_batch rows per run');
SELECT results_eq($$SELECT subject_id FROM crm.notifications WHERE kind = 'FOLLOW_UP_DUE' ORDER BY 1$$,
    $$VALUES (3::bigint), (4), (5)$$, 'oldest first');
SELECT results_eq($$SELECT (ct4.crm_cleanup('2026-06-10 12:00+00')).notifications_deleted FROM generate_series(1, 3)$$,
    $$VALUES (2), (1), (0)$$, 'the next runs work off the backlog');

-- 5. The report: its day's row replaced on rerun; default day: yesterday in crm_timezone.
SELECT is((SELECT report_date FROM ct4.crm_daily_report()), ct4._crm_day(now()) - 1, 'the default day is yesterday');
SELECT ct4.crm_daily_report('2026-06-10');
SELECT ct4.crm_daily_report('2026-06-10');
SELECT is((SELECT count(*) FROM crm.daily_reports WHERE report_date = '2026-06-10'), 1::bigint, 'a rerun replaces the day''s row');
SELECT ok((SELECT created_at >= now() FROM crm.daily_reports WHERE report_date = '2026-06-10'), 'created_at is the clock time of the run');
SELECT is((SELECT run_id FROM crm.daily_reports WHERE report_date = '2026-06-10'),
          (SELECT max(run_id) FROM ct4.job_runs WHERE job_name = 'crm_daily_report'), '... of the latest run');
SELECT ok((SELECT report ?& ARRAY['date', 'team_performance', 'top_performers', 'alerts_summary', 'recommendations']
             FROM crm.daily_reports WHERE report_date = '2026-06-10'), 'the report has the seed''s keys');

-- 6. Registered in every profile with seed 004's intervals; America/Lima.
SELECT results_eq($$SELECT p.profile, string_agg(replace(s.jobname, 'ct4:crm_', '') || ' ' || s.utc_schedule, ', ' ORDER BY s.jobname)
                      FROM ct4.schedule_profiles p CROSS JOIN LATERAL ct4.schedule_plan(p.profile, 'America/Lima', '2026-01-15') s
                     WHERE s.jobname LIKE 'ct4:crm%' GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('development', 'cleanup 0 * * * *, daily_report 0 13 * * *, notification_checks */2 * * * *, seller_metrics */5 * * * *'),
             ('high_load', 'cleanup 0 1,3,5,7,9,11,13,15,17,19,21,23 * * *, daily_report 0 13 * * *, notification_checks */10 * * * *, seller_metrics */30 * * * *'),
             ('production', 'cleanup 0 * * * *, daily_report 0 13 * * *, notification_checks */5 * * * *, seller_metrics */15 * * * *'),
             ('staging', 'cleanup 0 * * * *, daily_report 0 13 * * *, notification_checks */5 * * * *, seller_metrics */15 * * * *')$$,
    'every profile in America/Lima: 2/5/60, 5/15/60, 10/30/120 min; the report at 08:00 Lima = 13:00 UTC');
INSERT INTO ct4.schedule_state (profile, timezone, utc_offset, scheduled_at) VALUES ('high_load', 'America/Lima', -18000, now());
SELECT is((SELECT array_agg(l.max_retries ORDER BY j.job_name) FROM ct4.jobs j CROSS JOIN LATERAL ct4._job_limits(j.job_name) l
            WHERE j.job_name LIKE 'crm\_%'), ARRAY[5, 5, 5, 5], 'high_load: max_retries 5');
DELETE FROM ct4.schedule_state;
SELECT is((SELECT array_agg(l.max_retries ORDER BY j.job_name) FROM ct4.jobs j CROSS JOIN LATERAL ct4._job_limits(j.job_name) l
            WHERE j.job_name LIKE 'crm\_%'), ARRAY[3, 3, 3, 3], 'other profiles: the jobs'' 3');

-- 7. Demo data: deterministic, realistic.
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications, crm.seller_metrics,
         crm.daily_reports CASCADE;
SELECT throws_ok($$SELECT * FROM ct4.generate_crm_demo_data(NULL, 1)$$, '22023', NULL, 'demo: NULL sellers');
SELECT throws_ok($$SELECT * FROM ct4.generate_crm_demo_data(-1, 1)$$, '22023', NULL, 'demo: negative sellers');
SELECT throws_ok($$SELECT * FROM ct4.generate_crm_demo_data(1, NULL)$$, '22023', NULL, 'demo: NULL seed');
CREATE FUNCTION pg_temp.crm_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5((SELECT string_agg(t::text, ',' ORDER BY seller_id) FROM crm.sellers t)
            || (SELECT string_agg(t::text, ',' ORDER BY lead_id) FROM crm.leads t)
            || (SELECT string_agg(t::text, ',' ORDER BY conversation_id) FROM crm.conversations t)
            || (SELECT string_agg(t::text, ',' ORDER BY message_id) FROM crm.messages t))
$$;
SELECT is((SELECT (seller_rows, lead_rows, conversation_rows)::text FROM ct4.generate_crm_demo_data(4, 7)), '(4,1200,800)',
          'per seller 300 leads and 200 conversations');
CREATE TEMP TABLE first_digest AS SELECT pg_temp.crm_digest() AS d;
SELECT throws_ok($$SELECT * FROM ct4.generate_crm_demo_data(4, 7)$$, '55000', NULL, 'demo data goes into an empty crm only');
SELECT results_eq($$SELECT status FROM crm.leads GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('contacted'), ('converted'), ('interested'), ('lost'), ('negotiation'), ('new')$$, 'leads in every status');
SELECT ok((SELECT count(*) FILTER (WHERE last_message_from_customer) BETWEEN 1 AND count(*) / 2 FROM crm.conversations
            WHERE status = 'active'), 'active threads answered and unanswered');
SELECT ok(EXISTS (SELECT FROM crm.messages a JOIN crm.messages b ON b.conversation_id = a.conversation_id
                   AND b.message_id = a.message_id + 1 AND a.from_customer AND b.from_customer),
          'bursts of customer messages');
SELECT ok((SELECT max(avg_response_time_minutes) > 2 * min(avg_response_time_minutes)
             FROM ct4._crm_seller_day(ct4._crm_day(now()), now())), 'sellers of different speed');
SELECT is((SELECT count(*) FROM crm.messages WHERE sent_at > now()), 0::bigint, 'nothing after now');
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages CASCADE;
SELECT ct4.generate_crm_demo_data(4, 7);
SELECT is(pg_temp.crm_digest(), (SELECT d FROM first_digest), 'the same arguments give the same rows');
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages CASCADE;
SELECT ct4.generate_crm_demo_data(4, 8);
SELECT isnt(pg_temp.crm_digest(), (SELECT d FROM first_digest), 'another seed, other rows');

SELECT * FROM finish();
ROLLBACK;
