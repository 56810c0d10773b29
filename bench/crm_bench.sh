#!/usr/bin/env bash
# Benchmark of the four CRM jobs (SPEC 8.2; not a test: prints figures only).
# Data: ct4.generate_crm_demo_data(1000, 42) = 1 000 sellers, 200 000
# conversations, ~2 000 000 messages, 300 000 leads, plus a cleanup backlog
# (300 000 notifications older than the retention, 45 days x 1 000 sellers
# of metrics older than theirs). Generated once into a template database
# (ct4_crm_bench_tpl); every timed side runs in a fresh copy of it, so no
# side sees what another wrote. The world is seen as of the hour after the
# data's last message (the same in every run).
# Each job next to a plain-SQL way of doing the same work, in the same run:
#   notification check: first run (every notification new) and a rerun with
#     nothing changed; seller metrics refresh; one cleanup run of
#     crm_cleanup_batch rows of each kind; the daily report.
# JIT off on both sides (compiling costs these statements more than it wins).
# Uses the cluster named by PGHOST/PGPORT (scripts/cluster.sh start); run it
# under `flock /tmp/ct4-bench.lock bench/crm_bench.sh`.
# After a schema change: DROP DATABASE ct4_crm_bench_tpl (regenerated).
set -euo pipefail
TPL=${CT4_BENCH_TPL:-ct4_crm_bench_tpl}
DB=ct4_crm_bench
: "${PGHOST:?start a cluster first (scripts/cluster.sh start) and export PGHOST/PGPORT}"
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
fresh() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB TEMPLATE $TPL" 2>/dev/null
    q -c 'SELECT count(*) FROM crm.messages' -c 'SELECT count(*) FROM crm.conversations' >/dev/null  # warm the cache
}
# The server-side duration (ms) of the last statement of $1.
timed() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'SET jit = off' -c '\timing on' -c "$1" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
fig() { printf '%-64s %10s ms\n' "$1" "$2"; }
cnt() { printf '%-64s %10s\n' "$1" "$2"; }
ratio() { awk -v a="$2" -v b="$3" -v t="$1" 'BEGIN { printf "%-64s %10.2fx\n", t, a / b }'; }

if ! psql -X -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$TPL'" | grep -q 1; then
    echo "== generating data in $TPL (once)"
    psql -X -q -d postgres -c "CREATE DATABASE $TPL"
    psql -X -q -v ON_ERROR_STOP=1 -d "$TPL" <<'SQL'
CREATE EXTENSION ct4_jobs;
SELECT * FROM ct4.generate_crm_demo_data(1000, 42);
-- The cleanup's backlog: notifications of 8 to 38 days ago, metrics of 31 to 75 days ago.
INSERT INTO crm.notifications (kind, seller_id, subject_id, episode, message, details, created_at, run_id)
SELECT 'HOT_LEAD', 1 + i % 1000, 1000000 + i, 'bench', 'old', '{}',
       (SELECT max(sent_at) FROM crm.messages) - interval '8 days' - (i % 30) * interval '1 day', 0
  FROM generate_series(1, 300000) i;
INSERT INTO crm.seller_metrics (seller_id, period, computed_at, run_id, productivity_score)
SELECT s.seller_id, (SELECT max(sent_at) FROM crm.messages)::date - d, now(), 0, 5
  FROM crm.sellers s, generate_series(31, 75) d;
VACUUM ANALYZE;
SQL
fi
AS_OF=$(psql -X -qtA -d "$TPL" -c "SELECT date_trunc('hour', max(sent_at)) + interval '1 hour' FROM crm.messages")
DAY=$(psql -X -qtA -d "$TPL" -c "SELECT ct4._crm_day('$AS_OF'::timestamptz) - 1")
echo "== data: $(psql -X -qtA -d "$TPL" -c "SELECT (SELECT count(*) FROM crm.sellers) || ' sellers, ' || (SELECT count(*) FROM crm.conversations) || ' conversations, ' || (SELECT count(*) FROM crm.messages) || ' messages, ' || (SELECT count(*) FROM crm.leads) || ' leads; backlog ' || (SELECT count(*) FROM crm.notifications) || ' notifications, ' || (SELECT count(*) FROM crm.seller_metrics) || ' metrics rows'")"
echo "== as_of $AS_OF, report day $DAY"

