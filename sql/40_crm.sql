-- The CRM jobs (SPEC 8.2) on a small crafted CRM, seen at as_of
-- 2026-06-10 12:00 UTC (crm_timezone UTC): each condition just inside and
-- just outside its threshold, the day's metrics, the cleanup and the report.
SET client_min_messages = warning;
SET timezone = 'UTC';
TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications,
         crm.seller_metrics, crm.daily_reports, ct4.job_runs RESTART IDENTITY CASCADE;

INSERT INTO crm.sellers (seller_id, full_name, email, active, created_at) VALUES
    (1, 'Ana Ruiz', 'ana@example.com', true, '2026-01-01'),
    (2, 'Beto Lara', NULL, true, '2026-01-01'),
    (3, 'Carla Soto', NULL, false, '2026-01-01'),   -- inactive: no metrics, no SELLER_PERFORMANCE
    (4, 'Dora Vega', NULL, true, '2026-01-01'),     -- 6 unanswered: above 5
    (5, 'Eli Paz', NULL, true, '2026-01-01'),       -- 5 unanswered: not above 5
    (6, 'Fito Rey', NULL, true, '2026-01-01');      -- average response 30.5 min: above 30

\i test/fixtures/crm_thread.sql

-- UNANSWERED_CONVERSATION: last message from the customer, older than 1 hour.
SELECT pg_temp.thread(101, 1, 'active', '2026-06-10', 'C 10:50:00', 'S 10:51:00', 'C 10:59:59'); -- inside (1 h 0 min 1 s)
SELECT pg_temp.thread(102, 1, 'active', '2026-06-10', 'C 11:00:00');                             -- outside (exactly 1 h)
SELECT pg_temp.thread(103, 1, 'active', '2026-06-10', 'C 08:50:00', 'S 09:00:00');               -- answered (10 min)
SELECT pg_temp.thread(104, NULL, 'active', '2026-06-10', 'C 09:00:00');                          -- no seller
SELECT pg_temp.thread(105, 2, 'closed', '2026-06-10', 'C 09:00:00');                             -- not active
SELECT pg_temp.thread(106, 2, 'active', '2026-06-10', 'C 09:00:00', 'C 12:30:00', 'S 13:00:00'); -- inside: later rows unseen
SELECT pg_temp.thread(107, 2, 'active', '2026-06-10', 'C 07:00:00', 'S 07:30:00');               -- answered after 30 min
-- ties of sent_at: the higher message_id is the last message (the seller's)
INSERT INTO crm.conversations (conversation_id, assigned_seller_id, created_at) VALUES (108, 2, '2026-06-01');
INSERT INTO crm.messages VALUES (10801, 108, true, '2026-06-10 08:00+00', 'q'), (10802, 108, false, '2026-06-10 08:00+00', 'a');
-- Dora: 6 unanswered, Eli: 5.
SELECT pg_temp.thread(400 + i, 4, 'active', '2026-06-10', 'C 09:00:00') FROM generate_series(1, 6) i;
SELECT pg_temp.thread(500 + i, 5, 'active', '2026-06-10', 'C 09:00:00') FROM generate_series(1, 5) i;
-- Fito: replies after 30 and 31 minutes (mean 30.5), the second answers a
-- run of two customer messages from its first; a seller message after a
-- seller message answers nothing.
SELECT pg_temp.thread(601, 6, 'active', '2026-06-10', 'C 08:00:00', 'S 08:30:00', 'S 08:40:00');
SELECT pg_temp.thread(602, 6, 'active', '2026-06-10', 'C 09:00:00', 'C 09:20:00', 'S 09:31:00');

-- HOT_LEAD: probability above 0.8, new or contacted, last contact older than 2 hours or never.
-- FOLLOW_UP_DUE: next_follow_up <= as_of, interested or negotiation.
INSERT INTO crm.leads (lead_id, seller_id, full_name, status, conversion_probability, last_contact_time,
                       next_follow_up, created_at, converted_at) VALUES
    (201, 1, 'L201', 'new',         0.81, '2026-06-10 09:59:59+00', NULL, '2026-06-01', NULL), -- hot
    (202, 1, 'L202', 'new',         0.80, NULL,                     NULL, '2026-06-01', NULL), -- 0.8 is not above 0.8
    (203, 1, 'L203', 'contacted',   0.90, '2026-06-10 10:00:00+00', NULL, '2026-06-01', NULL), -- exactly 2 h
    (204, 1, 'L204', 'interested',  0.90, NULL,                     NULL, '2026-06-01', NULL), -- not new/contacted
    (205, 2, 'L205', 'new',         0.95, NULL,                     NULL, '2026-06-10 08:00+00', NULL), -- hot, never contacted
    (206, 2, 'L206', 'new',         0.95, NULL,                     NULL, '2026-06-10 12:00:01+00', NULL), -- created after as_of
    (301, 2, 'L301', 'interested',  0.50, NULL, '2026-06-10 12:00:00+00', '2026-06-01', NULL), -- due (<= as_of)
    (302, 2, 'L302', 'negotiation', 0.50, NULL, '2026-06-10 12:00:01+00', '2026-06-01', NULL), -- not yet due
    (303, 2, 'L303', 'contacted',   0.50, NULL, '2026-06-10 09:00:00+00', '2026-06-01', NULL), -- not interested/negotiation
    (401, 1, 'L401', 'converted',   1.00, NULL, NULL, '2026-06-10 07:00+00', '2026-06-10 11:00+00'),
    (402, 1, 'L402', 'lost',        0.10, NULL, NULL, '2026-06-10 07:30+00', NULL),
    (403, 6, 'L403', 'converted',   1.00, NULL, NULL, '2026-05-20', '2026-06-10 10:00+00'); -- converts an older lead

-- 1. Notification checks.
SELECT unanswered_conversations, hot_leads, follow_up_reminders, performance_alerts, notifications_created, status
  FROM ct4.crm_check_notifications('2026-06-10 12:00+00');
SELECT kind, subject_id, seller_id, episode, message, details, created_at = '2026-06-10 12:00+00' AS at_as_of
  FROM crm.notifications ORDER BY kind, subject_id;
-- The same check again: every condition still holds, nothing is new.
SELECT unanswered_conversations, hot_leads, follow_up_reminders, performance_alerts, notifications_created
  FROM ct4.crm_check_notifications('2026-06-10 12:00+00');
-- Five minutes later the cases that were just outside are inside: only they are new.
SELECT unanswered_conversations, hot_leads, follow_up_reminders, performance_alerts, notifications_created
  FROM ct4.crm_check_notifications('2026-06-10 12:05+00');
SELECT kind, subject_id, episode FROM crm.notifications WHERE created_at = '2026-06-10 12:05+00' ORDER BY 1, 2;
-- A new customer message in 101, L201 contacted again, L301's follow-up moved: new episodes.
INSERT INTO crm.messages VALUES (10199, 101, true, '2026-06-10 11:00:30+00', 'hello?');
UPDATE crm.leads SET last_contact_time = '2026-06-10 10:05+00' WHERE lead_id = 201;
UPDATE crm.leads SET next_follow_up = '2026-06-10 12:08+00' WHERE lead_id = 301;
SELECT unanswered_conversations, hot_leads, follow_up_reminders, performance_alerts, notifications_created
  FROM ct4.crm_check_notifications('2026-06-10 12:10+00');
SELECT kind, subject_id, episode FROM crm.notifications WHERE created_at = '2026-06-10 12:10+00' ORDER BY 1, 2;
SELECT kind, created_total FROM crm.notification_counts ORDER BY kind;

-- 2. Seller metrics of the day as of 12:00.
SELECT sellers, metrics_upserted, status FROM ct4.crm_refresh_seller_metrics('2026-06-10 12:00+00');
SELECT seller_id, period, conversations_total AS total, conversations_active AS active,
       conversations_today AS today, unanswered, round(avg_response_time_minutes::numeric, 2) AS avg_resp,
       round(total_chat_time_minutes::numeric, 2) AS chat, round(engagement_rate::numeric, 3) AS engagement,
       leads_generated AS gen, leads_converted AS conv, round(conversion_rate::numeric, 2) AS rate,
       round(productivity_score::numeric, 3) AS score, activity_level, rank_position AS rank,
       computed_at = '2026-06-10 12:00+00' AS at_as_of
  FROM crm.seller_metrics ORDER BY seller_id;

-- 3. The report of 2026-06-10 (as of the day's end).
SELECT report_date, conversations, new_leads, converted_leads, recommendations, status
  FROM ct4.crm_daily_report('2026-06-10');
SELECT jsonb_pretty(report) FROM crm.daily_reports WHERE report_date = '2026-06-10';
-- A rerun replaces the day's row.
SELECT recommendations FROM ct4.crm_daily_report('2026-06-10');
SELECT count(*) AS reports, max(run_id) = (SELECT max(run_id) FROM ct4.job_runs) AS latest_run FROM crm.daily_reports;

-- 4. Cleanup at as_of + 8 days: notifications older than 7 days go,
-- metrics are kept (30 days), conversations silent for 7 days are archived.
SELECT notifications_deleted, metrics_deleted, conversations_archived, status
  FROM ct4.crm_cleanup('2026-06-17 12:05+00');
SELECT count(*) AS notifications_left FROM crm.notifications;
SELECT status, count(*) FROM crm.conversations GROUP BY 1 ORDER BY 1;

-- The runs as recorded.
SELECT job_name, status, stats - 'duration_ms' AS stats, args FROM ct4.job_runs ORDER BY run_id;
