-- The four CRM jobs of seed 004 (SPEC 8.2): C++ entry points (src/crm/)
-- whose statements (src/crm/*.sql) read the definitions below, which all
-- four share: a day in crm_timezone, a conversation's last message, an
-- unanswered conversation, a hot lead, a seller reply and its response
-- time, and a seller's figures of a day. Each takes the time it sees the
-- world at (as_of): messages, leads and conversions dated after it are
-- ignored. docs/crm.md explains every definition.

-- A CRM setting's value (validated when written, schema/400_crm.sql). Not
-- inlinable (SET clause): statements call it in an uncorrelated subquery,
-- evaluated once per statement.
CREATE FUNCTION ct4._crm_setting(p_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.value FROM ct4.settings s WHERE s.name = p_name
$$;

-- The day of `at` in crm_timezone, and where a day starts.
CREATE FUNCTION ct4._crm_day(at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (at AT TIME ZONE ct4._crm_setting('crm_timezone'))::date
$$;
CREATE FUNCTION ct4._crm_day_start(day date) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT day::timestamp AT TIME ZONE ct4._crm_setting('crm_timezone')
$$;
-- The report's default day: yesterday in crm_timezone.
CREATE FUNCTION ct4._crm_yesterday() RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._crm_day(now()) - 1
$$;
-- `at` minus `days` calendar days of crm_timezone (a DST day has 23 or 25 hours).
CREATE FUNCTION ct4._crm_days_before(at timestamptz, days integer) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ((at AT TIME ZONE ct4._crm_setting('crm_timezone')) - pg_catalog.make_interval(days => days))
           AT TIME ZONE ct4._crm_setting('crm_timezone')
$$;
-- An episode's timestamp text, the same in every session (SPEC 8.2):
-- UTC ISO 8601 with microseconds. Inlined into its callers (no SET clause,
-- every name qualified; they pin search_path): the check formats one per
-- condition, tens of thousands a run, and a call of a function with a SET
-- clause costs more than the formatting.
CREATE FUNCTION ct4._crm_episode(at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.to_char(pg_catalog.timezone('UTC', at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Every active conversation with its last message as of `as_of` (ties of
-- sent_at broken by message_id; NULLs: no message yet).
CREATE FUNCTION ct4._crm_last_messages(as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, lead_id bigint, created_at timestamptz,
              last_at timestamptz, last_from_customer boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.conversation_id, c.assigned_seller_id, c.lead_id, c.created_at, m.sent_at, m.from_customer
      FROM crm.conversations c
      LEFT JOIN LATERAL (SELECT x.sent_at, x.from_customer FROM crm.messages x
                          WHERE x.conversation_id = c.conversation_id AND x.sent_at <= as_of
                          ORDER BY x.sent_at DESC, x.message_id DESC LIMIT 1) m ON true
     WHERE c.status = 'active'
$$;

-- Unanswered (SPEC 8.2, 1): an active conversation with an assigned seller
-- whose last message is from the customer and older than crm_unanswered_hours.
CREATE FUNCTION ct4._crm_unanswered(as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, lead_id bigint, last_message_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.conversation_id, l.seller_id, l.lead_id, l.last_at
      FROM ct4._crm_last_messages(as_of) l
     WHERE l.seller_id IS NOT NULL AND l.last_from_customer
       AND l.last_at < as_of - (SELECT pg_catalog.make_interval(
               secs => ct4._crm_setting('crm_unanswered_hours')::float8 * 3600))
$$;

-- Hot (SPEC 8.2, 1): conversion_probability above crm_hot_lead_probability,
-- new or contacted, last contact older than crm_hot_lead_contact_hours or never.
CREATE FUNCTION ct4._crm_hot_leads(as_of timestamptz)
RETURNS TABLE(lead_id bigint, seller_id bigint, conversion_probability real, last_contact_time timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.lead_id, l.seller_id, l.conversion_probability, l.last_contact_time
      FROM crm.leads l
     WHERE l.status IN ('new', 'contacted')
       AND l.conversion_probability > (SELECT ct4._crm_setting('crm_hot_lead_probability')::real)
       AND l.created_at <= as_of
       AND (l.last_contact_time IS NULL
            OR l.last_contact_time < as_of - (SELECT pg_catalog.make_interval(
                   secs => ct4._crm_setting('crm_hot_lead_contact_hours')::float8 * 3600)))
$$;

-- The seller replies sent in [p_from, p_to) and not after as_of, each with
-- the first customer message of the run of customer messages it answers
-- (a seller message right after another seller message answers nothing and
-- is not a reply). That run may have started before p_from.
-- blk = the seller messages before a message: a run of customer messages
-- and the seller message that ends it share it.
CREATE FUNCTION ct4._crm_replies(p_from timestamptz, p_to timestamptz, as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, reply_at timestamptz, answered_from timestamptz,
              response_minutes double precision)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH convs AS (
        SELECT DISTINCT m.conversation_id FROM crm.messages m
         WHERE m.sent_at >= p_from AND m.sent_at < p_to AND m.sent_at <= as_of AND NOT m.from_customer),
    thread AS (
        SELECT m.conversation_id, m.sent_at, m.from_customer,
               pg_catalog.count(*) FILTER (WHERE NOT m.from_customer)
                   OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS blk
          FROM convs c JOIN crm.messages m ON m.conversation_id = c.conversation_id
         WHERE m.sent_at < p_to AND m.sent_at <= as_of),
    runs AS (
        SELECT t.conversation_id, t.blk, pg_catalog.min(t.sent_at) AS first_at
          FROM thread t WHERE t.from_customer GROUP BY 1, 2)
    SELECT t.conversation_id, c.assigned_seller_id, t.sent_at, r.first_at,
           extract(epoch FROM t.sent_at - r.first_at)::float8 / 60
      FROM thread t
      JOIN runs r ON r.conversation_id = t.conversation_id AND r.blk = t.blk
      JOIN crm.conversations c ON c.conversation_id = t.conversation_id
     WHERE NOT t.from_customer AND t.sent_at >= p_from
$$;

-- Every active seller's figures of `period` as of `as_of` (SPEC 8.2, 2),
-- with its productivity score, activity level and rank (docs/crm.md).
CREATE FUNCTION ct4._crm_seller_day(period date, as_of timestamptz)
RETURNS TABLE(seller_id bigint, conversations_total integer, conversations_active integer,
              conversations_today integer, unanswered integer, avg_response_time_minutes double precision,
              total_chat_time_minutes double precision, engagement_rate double precision,
              leads_generated integer, leads_converted integer, conversion_rate double precision,
              productivity_score double precision, activity_level text, rank_position integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH b AS (SELECT ct4._crm_day_start(period) AS d0, ct4._crm_day_start(period + 1) AS d1),
    w AS (SELECT ct4._crm_setting('crm_score_weight_response')::float8 AS wr,
                 ct4._crm_setting('crm_score_weight_engagement')::float8 AS we,
                 ct4._crm_setting('crm_score_weight_conversion')::float8 AS wc,
                 ct4._crm_setting('crm_score_weight_activity')::float8 AS wa,
                 ct4._crm_setting('crm_seller_response_minutes_max')::float8 AS rmax,
                 ct4._crm_setting('crm_score_activity_target')::float8 AS target,
                 ct4._crm_setting('crm_activity_high_min')::float8 AS high,
                 ct4._crm_setting('crm_activity_medium_min')::float8 AS medium),
    conv AS (
        SELECT c.assigned_seller_id AS sid, pg_catalog.count(*) AS total,
               pg_catalog.count(*) FILTER (WHERE c.status = 'active') AS active
          FROM crm.conversations c WHERE c.assigned_seller_id IS NOT NULL GROUP BY 1),
    -- The day's messages, each knowing whether a customer message of the
    -- day came before it in its conversation.
    daymsg AS (
        SELECT m.conversation_id, m.sent_at, m.from_customer,
               pg_catalog.bool_or(m.from_customer)
                   OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS customer_before
          FROM crm.messages m, b
         WHERE m.sent_at >= b.d0 AND m.sent_at < b.d1 AND m.sent_at <= as_of),
    dayconv AS (
        SELECT d.conversation_id,
               extract(epoch FROM pg_catalog.max(d.sent_at) - pg_catalog.min(d.sent_at))::float8 / 60 AS chat,
               pg_catalog.bool_or(d.from_customer) AS had_customer,
               pg_catalog.bool_or(NOT d.from_customer AND coalesce(d.customer_before, false)) AS engaged
          FROM daymsg d GROUP BY 1),
    today AS (
        SELECT c.assigned_seller_id AS sid, pg_catalog.count(*) AS n, pg_catalog.sum(d.chat) AS chat,
               pg_catalog.count(*) FILTER (WHERE d.had_customer) AS with_customer,
               pg_catalog.count(*) FILTER (WHERE d.had_customer AND d.engaged) AS engaged
          FROM dayconv d JOIN crm.conversations c ON c.conversation_id = d.conversation_id
         WHERE c.assigned_seller_id IS NOT NULL GROUP BY 1),
    resp AS (
        SELECT r.seller_id AS sid, pg_catalog.avg(r.response_minutes) AS avg_min
          FROM b, ct4._crm_replies(b.d0, b.d1, as_of) r WHERE r.seller_id IS NOT NULL GROUP BY 1),
    unans AS (
        SELECT u.seller_id AS sid, pg_catalog.count(*) AS n FROM ct4._crm_unanswered(as_of) u GROUP BY 1),
    leads AS (
        SELECT l.seller_id AS sid,
               pg_catalog.count(*) FILTER (WHERE l.created_at >= b.d0 AND l.created_at < b.d1
                                             AND l.created_at <= as_of) AS generated,
               pg_catalog.count(*) FILTER (WHERE l.converted_at >= b.d0 AND l.converted_at < b.d1
                                             AND l.converted_at <= as_of) AS converted
          FROM crm.leads l, b
         WHERE l.seller_id IS NOT NULL
           AND ((l.created_at >= b.d0 AND l.created_at < b.d1)
                OR (l.converted_at >= b.d0 AND l.converted_at < b.d1))
         GROUP BY 1),
    figures AS (
        SELECT s.seller_id,
               coalesce(conv.total, 0)::integer AS conversations_total,
               coalesce(conv.active, 0)::integer AS conversations_active,
               coalesce(today.n, 0)::integer AS conversations_today,
               coalesce(unans.n, 0)::integer AS unanswered,
               resp.avg_min::float8 AS avg_response_time_minutes,
               coalesce(today.chat, 0)::float8 AS total_chat_time_minutes,
               coalesce(today.engaged::float8 / NULLIF(today.with_customer, 0), 0) AS engagement_rate,
               coalesce(leads.generated, 0)::integer AS leads_generated,
               coalesce(leads.converted, 0)::integer AS leads_converted,
               coalesce(leads.converted::float8 / NULLIF(leads.generated, 0), 0) AS conversion_rate
          FROM crm.sellers s
          LEFT JOIN conv ON conv.sid = s.seller_id
          LEFT JOIN today ON today.sid = s.seller_id
          LEFT JOIN resp ON resp.sid = s.seller_id
          LEFT JOIN unans ON unans.sid = s.seller_id
          LEFT JOIN leads ON leads.sid = s.seller_id
         WHERE s.active),
    -- productivity_score (0-10): the weighted mean of four components in
    -- [0, 1], times 10 (docs/crm.md "Productivity score").
    scored AS (
        SELECT f.*,
               coalesce(10 * (w.wr * coalesce(1 / (1 + f.avg_response_time_minutes / w.rmax), 0)
                              + w.we * f.engagement_rate
                              + w.wc * LEAST(f.conversion_rate, 1)
                              + w.wa * LEAST(f.conversations_today / w.target, 1))
                        / NULLIF(w.wr + w.we + w.wc + w.wa, 0), 0) AS score
          FROM figures f, w)
    SELECT s.seller_id, s.conversations_total, s.conversations_active, s.conversations_today, s.unanswered,
           s.avg_response_time_minutes, s.total_chat_time_minutes, s.engagement_rate, s.leads_generated,
           s.leads_converted, s.conversion_rate, s.score,
           CASE WHEN s.score >= w.high THEN 'high' WHEN s.score >= w.medium THEN 'medium' ELSE 'low' END,
           (pg_catalog.rank() OVER (ORDER BY pg_catalog.round(s.score::numeric, 2) DESC))::integer
      FROM scored s, w
$$;

-- The jobs. SECURITY DEFINER like every job: they write tables an operator
-- does not. NULL or infinite arguments: 22023 naming the argument.
CREATE FUNCTION ct4.crm_check_notifications(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, unanswered_conversations integer, hot_leads integer,
              follow_up_reminders integer, performance_alerts integer, notifications_created integer,
              duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_check_notifications'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_refresh_seller_metrics(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, sellers integer, metrics_upserted integer,
              duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_refresh_seller_metrics'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_cleanup(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, notifications_deleted integer, metrics_deleted integer,
              conversations_archived integer, duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_cleanup'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_daily_report(for_date date DEFAULT ct4._crm_yesterday())
RETURNS TABLE(run_id bigint, status text, report_date date, conversations integer, new_leads integer,
              converted_leads integer, recommendations integer, report jsonb, duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_daily_report'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._crm_setting(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_day(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_day_start(date)', 'EXECUTE'),
    -- the report's default argument is evaluated as its caller
    ('operator', 'routine', 'ct4._crm_yesterday()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_days_before(timestamp with time zone, integer)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_episode(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_last_messages(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_unanswered(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_hot_leads(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_replies(timestamp with time zone, timestamp with time zone, timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_seller_day(date, timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_check_notifications(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_refresh_seller_metrics(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_cleanup(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_daily_report(date)', 'EXECUTE');

-- Registered and enabled like the CT4 jobs (on an empty crm schema a run
-- is a no-op of a few milliseconds), with seed 004's intervals per profile;
-- the report at 08:00 in the schedule's timezone (keep crm_timezone the
-- same zone: the report's default day is yesterday in crm_timezone).
INSERT INTO ct4.jobs (job_name, command, description, max_runtime) VALUES
    ('crm_notification_checks', 'SELECT * FROM ct4.crm_check_notifications()',
     'CRM: notifies unanswered conversations, hot leads, due follow-ups and struggling sellers, once per episode', '5 minutes'),
    ('crm_seller_metrics', 'SELECT * FROM ct4.crm_refresh_seller_metrics()',
     'CRM: refreshes every active seller''s figures of the day (crm.seller_metrics)', '10 minutes'),
    ('crm_cleanup', 'SELECT * FROM ct4.crm_cleanup()',
     'CRM: deletes old notifications and metrics, archives inactive conversations (crm_cleanup_batch rows of each per run)', '10 minutes'),
    ('crm_daily_report', 'SELECT * FROM ct4.crm_daily_report()',
     'CRM: the CEO''s report of yesterday (crm.daily_reports)', '10 minutes');
INSERT INTO ct4.job_schedules (profile, job_name, schedule, max_retries) VALUES
    ('development', 'crm_notification_checks', '*/2 * * * *',  NULL),
    ('development', 'crm_seller_metrics',      '*/5 * * * *',  NULL),
    ('development', 'crm_cleanup',             '0 * * * *',    NULL),
    ('development', 'crm_daily_report',        '0 8 * * *',    NULL),
    ('staging',     'crm_notification_checks', '*/5 * * * *',  NULL),
    ('staging',     'crm_seller_metrics',      '*/15 * * * *', NULL),
    ('staging',     'crm_cleanup',             '0 * * * *',    NULL),
    ('staging',     'crm_daily_report',        '0 8 * * *',    NULL),
    ('production',  'crm_notification_checks', '*/5 * * * *',  NULL),
    ('production',  'crm_seller_metrics',      '*/15 * * * *', NULL),
    ('production',  'crm_cleanup',             '0 * * * *',    NULL),
    ('production',  'crm_daily_report',        '0 8 * * *',    NULL),
    ('high_load',   'crm_notification_checks', '*/10 * * * *', 5),
    ('high_load',   'crm_seller_metrics',      '*/30 * * * *', 5),
    ('high_load',   'crm_cleanup',             '0 */2 * * *',  5),
    ('high_load',   'crm_daily_report',        '0 8 * * *',    5);