# --- plain SQL, written as one would without the extension -----------------
# The customer runs of the threads that have a seller message in [$1, $2)
# (times as SQL expressions): threads numbered by the seller messages before
# each message, runs = the first customer message of each number, replies =
# each seller message of the range with the minutes from its run's first.
replies_cte() {
    cat <<SQL
threads AS (
    SELECT m.conversation_id, m.sent_at, m.from_customer,
           sum(CASE WHEN m.from_customer THEN 0 ELSE 1 END) OVER w - CASE WHEN m.from_customer THEN 0 ELSE 1 END AS run_no
      FROM crm.messages m
     WHERE m.conversation_id IN (SELECT x.conversation_id FROM crm.messages x
                                  WHERE x.sent_at >= $1 AND x.sent_at < $2 AND NOT x.from_customer)
       AND m.sent_at < $2
    WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id)),
runs AS (SELECT conversation_id, run_no, min(sent_at) AS first_at FROM threads WHERE from_customer GROUP BY 1, 2),
replies AS (
    SELECT c.assigned_seller_id AS seller_id, extract(epoch FROM r.sent_at - u.first_at) / 60 AS minutes
      FROM threads r JOIN runs u USING (conversation_id, run_no) JOIN crm.conversations c USING (conversation_id)
     WHERE NOT r.from_customer AND r.sent_at >= $1),
SQL
}

