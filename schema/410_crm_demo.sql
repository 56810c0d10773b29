-- ct4.generate_crm_demo_data(sellers, seed): a realistic, deterministic CRM
-- (docs/crm.md "Demo data") at any scale: per seller 200 conversations
-- (threads of 2 to 18 messages, about 10 on average) and 300 leads.
--
-- Determinism: every value is a function of (row number, seed, the hour of
-- the call) through ct4._demo_u / ct4._demo_h (schema/070_demo_data.sql),
-- never random(): the same arguments in the same hour give the same rows.
-- Times are relative to the hour of the call (the anchor), all before it,
-- so the jobs called now find recent work.
--
-- Threads: a conversation's first message is the customer's; each next
-- message is the customer's with probability 0.55 (so customers write in
-- bursts); the last one is the customer's in 15 % of the active
-- conversations (unanswered) and 30 % of the others. A
-- seller reply comes after the seller's own speed (fast: median ~4 min,
-- medium ~20, slow ~75); customers answer within hours. Conversations
-- last spoke over the 60 days before the anchor (3 % within its last 6
-- hours); 15 % are closed, the others active while they spoke within 7 days
-- (5 % of the older ones are still active: work for the cleanup), else
-- archived.
-- Leads: every status (new 22 %, contacted 20 %, interested 18 %,
-- negotiation 10 %, converted 15 %, lost 15 %); 8 % of new and contacted
-- leads are hot (probability above 0.8); a third of the follow-ups are due.
CREATE FUNCTION ct4.generate_crm_demo_data(sellers integer, seed integer DEFAULT 42)
RETURNS TABLE(seller_rows bigint, lead_rows bigint, conversation_rows bigint, message_rows bigint,
              duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n      constant bigint := generate_crm_demo_data.sellers;
    s      constant integer := generate_crm_demo_data.seed;
    conv   constant bigint := generate_crm_demo_data.sellers * 200::bigint;
    anchor constant timestamptz := date_trunc('hour', now());
    t0     constant timestamptz := clock_timestamp();
BEGIN
    IF n IS NULL OR n < 0 OR n > 1000000 THEN
        RAISE EXCEPTION 'sellers must be between 0 and 1000000 (got %)', coalesce(n::text, 'NULL')
            USING ERRCODE = '22023';
    ELSIF s IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM crm.sellers) OR EXISTS (SELECT FROM crm.leads)
       OR EXISTS (SELECT FROM crm.conversations) OR EXISTS (SELECT FROM crm.messages) THEN
        RAISE EXCEPTION 'crm tables are not empty: CRM demo data is generated into an empty crm schema only'
            USING ERRCODE = '55000',
                  HINT = 'TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications, crm.seller_metrics, crm.daily_reports CASCADE to start over.';
    END IF;

    INSERT INTO crm.sellers (seller_id, full_name, email, active, created_at)
    SELECT i, f.first || ' ' || f.last,
           lower(translate(f.first || '.' || f.last, 'áéíóúñÁÉÍÓÚÑ ', 'aeiounAEIOUN')) || i || '@ventas.example',
           ct4._demo_u(i, 50, s) >= 0.06, anchor - interval '400 days' + ct4._demo_h(i, 51, s, 300) * interval '1 day'
      FROM generate_series(1::bigint, n) i
     CROSS JOIN LATERAL (SELECT (ARRAY['Juan','María','Carlos','Lucía','Pedro','Ana','Jorge','Rosa','Luis','Carmen',
                                       'Diego','Valeria','Andrés','Sofía','Miguel','Elena'])[1 + ct4._demo_h(i, 52, s, 16)] AS first,
                                (ARRAY['Pérez','Gómez','López','Torres','Ramírez','Flores','Rojas','Vargas',
                                       'Castro','Mendoza','Quispe','Huamán'])[1 + ct4._demo_h(i, 53, s, 12)] AS last) f;

    -- Messages first (a thread's times are counted back from its last
    -- message); conversations and leads take their times from them.
    CREATE TEMP TABLE _crm_demo_msgs ON COMMIT DROP AS
    WITH c AS (
        SELECT c, 1 + ct4._demo_h(c, 54, s, n::integer) AS seller, 2 + ct4._demo_h(c, 55, s, 17) AS len,
               -- days since the last message: 3 % within the last 6 hours, the rest over 60 days
               CASE WHEN ct4._demo_u(c, 57, s) < 0.03 THEN ct4._demo_u(c, 58, s) / 4
                    ELSE ct4._demo_u(c, 58, s) * 60 END AS age_days
          FROM generate_series(1::bigint, conv) c WHERE n > 0 OFFSET 0),
    c2 AS (
        SELECT c.*, anchor - c.age_days * interval '1 day' AS last_at,
               CASE WHEN ct4._demo_u(c.c, 56, s) < 0.15 THEN 'closed'
                    WHEN c.age_days < 7 OR ct4._demo_u(c.c, 56, s) > 0.95 THEN 'active'
                    ELSE 'archived' END AS status,
               CASE WHEN ct4._demo_u(c.seller, 59, s) < 0.4 THEN 4.0
                    WHEN ct4._demo_u(c.seller, 59, s) < 0.8 THEN 20.0 ELSE 75.0 END AS speed
          FROM c OFFSET 0),
    m AS (
        SELECT c2.c, c2.last_at, c2.status, k,
               CASE WHEN k = 1 THEN true
                    WHEN k = c2.len THEN ct4._demo_u(c2.c, 69, s) < CASE c2.status WHEN 'active' THEN 0.15 ELSE 0.3 END
                    ELSE ct4._demo_u(c2.c * 32 + k, 60, s) < 0.55 END AS cust,
               k = 2 OR (k > 2 AND ct4._demo_u(c2.c * 32 + k - 1, 60, s) < 0.55) AS prev_cust,
               ct4._demo_u(c2.c * 32 + k, 61, s) AS u, c2.speed
          FROM c2 CROSS JOIN LATERAL generate_series(1, c2.len) k OFFSET 0),
    g AS (
        SELECT m.c, m.k, m.cust, m.last_at, m.status,
               CASE WHEN m.k = 1 THEN 0
                    WHEN m.cust AND m.prev_cust THEN 0.3 + m.u * 8                 -- a burst
                    WHEN m.cust THEN 5 + m.u * 240                                 -- the customer comes back
                    WHEN m.prev_cust THEN m.speed * (0.2 + 1.6 * m.u ^ 2)          -- a reply
                    ELSE 0.5 + m.u * 5 END AS gap_min                              -- a second seller message
          FROM m)
    SELECT g.c, g.k, g.cust, g.status,
           g.last_at - coalesce(sum(g.gap_min) OVER (PARTITION BY g.c ORDER BY g.k DESC
                                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                       * interval '1 minute' AS sent_at
      FROM g;

    INSERT INTO crm.leads (lead_id, seller_id, full_name, status, conversion_probability, last_contact_time,
                           next_follow_up, created_at, converted_at)
    SELECT l.l, l.seller, l.name, l.status,
           CASE l.status
               WHEN 'new' THEN CASE WHEN l.u1 < 0.08 THEN 0.81 + 0.18 * l.u2 ELSE 0.7 * l.u2 END
               WHEN 'contacted' THEN CASE WHEN l.u1 < 0.08 THEN 0.81 + 0.18 * l.u2 ELSE 0.75 * l.u2 END
               WHEN 'interested' THEN 0.3 + 0.5 * l.u2
               WHEN 'negotiation' THEN 0.5 + 0.45 * l.u2
               WHEN 'converted' THEN 1
               ELSE 0.2 * l.u2 END,
           CASE WHEN l.status = 'new' AND l.u3 < 0.6 THEN NULL
                ELSE greatest(l.created_at, anchor - l.u3 * interval '5 days') END,
           CASE WHEN l.status IN ('interested', 'negotiation')
                THEN anchor + (l.u3 - 0.35) * interval '2 days' END,
           l.created_at,
           CASE WHEN l.status = 'converted' THEN l.created_at + l.u2 * (anchor - l.created_at) END
      FROM (SELECT x.l, 1 + ct4._demo_h(x.l, 54, s, n::integer) AS seller,
                   'Lead ' || x.l AS name,
                   (ARRAY['new','new','new','new','contacted','contacted','contacted','contacted',
                          'interested','interested','interested','negotiation','negotiation',
                          'converted','converted','converted','lost','lost','lost','new'])[1 + ct4._demo_h(x.l, 62, s, 20)] AS status,
                   ct4._demo_u(x.l, 63, s) AS u1, ct4._demo_u(x.l, 64, s) AS u2, ct4._demo_u(x.l, 65, s) AS u3,
                   coalesce(f.first_at - ct4._demo_u(x.l, 66, s) * interval '2 hours',
                            anchor - ct4._demo_u(x.l, 66, s) * interval '45 days') AS created_at
              FROM generate_series(1::bigint, n * 300) x(l)
              LEFT JOIN (SELECT m.c, min(m.sent_at) AS first_at FROM _crm_demo_msgs m GROUP BY 1) f ON f.c = x.l
            OFFSET 0) l;

    INSERT INTO crm.conversations (conversation_id, assigned_seller_id, lead_id, status, last_message_time,
                                   last_message_from_customer, created_at)
    SELECT a.c, 1 + ct4._demo_h(a.c, 54, s, n::integer), a.c,
           a.status, a.last_at, a.last_cust, a.first_at
      FROM (SELECT m.c, min(m.status) AS status, min(m.sent_at) AS first_at, max(m.sent_at) AS last_at,
                   (array_agg(m.cust ORDER BY m.k DESC))[1] AS last_cust
              FROM _crm_demo_msgs m GROUP BY 1) a;

    INSERT INTO crm.messages (message_id, conversation_id, from_customer, sent_at, body)
    SELECT m.c * 32 + m.k, m.c, m.cust, m.sent_at,
           CASE WHEN m.cust THEN (ARRAY['Hola, quiero información del plan', '¿Cuál es el precio?', '¿Siguen ahí?',
                                        'Me interesa, ¿cómo sigo?', 'Gracias', '¿Tienen descuento?'])[1 + ct4._demo_h(m.c * 32 + m.k, 67, s, 6)]
                ELSE (ARRAY['¡Hola! Con gusto le ayudo', 'Le envío la cotización', 'El plan incluye soporte',
                            '¿Le llamo mañana?', 'Perfecto, quedo atento'])[1 + ct4._demo_h(m.c * 32 + m.k, 68, s, 5)] END
      FROM _crm_demo_msgs m;

    DROP TABLE pg_temp._crm_demo_msgs;
    ANALYZE crm.sellers, crm.leads, crm.conversations, crm.messages;
    RETURN QUERY SELECT (SELECT count(*) FROM crm.sellers), (SELECT count(*) FROM crm.leads),
                        (SELECT count(*) FROM crm.conversations), (SELECT count(*) FROM crm.messages),
                        round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 3)::float8;
END $fn$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4.generate_crm_demo_data(integer, integer)', 'EXECUTE');
