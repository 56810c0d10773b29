-- The SQL of the four CRM jobs (src/crm/crm_jobs.cpp, SPEC 8.2), one
-- statement each: it does the job's whole work and returns one row whose
-- columns are named like the job's result columns (the counters). The
-- definitions they share (a day, unanswered, hot, a reply) are functions of
-- schema/405_crm_jobs.sql. Parameters: $1 as_of timestamptz (the report:
-- for_date date), $2 the run's run_id.

-- name: check_notifications
-- The conditions found now, each with its subject and episode; a new
-- (kind, subject_id, episode) is a new notification (ON CONFLICT DO NOTHING:
-- once per episode), counted in crm.notification_counts and sent on
-- crm_notifications. Messages and details carry ids, codes and figures, no
-- names or message bodies (any role that can connect can LISTEN, SPEC 6).
WITH un AS MATERIALIZED (SELECT * FROM ct4._crm_unanswered($1)),
day AS (SELECT ct4._crm_day($1) AS d),
perf AS (
    SELECT s.seller_id, day.d, coalesce(u.n, 0) AS unanswered, r.avg_min,
           (SELECT ct4._crm_setting('crm_seller_unanswered_max')::integer) AS unanswered_max,
           (SELECT ct4._crm_setting('crm_seller_response_minutes_max')::float8) AS response_max
      FROM day
     CROSS JOIN crm.sellers s
      LEFT JOIN (SELECT un.seller_id, pg_catalog.count(*) AS n FROM un GROUP BY 1) u ON u.seller_id = s.seller_id
      LEFT JOIN (SELECT x.seller_id, pg_catalog.avg(x.response_minutes) AS avg_min
                   FROM day, ct4._crm_replies(ct4._crm_day_start(day.d), ct4._crm_day_start(day.d + 1), $1) x
                  GROUP BY 1) r ON r.seller_id = s.seller_id
     WHERE s.active),
-- The conditions as bare facts (cheap); a message and details are built
-- only for the episodes not notified yet.
cand AS (
    SELECT 'UNANSWERED_CONVERSATION'::text AS kind, un.seller_id, un.conversation_id AS subject_id,
           ct4._crm_episode(un.last_message_at) AS episode, un.last_message_at AS at_time,
           un.lead_id::numeric AS num1, NULL::numeric AS num2, NULL::numeric AS num3, NULL::numeric AS num4, NULL::text AS txt
      FROM un
    UNION ALL
    SELECT 'HOT_LEAD', h.seller_id, h.lead_id, coalesce(ct4._crm_episode(h.last_contact_time), 'never'),
           h.last_contact_time, h.conversion_probability::numeric, NULL, NULL, NULL, NULL
      FROM ct4._crm_hot_leads($1) h
    UNION ALL
    SELECT 'FOLLOW_UP_DUE', l.seller_id, l.lead_id, ct4._crm_episode(l.next_follow_up), l.next_follow_up,
           NULL, NULL, NULL, NULL, l.status
      FROM crm.leads l
     WHERE l.status IN ('interested', 'negotiation') AND l.next_follow_up <= $1 AND l.created_at <= $1
    UNION ALL
    SELECT 'SELLER_PERFORMANCE', p.seller_id, p.seller_id, pg_catalog.to_char(p.d, 'YYYY-MM-DD'), NULL,
           p.unanswered, p.unanswered_max, p.avg_min::numeric, p.response_max::numeric, NULL
      FROM perf p
     WHERE p.unanswered > p.unanswered_max OR p.avg_min > p.response_max),