# The four conditions with DISTINCT ON for the last messages, the seller's
# day's response times by numbering the customer runs, one INSERT ... ON
# CONFLICT DO NOTHING and one pg_notify per new row.
plain_check() {
    cat <<SQL
WITH t AS (SELECT '$AS_OF'::timestamptz AS as_of, ('$AS_OF'::timestamptz AT TIME ZONE 'UTC')::date AS d),
last AS (
    SELECT DISTINCT ON (m.conversation_id) m.conversation_id, c.assigned_seller_id, c.lead_id, m.sent_at, m.from_customer
      FROM crm.messages m JOIN crm.conversations c ON c.conversation_id = m.conversation_id, t
     WHERE c.status = 'active' AND c.assigned_seller_id IS NOT NULL AND m.sent_at <= t.as_of
     ORDER BY m.conversation_id, m.sent_at DESC, m.message_id DESC),
un AS (SELECT l.* FROM last l, t WHERE l.from_customer AND l.sent_at < t.as_of - interval '1 hour'),
$(replies_cte "(SELECT d FROM t)" "(SELECT as_of FROM t) + interval '1 microsecond'")
perf AS (
    SELECT s.seller_id, coalesce(u.n, 0) AS unanswered, r.avg_min
      FROM crm.sellers s
      LEFT JOIN (SELECT assigned_seller_id, count(*) AS n FROM un GROUP BY 1) u ON u.assigned_seller_id = s.seller_id
      LEFT JOIN (SELECT seller_id, avg(minutes) AS avg_min FROM replies GROUP BY 1) r ON r.seller_id = s.seller_id
     WHERE s.active),
cand AS (
    SELECT 'UNANSWERED_CONVERSATION' AS kind, un.assigned_seller_id AS seller_id, un.conversation_id AS subject_id,
           to_char(un.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS episode,
           jsonb_build_object('conversation_id', un.conversation_id, 'lead_id', un.lead_id) AS details FROM un
    UNION ALL
    SELECT 'HOT_LEAD', l.seller_id, l.lead_id,
           coalesce(to_char(l.last_contact_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'never'),
           jsonb_build_object('lead_id', l.lead_id, 'conversion_probability', l.conversion_probability)
      FROM crm.leads l, t
     WHERE l.conversion_probability > 0.8 AND l.status IN ('new', 'contacted') AND l.created_at <= t.as_of
       AND (l.last_contact_time IS NULL OR l.last_contact_time < t.as_of - interval '2 hours')
    UNION ALL
    SELECT 'FOLLOW_UP_DUE', l.seller_id, l.lead_id, to_char(l.next_follow_up AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           jsonb_build_object('lead_id', l.lead_id, 'status', l.status)
      FROM crm.leads l, t
     WHERE l.next_follow_up <= t.as_of AND l.status IN ('interested', 'negotiation') AND l.created_at <= t.as_of
    UNION ALL
    SELECT 'SELLER_PERFORMANCE', p.seller_id, p.seller_id, to_char(t.d, 'YYYY-MM-DD'),
           jsonb_build_object('unanswered', p.unanswered, 'avg_response_time_minutes', p.avg_min)
      FROM perf p, t WHERE p.unanswered > 5 OR p.avg_min > 30),
ins AS (
    INSERT INTO crm.notifications (kind, seller_id, subject_id, episode, message, details, created_at, run_id)
    SELECT c.kind, c.seller_id, c.subject_id, c.episode, c.kind || ' ' || c.subject_id, c.details, t.as_of, 0 FROM cand c, t
    ON CONFLICT (kind, subject_id, episode) DO NOTHING RETURNING *)
SELECT (SELECT count(*) FROM cand), count(pg_notify('crm_notifications', to_jsonb(ins)::text)) FROM ins
SQL
}

# Every active seller's figures of the day, one INSERT ... ON CONFLICT DO UPDATE.
plain_metrics() {
    cat <<SQL
WITH t AS (SELECT '$AS_OF'::timestamptz AS as_of, ('$AS_OF'::timestamptz AT TIME ZONE 'UTC')::date AS d),
day_msgs AS (
    SELECT m.*, c.assigned_seller_id AS seller_id FROM crm.messages m JOIN crm.conversations c USING (conversation_id), t
     WHERE m.sent_at >= t.d AND m.sent_at <= t.as_of),
conv_day AS (
    SELECT conversation_id, seller_id, extract(epoch FROM max(sent_at) - min(sent_at)) / 60 AS chat,
           bool_or(from_customer) AS had_customer,
           max(sent_at) FILTER (WHERE NOT from_customer) > min(sent_at) FILTER (WHERE from_customer) AS engaged
      FROM day_msgs GROUP BY 1, 2),
$(replies_cte "(SELECT d FROM t)" "(SELECT as_of FROM t) + interval '1 microsecond'")
resp AS (SELECT seller_id, avg(minutes) AS avg_min FROM replies GROUP BY 1),
last AS (
    SELECT DISTINCT ON (m.conversation_id) m.conversation_id, c.assigned_seller_id AS seller_id, m.sent_at, m.from_customer
      FROM crm.messages m JOIN crm.conversations c USING (conversation_id), t
     WHERE c.status = 'active' AND m.sent_at <= t.as_of ORDER BY m.conversation_id, m.sent_at DESC, m.message_id DESC),
f AS (
    SELECT s.seller_id, coalesce(cv.total, 0) AS total, coalesce(cv.active, 0) AS active, coalesce(dd.today, 0) AS today,
           coalesce(ua.n, 0) AS unanswered, rp.avg_min, coalesce(dd.chat, 0) AS chat, coalesce(dd.engagement, 0) AS engagement,
           coalesce(ld.generated, 0) AS generated, coalesce(ld.converted, 0) AS converted
      FROM crm.sellers s
      LEFT JOIN (SELECT assigned_seller_id AS seller_id, count(*) AS total, count(*) FILTER (WHERE status = 'active') AS active
                   FROM crm.conversations GROUP BY 1) cv USING (seller_id)
      LEFT JOIN (SELECT seller_id, count(*) AS today, sum(chat) AS chat,
                        avg(CASE WHEN engaged THEN 1.0 ELSE 0 END) FILTER (WHERE had_customer) AS engagement
                   FROM conv_day GROUP BY 1) dd USING (seller_id)
      LEFT JOIN (SELECT l.seller_id, count(*) AS n FROM last l, t
                  WHERE l.from_customer AND l.sent_at < t.as_of - interval '1 hour' GROUP BY 1) ua USING (seller_id)
      LEFT JOIN resp rp USING (seller_id)
      LEFT JOIN (SELECT l.seller_id, count(*) FILTER (WHERE l.created_at >= t.d AND l.created_at <= t.as_of) AS generated,
                        count(*) FILTER (WHERE l.converted_at >= t.d AND l.converted_at <= t.as_of) AS converted
                   FROM crm.leads l, t WHERE l.created_at >= t.d OR l.converted_at >= t.d GROUP BY 1) ld USING (seller_id)
     WHERE s.active),
scored AS (
    SELECT f.*, coalesce(f.converted::float8 / nullif(f.generated, 0), 0) AS rate,
           10 * (3 * coalesce(1 / (1 + f.avg_min / 30), 0) + 2 * f.engagement
                 + 3 * least(coalesce(f.converted::float8 / nullif(f.generated, 0), 0), 1) + 2 * least(f.today / 10.0, 1)) / 10 AS score
      FROM f)
INSERT INTO crm.seller_metrics (seller_id, period, computed_at, run_id, conversations_total, conversations_active,
       conversations_today, unanswered, avg_response_time_minutes, total_chat_time_minutes, engagement_rate,
       leads_generated, leads_converted, conversion_rate, productivity_score, activity_level, rank_position)
SELECT s.seller_id, t.d, t.as_of, 0, s.total, s.active, s.today, s.unanswered, s.avg_min, s.chat, s.engagement,
       s.generated, s.converted, s.rate, s.score,
       CASE WHEN s.score >= 7 THEN 'high' WHEN s.score >= 4 THEN 'medium' ELSE 'low' END,
       rank() OVER (ORDER BY round(s.score::numeric, 2) DESC)
  FROM scored s, t
ON CONFLICT (seller_id, period) DO UPDATE SET computed_at = EXCLUDED.computed_at, productivity_score = EXCLUDED.productivity_score,
       conversations_today = EXCLUDED.conversations_today, rank_position = EXCLUDED.rank_position
SQL
}

# The seed's three statements, each bounded like the job (100 000 rows).
plain_cleanup() {
    cat <<SQL
WITH t AS (SELECT '$AS_OF'::timestamptz AS as_of),
n AS (DELETE FROM crm.notifications WHERE notification_id IN (
          SELECT notification_id FROM crm.notifications, t WHERE created_at < t.as_of - interval '7 days'
           ORDER BY created_at LIMIT 100000) RETURNING 1),
m AS (DELETE FROM crm.seller_metrics WHERE (seller_id, period) IN (
          SELECT seller_id, period FROM crm.seller_metrics, t WHERE period < t.as_of::date - 30
           ORDER BY period LIMIT 100000) RETURNING 1),
a AS (UPDATE crm.conversations SET status = 'archived' WHERE conversation_id IN (
          SELECT c.conversation_id FROM crm.conversations c, t
           WHERE c.status = 'active'
             AND coalesce((SELECT max(m.sent_at) FROM crm.messages m WHERE m.conversation_id = c.conversation_id
                             AND m.sent_at <= t.as_of), c.created_at) < t.as_of - interval '7 days'
           LIMIT 100000) RETURNING 1)
SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM m), (SELECT count(*) FROM a)
SQL
}

# The report's figures of the day: team totals, response time, top 3, alerts.
plain_report() {
    cat <<SQL
WITH t AS (SELECT '$DAY'::date AS d, '$DAY'::date::timestamp AT TIME ZONE 'UTC' AS d0,
                  ('$DAY'::date + 1)::timestamp AT TIME ZONE 'UTC' AS d1),
$(replies_cte "(SELECT d0 FROM t)" "(SELECT d1 FROM t)")
conv AS (SELECT s.seller_id, s.full_name,
                (SELECT count(*) FROM crm.leads l, t WHERE l.seller_id = s.seller_id AND l.converted_at >= t.d0 AND l.converted_at < t.d1) AS conversions,
                (SELECT m.productivity_score FROM crm.seller_metrics m, t WHERE m.seller_id = s.seller_id AND m.period = t.d) AS score
           FROM crm.sellers s WHERE s.active),
report AS (
    SELECT jsonb_build_object(
        'date', t.d,
        'team_performance', jsonb_build_object(
            'total_conversations', (SELECT count(DISTINCT conversation_id) FROM crm.messages m WHERE m.sent_at >= t.d0 AND m.sent_at < t.d1),
            'new_leads', (SELECT count(*) FROM crm.leads l WHERE l.created_at >= t.d0 AND l.created_at < t.d1),
            'converted_leads', (SELECT count(*) FROM crm.leads l WHERE l.converted_at >= t.d0 AND l.converted_at < t.d1),
            'avg_response_time_minutes', (SELECT avg(minutes) FROM replies)),
        'top_performers', (SELECT jsonb_agg(x) FROM (SELECT * FROM conv ORDER BY conversions DESC, score DESC NULLS LAST, seller_id LIMIT 3) x),
        'alerts_summary', (SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*) AS n FROM crm.notifications
                                                                    WHERE created_at >= t.d0 AND created_at < t.d1 GROUP BY 1) a)) AS doc
      FROM t)
INSERT INTO crm.daily_reports (report_date, report, created_at, run_id)
SELECT '$DAY', doc, clock_timestamp(), 0 FROM report
ON CONFLICT (report_date) DO UPDATE SET report = EXCLUDED.report
SQL
}

