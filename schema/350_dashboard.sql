-- The dashboard the seeds recommend (SPEC 12; docs/dashboard.md):
-- ct4.dashboard_html(weeks) returns one self-contained HTML5 page (inline
-- CSS and SVG, no script, no external resource). SQL and plpgsql, not C++:
-- the page is text composed from views with format() and string_agg(), and
-- every piece of it is a query; the pure parts (escaping, chart geometry)
-- are small IMMUTABLE functions that pg_regress checks on their own.
--
-- Every value read from the database goes through ct4._html() before it is
-- placed in the page; class names and colours come only from constants here.

-- Text as HTML content or a double-quoted attribute value: & < > " ' escaped.
-- NULL gives the empty string.
CREATE FUNCTION ct4._html(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(replace(replace(replace(replace(replace(v, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                                    '"', '&quot;'), '''', '&#39;'), '')
$$;

-- A number for SVG coordinates: at most 2 decimals, '.' as separator
-- (numeric's text, independent of lc_numeric).
CREATE FUNCTION ct4._svg_num(v numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT trim_scale(round(v, 2))::text
$$;

-- The stacked weekly bars: one bar per week (oldest left), one segment per
-- limbo stage in funnel order from the bottom, the week's total above its
-- bar (when there is room: up to 26 weeks), a week label every
-- ceil(n/12) weeks, a tooltip (<title>) per segment. Geometry: viewBox
-- 720 x 280, plot area x 44..712, y 20..240; heights scale to the largest
-- weekly total. Arrays are parallel, one element per week.
CREATE FUNCTION ct4._dashboard_bars(week_start date[], no_identity integer[], no_driver integer[],
                                    no_trips integer[], trips_no_claim integer[], ok integer[])
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (
        SELECT u.i, u.ws, ARRAY[u.a, u.b, u.c, u.d, u.e] AS v, u.a + u.b + u.c + u.d + u.e AS total,
               cardinality(week_start) AS n
          FROM unnest(week_start, no_identity, no_driver, no_trips, trips_no_claim, ok)
               WITH ORDINALITY u(ws, a, b, c, d, e, i)
    ), g AS (
        SELECT greatest(max(w.total), 1)::numeric AS top, max(w.n) AS n,
               668.0 / max(w.n) AS step FROM w
    ), seg AS (   -- one rect per (week, stage) with a count > 0
        SELECT w.i, s.k, s.name,
               w.v[s.k] AS count, w.ws,
               44 + (w.i - 1) * g.step + g.step * 0.14 AS x,
               greatest(g.step * 0.72, 1) AS width,
               240 - (SELECT sum(x) FROM unnest(w.v[1:s.k]) x) * 220 / g.top AS y,
               w.v[s.k] * 220 / g.top AS height
          FROM w CROSS JOIN g
         CROSS JOIN (VALUES (1, 'NO_IDENTITY'), (2, 'NO_DRIVER'), (3, 'NO_TRIPS_14D'),
                            (4, 'TRIPS_NO_CLAIM'), (5, 'OK')) s(k, name)
         WHERE w.v[s.k] > 0
    )
    SELECT '<svg class="chart" viewBox="0 0 720 280" role="img" aria-label="Leads per week by limbo stage">'
        || format('<line class="axis" x1="44" y1="240" x2="712" y2="240"/>'
                  '<line class="grid" x1="44" y1="130" x2="712" y2="130"/>'
                  '<line class="grid" x1="44" y1="20" x2="712" y2="20"/>'
                  '<text class="tick" x="40" y="244" text-anchor="end">0</text>'
                  '<text class="tick" x="40" y="134" text-anchor="end">%s</text>'
                  '<text class="tick" x="40" y="24" text-anchor="end">%s</text>',
                  ct4._svg_num(g.top / 2), ct4._svg_num(g.top))
        || coalesce((SELECT string_agg(format('<rect class="st%s" x="%s" y="%s" width="%s" height="%s">'
                                              '<title>%s %s: %s</title></rect>',
                                              seg.k, ct4._svg_num(seg.x), ct4._svg_num(seg.y),
                                              ct4._svg_num(seg.width), ct4._svg_num(seg.height),
                                              ct4._html(to_char(seg.ws, 'YYYY-MM-DD')), seg.name,
                                              ct4._html(seg.count::text)), '' ORDER BY seg.i, seg.k)
                       FROM seg), '')
        || coalesce((SELECT string_agg(format('<text class="total" x="%s" y="%s" text-anchor="middle">%s</text>',
                                              ct4._svg_num(44 + (w.i - 0.5) * g.step),
                                              ct4._svg_num(240 - w.total * 220 / g.top - 4),
                                              ct4._html(w.total::text)), '' ORDER BY w.i)
                       FROM w WHERE g.n <= 26), '')
        || coalesce((SELECT string_agg(format('<text class="tick" x="%s" y="258" text-anchor="middle">%s</text>',
                                              ct4._svg_num(44 + (w.i - 0.5) * g.step),
                                              ct4._html(to_char(w.ws, 'MM-DD'))), '' ORDER BY w.i)
                       FROM w WHERE (w.i - 1) % ceil(g.n / 12.0)::int = 0), '')
        || '</svg>'
      FROM g
$$;

-- One trend: a line over the weeks (viewBox 300 x 120, plot x 36..292,
-- y 12..96), a dot per week up to 52 weeks, the largest value on the axis.
CREATE FUNCTION ct4._dashboard_trend(label text, week_start date[], counts integer[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (
        SELECT u.i, u.ws, u.c FROM unnest(week_start, counts) WITH ORDINALITY u(ws, c, i)
    ), g AS (
        SELECT greatest(max(w.c), 1)::numeric AS top, count(*) AS n, 256.0 / count(*) AS step FROM w
    ), p AS (
        SELECT w.i, w.ws, w.c, 36 + (w.i - 0.5) * g.step AS x, 96 - w.c * 84 / g.top AS y FROM w, g
    )
    SELECT format('<svg class="trend" viewBox="0 0 300 120" role="img" aria-label="%s per week">', ct4._html(label))
        || format('<line class="axis" x1="36" y1="96" x2="292" y2="96"/>'
                  '<line class="grid" x1="36" y1="12" x2="292" y2="12"/>'
                  '<text class="tick" x="32" y="100" text-anchor="end">0</text>'
                  '<text class="tick" x="32" y="16" text-anchor="end">%s</text>', ct4._svg_num(g.top))
        || format('<polyline class="line" points="%s"/>',
                  (SELECT string_agg(ct4._svg_num(p.x) || ',' || ct4._svg_num(p.y), ' ' ORDER BY p.i) FROM p))
        || coalesce((SELECT string_agg(format('<circle class="dot" cx="%s" cy="%s" r="2.5"><title>%s: %s</title></circle>',
                                              ct4._svg_num(p.x), ct4._svg_num(p.y),
                                              ct4._html(to_char(p.ws, 'YYYY-MM-DD')), ct4._html(p.c::text)),
                                       '' ORDER BY p.i)
                       FROM p WHERE g.n <= 52), '')
        || format('<text class="tick" x="36" y="112">%s</text><text class="tick" x="292" y="112" text-anchor="end">%s</text>',
                  ct4._html(to_char(week_start[1], 'YYYY-MM-DD')),
                  ct4._html(to_char(week_start[cardinality(week_start)], 'YYYY-MM-DD')))
        || '</svg>'
      FROM g
$$;

-- A timestamp as the page shows it: UTC, to the minute; NULL as a dash.
CREATE FUNCTION ct4._dashboard_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '—')
$$;

-- The page's style sheet: readable from a 360 px phone to a laptop (tables
-- scroll sideways inside their box, charts scale with the width).
CREATE FUNCTION ct4._dashboard_css() RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT $css$
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f3f5f8}
main{max-width:1100px;margin:0 auto;padding:12px}
header h1{font-size:1.4em;margin:.4em 0 .1em}
.meta{color:#5b6b7c;margin:0 0 .8em}
section{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:12px 14px;margin:0 0 14px}
h2{font-size:1.1em;margin:0 0 .6em}
h3{font-size:1em;margin:.8em 0 .4em}
.empty{color:#5b6b7c;font-style:italic;margin:.3em 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e9ee;vertical-align:top}
th{background:#f0f2f5;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg{display:block;width:100%;height:auto}
.chart{max-width:900px;min-width:540px}
.figs{white-space:nowrap;font-size:.9em}
.axis{stroke:#8a97a6;stroke-width:1}
.grid{stroke:#e1e5ea;stroke-width:1}
.tick{font-size:10px;fill:#5b6b7c}
.total{font-size:10px;fill:#1d2733;font-weight:600}
.st1{fill:#d94f4f;background:#d94f4f}.st2{fill:#f08c3a;background:#f08c3a}.st3{fill:#e8c547;background:#e8c547}
.st4{fill:#8e5bd6;background:#8e5bd6}.st5{fill:#3fa66b;background:#3fa66b}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:.4em 0 .8em;padding:0;list-style:none;font-size:.9em}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.trends{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px}
.trends figure{margin:0;border:1px solid #e6e9ee;border-radius:6px;padding:8px}
.trends figcaption{font-weight:600}
.big{font-size:1.5em;font-weight:700}
.line{fill:none;stroke:#2f6fb5;stroke-width:2}
.dot{fill:#2f6fb5}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:.85em;font-weight:600;white-space:nowrap}
.ok{background:#dcf2e4;color:#1e6b3c}.bad{background:#fbe0e0;color:#9b1c1c}.neutral{background:#eceff3;color:#3d4a57}
.sev-critical{background:#fbe0e0;color:#9b1c1c}.sev-warning{background:#fdf0d5;color:#8a5a00}.sev-info{background:#e2edf9;color:#1f4f86}
.kv{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin:0}
.kv div{border:1px solid #e6e9ee;border-radius:6px;padding:6px 8px}
.kv dt{color:#5b6b7c;font-size:.85em}.kv dd{margin:0;font-weight:700;font-size:1.15em}
@media (max-width:600px){body{font-size:14px}main{padding:6px}section{padding:10px 8px}th,td{padding:3px 5px}}
$css$
$$;

-- The CRM's last daily report (SPEC 8.2, 4; crm.daily_reports, written by
-- the crm_daily_report job): its team figures, top performers, the day's
-- notifications and recommendations; an empty state when there is no report
-- yet. The report's JSON is read defensively (a key missing or of another
-- type shows as missing, never as an error).
CREATE FUNCTION ct4._dashboard_crm() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    day     date;
    report  jsonb;
    made_at timestamptz;
    team    jsonb;
    out     text;
BEGIN
    SELECT d.report_date, d.report, d.created_at INTO day, report, made_at
      FROM crm.daily_reports d ORDER BY d.report_date DESC LIMIT 1;
    IF day IS NULL THEN
        RETURN '<p class="empty">No daily report yet: the crm_daily_report job writes one a day.</p>';
    END IF;
    team := CASE WHEN jsonb_typeof(report -> 'team_performance') = 'object' THEN report -> 'team_performance' ELSE '{}' END;
    out := format('<p class="meta">Report of %s, made %s.</p>', ct4._html(to_char(day, 'YYYY-MM-DD')),
                  ct4._html(ct4._dashboard_time(made_at)));
    -- Team figures: the keys of SPEC 8.2 in its order, then any other key.
    out := out || '<h3>Team</h3>' || coalesce(
        '<dl class="kv">' || (SELECT string_agg(format('<div><dt>%s</dt><dd>%s</dd></div>',
                                                       ct4._html(replace(e.key, '_', ' ')),
                                                       ct4._html(coalesce(e.value #>> '{}', '—'))),
                                                '' ORDER BY coalesce(array_position(ARRAY['total_conversations',
                                                    'new_leads', 'converted_leads', 'conversion_rate',
                                                    'avg_response_time_minutes'], e.key), 99), e.key)
                                FROM jsonb_each(team) e) || '</dl>',
        '<p class="empty">No team figures in this report.</p>');
    out := out || '<h3>Top performers</h3>' || coalesce(
        '<div class="scroll"><table><thead><tr><th class="n">#</th><th>Seller</th><th class="n">Seller id</th>'
        '<th class="n">Conversions</th><th class="n">Score</th></tr></thead><tbody>'
        || (SELECT string_agg(format('<tr><td class="n">%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                                     '<td class="n">%s</td></tr>', t.i, ct4._html(t.p ->> 'seller'),
                                     ct4._html(t.p ->> 'seller_id'), ct4._html(t.p ->> 'conversions'),
                                     ct4._html(t.p ->> 'score')), '' ORDER BY t.i)
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(report -> 'top_performers') = 'array'
                                             THEN report -> 'top_performers' ELSE '[]' END)
                   WITH ORDINALITY t(p, i)
             WHERE jsonb_typeof(t.p) = 'object')
        || '</tbody></table></div>',
        '<p class="empty">No seller converted or scored that day.</p>');
    IF jsonb_typeof(report -> 'alerts_summary') = 'object' THEN
        out := out || '<h3>Notifications of the day</h3><dl class="kv">'
            || coalesce((SELECT string_agg(format('<div><dt>%s</dt><dd>%s</dd></div>',
                                                  ct4._html(replace(e.key, '_', ' ')), ct4._html(e.value #>> '{}')),
                                           '' ORDER BY e.key)
                           FROM jsonb_each(report -> 'alerts_summary') e), '')
            || '</dl>';
    END IF;
    out := out || '<h3>Recommendations</h3>' || coalesce(
        '<ul>' || (SELECT string_agg('<li>' || ct4._html(r.t #>> '{}') || '</li>', '' ORDER BY r.i)
                     FROM jsonb_array_elements(CASE WHEN jsonb_typeof(report -> 'recommendations') = 'array'
                                                    THEN report -> 'recommendations' ELSE '[]' END)
                          WITH ORDINALITY r(t, i)) || '</ul>',
        '<p class="empty">No recommendation: nothing needs attention.</p>');
    RETURN out;
END $$;

-- jit = off as in ct4.metrics(): the page's statements are small, and
-- compiling them would cost more than running them.
CREATE FUNCTION ct4.dashboard_html(weeks integer DEFAULT 12) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    ws   date[];
    ni   integer[];
    nd   integer[];
    nt   integer[];
    tnc  integer[];
    ok   integer[];
    tot  integer[];
    n    integer;
    page text;
    part text;
BEGIN
    IF weeks IS NULL OR weeks NOT BETWEEN 1 AND 520 THEN
        RAISE EXCEPTION 'weeks must be between 1 and 520 (got %)', coalesce(weeks::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'weeks is how many of the latest ISO weeks with leads the page shows, e.g. ct4.dashboard_html(12).';
    END IF;

    -- One pass over the weekly view (it evaluates the limbo view once, as
    -- ct4.metrics() does): the latest `weeks` weeks that have leads.
    SELECT array_agg(v.week_start ORDER BY v.week_start), array_agg(v.limbo_no_identity ORDER BY v.week_start),
           array_agg(v.limbo_no_driver ORDER BY v.week_start), array_agg(v.limbo_no_trips_14d ORDER BY v.week_start),
           array_agg(v.limbo_trips_no_claim ORDER BY v.week_start), array_agg(v.limbo_ok ORDER BY v.week_start),
           array_agg(v.leads_total ORDER BY v.week_start)
      INTO ws, ni, nd, nt, tnc, ok, tot
      FROM (SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly x
             ORDER BY x.week_start DESC LIMIT weeks) v;
    n := coalesce(cardinality(ws), 0);

    page := '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         || '<meta name="viewport" content="width=device-width, initial-scale=1">'
         || '<title>ct4_jobs dashboard</title><style>' || ct4._dashboard_css() || '</style></head><body><main>'
         || format('<header><h1>ct4_jobs — recruitment funnel</h1><p class="meta">Database %s · generated %s · latest %s week(s) with leads</p></header>',
                   ct4._html(current_database()), ct4._html(ct4._dashboard_time(now())), weeks);

    -- Weekly limbo distribution: bars and their numbers.
    page := page || '<section id="weekly"><h2>Leads per week by limbo stage</h2>';
    IF n = 0 THEN
        page := page || '<p class="empty">No lead with a lead_date yet: the chart appears when raw.module_ct_cabinet_leads has rows.</p>';
    ELSE
        page := page || '<div class="scroll">' || ct4._dashboard_bars(ws, ni, nd, nt, tnc, ok) || '</div>'
             || '<ul class="legend"><li><i class="st1"></i>NO_IDENTITY</li><li><i class="st2"></i>NO_DRIVER</li>'
                '<li><i class="st3"></i>NO_TRIPS_14D</li><li><i class="st4"></i>TRIPS_NO_CLAIM</li><li><i class="st5"></i>OK</li></ul>'
             || '<div class="scroll"><table><thead><tr><th>week_start</th><th class="n">leads_total</th>'
                '<th class="n">limbo_no_identity</th><th class="n">limbo_no_driver</th><th class="n">limbo_no_trips_14d</th>'
                '<th class="n">limbo_trips_no_claim</th><th class="n">limbo_ok</th></tr></thead><tbody>'
             || (SELECT string_agg(format('<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>'
                                          '<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                                          ct4._html(to_char(u.wk, 'YYYY-MM-DD')), ct4._html(u.total::text),
                                          ct4._html(u.a::text), ct4._html(u.b::text), ct4._html(u.c::text),
                                          ct4._html(u.d::text), ct4._html(u.e::text)), '' ORDER BY u.wk DESC)
                   FROM unnest(ws, tot, ni, nd, nt, tnc, ok) u(wk, total, a, b, c, d, e))
             || '</tbody></table></div>';
    END IF;
    page := page || '</section>';

    -- The three trends of seed 002, each with its latest value and change.
    page := page || '<section id="trends"><h2>Trends</h2>';
    IF n = 0 THEN
        page := page || '<p class="empty">No weekly data yet.</p>';
    ELSE
        page := page || '<div class="trends">'
             || (SELECT string_agg(format('<figure><figcaption>%s</figcaption><p><span class="big">%s</span> in week %s%s</p>%s</figure>',
                                          t.label, ct4._html(t.c[n]::text), ct4._html(to_char(ws[n], 'YYYY-MM-DD')),
                                          CASE WHEN n > 1 THEN format(' (%s vs the week before)',
                                                   ct4._html(CASE WHEN t.c[n] >= t.c[n - 1] THEN '+' ELSE '' END
                                                             || (t.c[n] - t.c[n - 1])::text)) ELSE '' END,
                                          ct4._dashboard_trend(t.label, ws, t.c)), '' ORDER BY t.k)
                   FROM (VALUES (1, 'limbo_no_identity', ni), (2, 'limbo_no_driver', nd),
                                (3, 'limbo_trips_no_claim', tnc)) t(k, label, c))
             || '</div>';
    END IF;
    page := page || '</section>';

    -- The jobs (ct4.job_status) with the figures of their last run (seed
    -- 002: processed, newly_linked, errors ...) and its error, if any.
    SELECT string_agg(format('<tr><td><strong>%s</strong><br><small>%s</small></td><td>%s</td><td>%s</td>'
                             '<td><span class="badge %s">%s</span>%s</td><td>%s</td><td class="n">%s</td>'
                             '<td>%s</td><td class="n">%s</td><td class="n">%s / %s</td><td class="figs">%s</td></tr>',
                             ct4._html(s.job_name), ct4._html(j.description),
                             CASE WHEN s.enabled THEN 'yes' ELSE 'no' END, ct4._html(coalesce(s.schedule, '—')),
                             CASE WHEN s.running THEN 'neutral' WHEN s.last_status IN ('SUCCESS', 'DRY_RUN') THEN 'ok'
                                  WHEN s.last_status IN ('FAILED', 'CRASHED') THEN 'bad' ELSE 'neutral' END,
                             ct4._html(CASE WHEN s.running THEN 'RUNNING' ELSE coalesce(s.last_status, 'never run') END),
                             CASE WHEN r.error_message IS NOT NULL
                                  THEN '<br><small>' || ct4._html(coalesce(r.sqlstate || ' ', '') || left(r.error_message, 300)) || '</small>'
                                  ELSE '' END,
                             ct4._html(ct4._dashboard_time(s.last_started_at)),
                             ct4._html(coalesce(round(s.last_duration_ms::numeric, 1)::text, '—')),
                             ct4._html(ct4._dashboard_time(s.next_run_at)),
                             ct4._html(s.total_runs::text), ct4._html(s.total_failures::text),
                             ct4._html(s.consecutive_failures::text),
                             coalesce((SELECT string_agg(ct4._html(e.key) || ' <b>' || ct4._html(e.value #>> '{}') || '</b>',
                                                         '<br>' ORDER BY e.key)
                                         FROM jsonb_each(CASE WHEN jsonb_typeof(r.stats) = 'object' THEN r.stats ELSE '{}' END) e
                                        WHERE jsonb_typeof(e.value) IN ('number', 'string', 'boolean')
                                          AND e.key NOT IN ('run_id', 'status', 'duration_ms')), '—')),
                      '' ORDER BY s.job_name)
      INTO part
      FROM ct4.job_status s
      LEFT JOIN ct4.jobs j ON j.job_name = s.job_name
      LEFT JOIN ct4.job_runs r ON r.run_id = s.last_run_id;
    page := page || '<section id="jobs"><h2>Jobs</h2>'
         || coalesce('<div class="scroll"><table><thead><tr><th>Job</th><th>Enabled</th><th>Schedule</th>'
                     '<th>Last status</th><th>Last run</th><th class="n">Duration ms</th><th>Next run</th>'
                     '<th class="n">Runs</th><th class="n">Failures / in a row</th><th>Last run figures</th></tr></thead><tbody>'
                     || part || '</tbody></table></div>',
                     '<p class="empty">No job is registered in ct4.jobs.</p>')
         || '</section>';

    -- Open alerts: those of the latest evaluation, most severe first.
    SELECT string_agg(format('<tr><td><span class="badge %s">%s</span></td><td>%s</td><td>%s</td><td class="n">%s</td>'
                             '<td class="n">%s</td><td>%s</td></tr>',
                             CASE a.severity WHEN 'critical' THEN 'sev-critical' WHEN 'warning' THEN 'sev-warning'
                                             ELSE 'sev-info' END,
                             ct4._html(a.severity), ct4._html(a.rule_code), ct4._html(a.message),
                             ct4._html(a.metric_value::text), ct4._html(a.threshold::text),
                             ct4._html(ct4._dashboard_time(a.raised_at))),
                      '' ORDER BY a.ord, a.event_id)
      INTO part
      FROM (SELECT e.*, array_position(ARRAY['critical', 'warning', 'info'], e.severity) AS ord
              FROM ct4.alert_events e WHERE e.resolved_at IS NULL) a;
    page := page || '<section id="alerts"><h2>Open alerts</h2>'
         || coalesce('<div class="scroll"><table><thead><tr><th>Severity</th><th>Rule</th><th>Message</th>'
                     '<th class="n">Value</th><th class="n">Threshold</th><th>Raised</th></tr></thead><tbody>'
                     || part || '</tbody></table></div>',
                     '<p class="empty">No open alert.</p>')
         || '</section>';

    page := page || '<section id="crm"><h2>CRM daily report</h2>' || ct4._dashboard_crm() || '</section>';
    RETURN page || '</main></body></html>' || E'\n';
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._html(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._svg_num(numeric)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_bars(date[], integer[], integer[], integer[], integer[], integer[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_trend(text, date[], integer[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_time(timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_css()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_crm()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.dashboard_html(integer)', 'EXECUTE');