ins AS (
    INSERT INTO crm.notifications AS n (kind, seller_id, subject_id, episode, message, details, created_at, run_id)
    SELECT c.kind, c.seller_id, c.subject_id, c.episode,
           CASE c.kind
               WHEN 'UNANSWERED_CONVERSATION' THEN
                   pg_catalog.format('conversation %s has waited %s min for a reply from seller %s', c.subject_id,
                                     pg_catalog.floor(extract(epoch FROM $1 - c.at_time) / 60), c.seller_id)
               WHEN 'HOT_LEAD' THEN
                   pg_catalog.format('hot lead %s (probability %s) has not been contacted %s', c.subject_id,
                                     pg_catalog.round(c.num1, 2), coalesce('since ' || ct4._crm_episode(c.at_time), 'yet'))
               WHEN 'FOLLOW_UP_DUE' THEN
                   pg_catalog.format('follow-up of lead %s (%s) was due at %s', c.subject_id, c.txt, c.episode)
               ELSE
                   pg_catalog.format('seller %s on %s: %s unanswered conversations (max %s), average response time %s (max %s min)',
                                     c.subject_id, c.episode, c.num1, c.num2,
                                     coalesce(pg_catalog.round(c.num3, 1) || ' min', 'none'), c.num4) END,
           CASE c.kind
               WHEN 'UNANSWERED_CONVERSATION' THEN
                   pg_catalog.jsonb_build_object('conversation_id', c.subject_id, 'lead_id', c.num1,
                                                 'last_customer_message_at', c.at_time,
                                                 'waiting_minutes', pg_catalog.floor(extract(epoch FROM $1 - c.at_time) / 60))
               WHEN 'HOT_LEAD' THEN
                   pg_catalog.jsonb_build_object('lead_id', c.subject_id, 'conversion_probability', pg_catalog.round(c.num1, 4),
                                                 'last_contact_time', c.at_time)
               WHEN 'FOLLOW_UP_DUE' THEN
                   pg_catalog.jsonb_build_object('lead_id', c.subject_id, 'status', c.txt, 'next_follow_up', c.at_time)
               ELSE
                   pg_catalog.jsonb_build_object('day', c.episode, 'unanswered', c.num1, 'unanswered_max', c.num2,
                                                 'avg_response_time_minutes', pg_catalog.round(c.num3, 2),
                                                 'response_minutes_max', c.num4) END,
           $1, $2
      FROM cand c
     -- One index probe per condition (a subquery with LIMIT is no anti join:
     -- hashing every notification the retention keeps costs more).
     WHERE (SELECT true FROM crm.notifications x
             WHERE x.kind = c.kind AND x.subject_id = c.subject_id AND x.episode = c.episode LIMIT 1) IS NULL
    ON CONFLICT (kind, subject_id, episode) DO NOTHING
    RETURNING n.*),
counted AS (
    UPDATE crm.notification_counts k SET created_total = k.created_total + i.n
      FROM (SELECT ins.kind, pg_catalog.count(*) AS n FROM ins GROUP BY 1) i
     WHERE k.kind = i.kind
    RETURNING k.kind),
-- NOTIFY's payload must stay under 8000 bytes: a longer row goes without details.
sent AS (
    SELECT pg_catalog.count(pg_catalog.pg_notify('crm_notifications',
               CASE WHEN pg_catalog.octet_length(o.j) < 8000 THEN o.j
                    ELSE (pg_catalog.to_jsonb(o.r) - 'details')::text END)) AS n
      FROM (SELECT ins AS r, pg_catalog.to_jsonb(ins)::text AS j FROM ins ORDER BY ins.notification_id) o)
SELECT pg_catalog.count(*) FILTER (WHERE c.kind = 'UNANSWERED_CONVERSATION')::integer AS unanswered_conversations,
       pg_catalog.count(*) FILTER (WHERE c.kind = 'HOT_LEAD')::integer AS hot_leads,
       pg_catalog.count(*) FILTER (WHERE c.kind = 'FOLLOW_UP_DUE')::integer AS follow_up_reminders,
       pg_catalog.count(*) FILTER (WHERE c.kind = 'SELLER_PERFORMANCE')::integer AS performance_alerts,
       (SELECT pg_catalog.count(*) FROM ins)::integer AS notifications_created,
       (SELECT sent.n FROM sent)::integer AS notifications_sent,
       (SELECT pg_catalog.count(*) FROM counted)::integer AS kinds_counted
  FROM cand c;

-- name: refresh_seller_metrics
-- Every active seller's row of the day of as_of, replaced (history: one row
-- per seller and day), then one crm_metrics notification.
WITH day AS (SELECT ct4._crm_day($1) AS d),
up AS (
    INSERT INTO crm.seller_metrics AS m (
        seller_id, period, computed_at, run_id, conversations_total, conversations_active, conversations_today,
        unanswered, avg_response_time_minutes, total_chat_time_minutes, engagement_rate, leads_generated,
        leads_converted, conversion_rate, productivity_score, activity_level, rank_position)
    SELECT f.seller_id, day.d, $1, $2, f.conversations_total, f.conversations_active, f.conversations_today,
           f.unanswered, f.avg_response_time_minutes, f.total_chat_time_minutes, f.engagement_rate,
           f.leads_generated, f.leads_converted, f.conversion_rate, f.productivity_score, f.activity_level,
           f.rank_position
      FROM day, ct4._crm_seller_day(day.d, $1) f
    ON CONFLICT (seller_id, period) DO UPDATE
       SET computed_at = EXCLUDED.computed_at, run_id = EXCLUDED.run_id,
           conversations_total = EXCLUDED.conversations_total,
           conversations_active = EXCLUDED.conversations_active,
           conversations_today = EXCLUDED.conversations_today, unanswered = EXCLUDED.unanswered,
           avg_response_time_minutes = EXCLUDED.avg_response_time_minutes,
           total_chat_time_minutes = EXCLUDED.total_chat_time_minutes,
           engagement_rate = EXCLUDED.engagement_rate, leads_generated = EXCLUDED.leads_generated,
           leads_converted = EXCLUDED.leads_converted, conversion_rate = EXCLUDED.conversion_rate,
           productivity_score = EXCLUDED.productivity_score, activity_level = EXCLUDED.activity_level,
           rank_position = EXCLUDED.rank_position
    RETURNING 1),