echo "== load: $(uptime)"
echo "== notification check: first run (every notification new), then nothing changed"
fresh
j1=$(timed "SELECT * FROM ct4.crm_check_notifications('$AS_OF')"); fig "job: crm_check_notifications(as_of), first run" "$j1"
cnt "job: notifications_created" "$(q -tA -c "SELECT stats->>'notifications_created' FROM ct4.job_runs ORDER BY run_id DESC LIMIT 1")"
for i in 1 2 3; do
    j=$(timed "SELECT * FROM ct4.crm_check_notifications('$AS_OF')"); fig "job: rerun $i, nothing changed" "$j"
done
j5=$(timed "SELECT * FROM ct4.crm_check_notifications('$AS_OF'::timestamptz + interval '5 minutes')")
fig "job: 5 minutes later" "$j5"
fig "job: rerun, JIT on (the server's default)" "$(psql -X -q -d "$DB" -c '\timing on' -c "SELECT * FROM ct4.crm_check_notifications('$AS_OF')" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')"
fresh
p1=$(timed "$(plain_check)"); fig "plain SQL: the same check, first run" "$p1"
cnt "plain SQL: notifications created" "$(q -tA -c 'SELECT count(*) FROM crm.notifications WHERE run_id = 0 AND episode <> '"'bench'")"
for i in 1 2 3; do
    p=$(timed "$(plain_check)"); fig "plain SQL: rerun $i, nothing changed" "$p"
