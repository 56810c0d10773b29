-- The dashboard (SPEC 12) on the fixed dataset of
-- test/fixtures/dashboard_data.sql, read as text: the page with its tags
-- turned into line breaks (style sheet left out, the generation time
-- masked), so each number shows where it stands. The data changes are
-- rolled back.
CREATE FUNCTION pg_temp.page_lines(html text) RETURNS TABLE(line text) LANGUAGE sql AS $$
    SELECT btrim(x.l) FROM regexp_split_to_table(
               regexp_replace(regexp_replace(regexp_replace(html, '<style>.*</style>', ''),
                                             'generated [0-9-]+ [0-9:]+ UTC', 'generated (now)'),
                              '<[^>]*>', E'\n', 'g'), E'\n') WITH ORDINALITY x(l, i)
     WHERE btrim(x.l) <> '' ORDER BY x.i
$$;
BEGIN;
\i test/fixtures/dashboard_data.sql
-- What the weekly view holds (the numbers the page must show).
SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start DESC;

-- The page of the latest 3 weeks: bars, numbers, trends, jobs, alerts, CRM.
SELECT * FROM pg_temp.page_lines(ct4.dashboard_html(3));
-- The default (12 weeks) shows all four weeks of the view in its table.
SELECT line FROM pg_temp.page_lines(substring(ct4.dashboard_html() FROM '<section id="weekly">.*?</section>'))
 WHERE line ~ '^\d{4}-\d{2}-\d{2}$';
-- One page; no script element, no tag with an event handler or a link to
-- anything (the hostile texts of the fixture are text).
SELECT count(*) AS pages FROM regexp_matches(ct4.dashboard_html(), '<!DOCTYPE html>', 'g');
SELECT ct4.dashboard_html() ~* '<script' AS script_element,
       ct4.dashboard_html() ~* '<[^>]*\s(on[a-z]+|src|href|xlink:href)\s*=' AS handler_or_link,
       ct4.dashboard_html() ~* '<(img|iframe|object|embed|link|a)[\s>]' AS loading_element;

-- The pure parts: escaping and the bars' geometry (one week 1+1+0+0+2).
SELECT ct4._html($$<a href="x">&'</a>$$) AS escaped, ct4._html(NULL) = '' AS null_is_empty;
SELECT ct4._dashboard_bars(ARRAY[date '2026-01-05'], ARRAY[1], ARRAY[1], ARRAY[0], ARRAY[0], ARRAY[2]);
ROLLBACK;

-- Bad weeks: 22023 naming the argument.
\set VERBOSITY default
SELECT ct4.dashboard_html(0);
SELECT ct4.dashboard_html(521);
SELECT ct4.dashboard_html(NULL);
\set VERBOSITY terse

-- Empty data: every section shows its empty state, not an error.
BEGIN;
SET client_min_messages = warning;
TRUNCATE raw.module_ct_cabinet_leads, canon.persons, canon.identity_links, ops.cabinet_claims_14d,
         ct4.job_runs, ct4.alert_events, ct4.jobs, crm.daily_reports CASCADE;
RESET client_min_messages;
SELECT * FROM pg_temp.page_lines(ct4.dashboard_html(520)) WHERE line NOT LIKE 'Database %';
ROLLBACK;