n AS (SELECT pg_catalog.count(*)::integer AS n FROM up)
SELECT n.n AS sellers, n.n AS metrics_upserted,
       pg_catalog.pg_notify('crm_metrics', pg_catalog.jsonb_build_object(
           'period', day.d, 'sellers', n.n, 'run_id', $2)::text) IS NULL AS notified
  FROM n, day;

-- name: cleanup
-- At most crm_cleanup_batch rows of each kind, oldest first (a function
-- cannot commit midway; the next hourly run goes on). Retention days are
-- calendar days of crm_timezone. A conversation without messages counts
-- from its created_at.
WITH cfg AS (
    SELECT (SELECT ct4._crm_setting('crm_cleanup_batch')::integer) AS batch,
           ct4._crm_days_before($1, (SELECT ct4._crm_setting('crm_notification_retention_days')::integer)) AS notifications_before,
           ct4._crm_day($1) - (SELECT ct4._crm_setting('crm_metrics_retention_days')::integer) AS period_before,
           ct4._crm_days_before($1, (SELECT ct4._crm_setting('crm_conversation_archive_days')::integer)) AS inactive_before),
del_notifications AS (
    DELETE FROM crm.notifications n
     WHERE n.notification_id IN (SELECT x.notification_id FROM crm.notifications x, cfg
                                  WHERE x.created_at < cfg.notifications_before
                                  ORDER BY x.created_at, x.notification_id LIMIT (SELECT cfg.batch FROM cfg))
    RETURNING 1),
del_metrics AS (
    DELETE FROM crm.seller_metrics m
     WHERE (m.seller_id, m.period) IN (SELECT x.seller_id, x.period FROM crm.seller_metrics x, cfg
                                        WHERE x.period < cfg.period_before
                                        ORDER BY x.period, x.seller_id LIMIT (SELECT cfg.batch FROM cfg))
    RETURNING 1),
archived AS (
    UPDATE crm.conversations c SET status = 'archived'
     WHERE c.status = 'active'
       AND c.conversation_id IN (SELECT l.conversation_id FROM ct4._crm_last_messages($1) l, cfg
                                  WHERE coalesce(l.last_at, l.created_at) < cfg.inactive_before
                                  ORDER BY coalesce(l.last_at, l.created_at), l.conversation_id
                                  LIMIT (SELECT cfg.batch FROM cfg))
    RETURNING 1)
SELECT (SELECT pg_catalog.count(*) FROM del_notifications)::integer AS notifications_deleted,
       (SELECT pg_catalog.count(*) FROM del_metrics)::integer AS metrics_deleted,
       (SELECT pg_catalog.count(*) FROM archived)::integer AS conversations_archived;

-- name: daily_report
-- The report of day $1 (SPEC 8.2, 4), as of the day's end, replacing the
-- day's row, announced on crm_reports (date and run id only).
WITH b AS (SELECT ct4._crm_day_start($1) AS d0, ct4._crm_day_start($1 + 1) AS d1),
team AS (
    SELECT (SELECT pg_catalog.count(DISTINCT m.conversation_id) FROM crm.messages m
             WHERE m.sent_at >= b.d0 AND m.sent_at < b.d1) AS conversations,
           (SELECT pg_catalog.count(*) FROM crm.leads l WHERE l.created_at >= b.d0 AND l.created_at < b.d1) AS new_leads,
           (SELECT pg_catalog.count(*) FROM crm.leads l
             WHERE l.converted_at >= b.d0 AND l.converted_at < b.d1) AS converted_leads,
           (SELECT pg_catalog.avg(r.response_minutes) FROM ct4._crm_replies(b.d0, b.d1, b.d1) r) AS avg_response
      FROM b),
-- The day's scores: the metrics row of that day when there is one, else computed.
sellers AS (
    SELECT f.seller_id, s.full_name, f.leads_converted AS conversions, f.unanswered,
           coalesce(m.productivity_score, f.productivity_score) AS score
      FROM b, ct4._crm_seller_day($1, b.d1) f
      JOIN crm.sellers s ON s.seller_id = f.seller_id
      LEFT JOIN crm.seller_metrics m ON m.seller_id = f.seller_id AND m.period = $1),