done
ratio "first run: job / plain SQL" "$j1" "$p1"
ratio "nothing changed: job (last rerun) / plain SQL (last rerun)" "$j" "$p"

# A job twice (the second: rows replaced or the backlog's rest), then the
# plain SQL twice in a fresh copy. compare <job SQL> <job label> <second label> <plain label> <plain SQL>
compare() {
    fresh
    j=$(timed "$1"); fig "job: $2" "$j"
    [ -z "${6:-}" ] || cnt "job: $6" "$(q -tA -c "SELECT stats - 'duration_ms' FROM ct4.job_runs ORDER BY run_id DESC LIMIT 1")"
    fig "job: $3" "$(timed "$1")"
    fresh
    p=$(timed "$5"); fig "plain SQL: $4" "$p"
    fig "plain SQL: again" "$(timed "$5")"
    ratio "job / plain SQL" "$j" "$p"
}
echo "== seller metrics refresh"
compare "SELECT * FROM ct4.crm_refresh_seller_metrics('$AS_OF')" "crm_refresh_seller_metrics(as_of)" "again (rows replaced)" \
    "the same figures, upserted" "$(plain_metrics)"
echo "== cleanup: one run on the backlog (crm_cleanup_batch = 100 000)"
compare "SELECT * FROM ct4.crm_cleanup('$AS_OF')" "crm_cleanup(as_of)" "the next run (the backlog's rest)" \
    "the seed's statements, bounded the same" "$(plain_cleanup)" "counters"
echo "== daily report of $DAY"
compare "SELECT * FROM ct4.crm_daily_report('$DAY')" "crm_daily_report(day)" "rerun (replaces the row)" \
    "the same figures" "$(plain_report)"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"
echo "== load: $(uptime)"