top AS (
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'seller_id', t.seller_id, 'seller', t.full_name, 'conversions', t.conversions,
               'score', pg_catalog.round(t.score::numeric, 2)) ORDER BY t.conversions DESC, t.score DESC, t.seller_id) AS list
      FROM (SELECT * FROM sellers ORDER BY conversions DESC, score DESC, seller_id LIMIT 3) t),
-- Who needs help: the seller with the most unanswered conversations, the
-- hot leads waiting, both as of the day's end.
worst AS (
    SELECT s.seller_id, s.full_name, s.unanswered FROM sellers s WHERE s.unanswered > 0
     ORDER BY s.unanswered DESC, s.seller_id LIMIT 1),
hot AS (
    SELECT pg_catalog.count(*) AS n,
           (pg_catalog.array_agg(h.lead_id ORDER BY h.conversion_probability DESC, h.lead_id))[1:20] AS ids
      FROM b, ct4._crm_hot_leads(b.d1) h),
alerts AS (
    SELECT pg_catalog.count(*) FILTER (WHERE n.kind = 'UNANSWERED_CONVERSATION') AS unanswered_conversations,
           pg_catalog.count(*) FILTER (WHERE n.kind = 'HOT_LEAD') AS hot_leads,
           pg_catalog.count(*) FILTER (WHERE n.kind = 'FOLLOW_UP_DUE') AS follow_up_reminders,
           pg_catalog.count(*) FILTER (WHERE n.kind = 'SELLER_PERFORMANCE') AS performance_alerts
      FROM b, crm.notifications n WHERE n.created_at >= b.d0 AND n.created_at < b.d1),
rate AS (
    SELECT coalesce(team.converted_leads::float8 / NULLIF(team.new_leads, 0), 0) AS conversion_rate,
           (SELECT ct4._crm_setting('crm_report_conversion_rate_min')::float8) AS rate_min
      FROM team),
recs AS (
    SELECT coalesce(pg_catalog.jsonb_agg(r.text ORDER BY r.ord), '[]') AS list, pg_catalog.count(*) AS n
      FROM (SELECT 1 AS ord, pg_catalog.format('Review the %s unanswered conversations of %s (seller %s)',
                                               w.unanswered, w.full_name, w.seller_id) AS text
              FROM worst w
            UNION ALL
            SELECT 2, pg_catalog.format('Follow up urgently on %s hot leads', hot.n) FROM hot WHERE hot.n > 0
            UNION ALL
            SELECT 3, pg_catalog.format('Team conversion rate %s is below %s: training in closing techniques',
                                        pg_catalog.round(rate.conversion_rate::numeric, 4), rate.rate_min)
              FROM rate, team WHERE team.new_leads > 0 AND rate.conversion_rate < rate.rate_min) r),
report AS (
    SELECT pg_catalog.jsonb_build_object(
               'date', $1,
               'team_performance', pg_catalog.jsonb_build_object(
                   'total_conversations', team.conversations, 'new_leads', team.new_leads,
                   'converted_leads', team.converted_leads,
                   'conversion_rate', pg_catalog.round(rate.conversion_rate::numeric, 4),
                   'avg_response_time_minutes', pg_catalog.round(team.avg_response::numeric, 2)),
               'top_performers', coalesce(top.list, '[]'),
               'alerts_summary', pg_catalog.to_jsonb(alerts),
               'needs_help', pg_catalog.jsonb_build_object(
                   'seller_id', (SELECT w.seller_id FROM worst w), 'seller', (SELECT w.full_name FROM worst w),
                   'unanswered_conversations', (SELECT w.unanswered FROM worst w),
                   'hot_leads_waiting', hot.n, 'hot_lead_ids', coalesce(pg_catalog.to_jsonb(hot.ids), '[]')),
               'recommendations', recs.list) AS doc,
           recs.n AS recommendations
      FROM team, rate, top, alerts, hot, recs),
saved AS (
    INSERT INTO crm.daily_reports AS d (report_date, report, created_at, run_id)
    SELECT $1, report.doc, pg_catalog.clock_timestamp(), $2 FROM report
    ON CONFLICT (report_date) DO UPDATE
       SET report = EXCLUDED.report, created_at = EXCLUDED.created_at, run_id = EXCLUDED.run_id
    RETURNING d.report_date)
SELECT $1 AS report_date, team.conversations::integer AS conversations, team.new_leads::integer AS new_leads,
       team.converted_leads::integer AS converted_leads, report.recommendations::integer AS recommendations,
       report.doc AS report,
       pg_catalog.pg_notify('crm_reports', pg_catalog.jsonb_build_object(
           'report_date', (SELECT saved.report_date FROM saved), 'run_id', $2)::text) IS NULL AS notified
  FROM team, report;
