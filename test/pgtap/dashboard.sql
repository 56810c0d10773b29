-- SPEC 12: ct4.dashboard_html(weeks) — arguments, empty states, the CRM
-- section (empty, a fixed report, the crm_daily_report job's report), escaping of hostile text, a READ ONLY
-- transaction, and who may call it (the README's roles as LOGIN users).
-- Not inside BEGIN: the roles connect through dblink and must see
-- committed data.
\ir ../fixtures/readme_roles.sql
SELECT plan(22);

-- 1. Arguments.
SELECT throws_ok('SELECT ct4.dashboard_html(0)', '22023', 'weeks must be between 1 and 520 (got 0)', 'weeks 0 -> 22023');
SELECT throws_ok('SELECT ct4.dashboard_html(-3)', '22023', 'weeks must be between 1 and 520 (got -3)', 'weeks -3 -> 22023');
SELECT throws_ok('SELECT ct4.dashboard_html(521)', '22023', 'weeks must be between 1 and 520 (got 521)', 'weeks 521 -> 22023');
SELECT throws_ok('SELECT ct4.dashboard_html(NULL)', '22023', 'weeks must be between 1 and 520 (got NULL)', 'weeks NULL -> 22023');
SELECT lives_ok('SELECT ct4.dashboard_html(1)', 'weeks 1 works');
SELECT lives_ok('SELECT ct4.dashboard_html(520)', 'weeks 520 works');

-- 2. A fresh install: the page with its empty states, not an error.
SELECT matches(ct4.dashboard_html(), '^<!DOCTYPE html><html lang="en">.*</html>\n$', 'one HTML5 document');
SELECT matches(ct4.dashboard_html(), 'No lead with a lead_date yet', 'no lead: the chart''s empty state');
SELECT matches(ct4.dashboard_html(), 'No open alert\.', 'no alert: its empty state');
SELECT matches(ct4.dashboard_html(), 'No daily report yet', 'the CRM without a report: its empty state');
SELECT matches(ct4.dashboard_html(), '<td><strong>reconcile_leads_pipeline</strong>.*never run',
               'jobs that never ran are listed as such');

-- 3. The fixture: numbers, CRM report, hostile text as text.
\i test/fixtures/dashboard_data.sql
SELECT matches(ct4.dashboard_html(),
               '<tr><td>2026-01-05</td><td class="n">6</td><td class="n">2</td><td class="n">1</td><td class="n">1</td><td class="n">1</td><td class="n">1</td></tr>',
               'a week''s row holds the weekly view''s numbers in its columns');
SELECT matches(ct4.dashboard_html(), '<td>&lt;script&gt;alert\(1\)&lt;/script&gt;</td>',
               'a seller named <script>alert(1)</script> is text');
SELECT matches(ct4.dashboard_html(), 'Files claims &lt;script&gt;alert\(1\)&lt;/script&gt; &amp; more',
               'a job description with <script> is text');
SELECT ok(ct4.dashboard_html() !~* '<script|<img|<[^>]*\son[a-z]+\s*=', 'no script, image or event handler in the page');
-- The CRM's own report (crm_daily_report on the CRM's demo data) is the one shown.
SELECT ok(count(*) > 0, 'CRM demo data') FROM ct4.generate_crm_demo_data(6, 7);
CREATE TEMP TABLE crm_report AS SELECT r.report FROM ct4.crm_daily_report(current_date - 1) r;
SELECT ok(strpos(ct4.dashboard_html(),
                 format('<div><dt>total conversations</dt><dd>%s</dd></div><div><dt>new leads</dt><dd>%s</dd></div>',
                        ct4._html(report #>> '{team_performance,total_conversations}'),
                        ct4._html(report #>> '{team_performance,new_leads}'))) > 0
          AND strpos(ct4.dashboard_html(), format('Report of %s,', current_date - 1)) > 0,
          'the page shows the latest report of crm_daily_report with its team figures')
  FROM crm_report;
SELECT is((SELECT count(*) FROM crm_report r, jsonb_array_elements(r.report -> 'top_performers') p
            WHERE strpos(ct4.dashboard_html(), format('<td>%s</td><td class="n">%s</td>', ct4._html(p ->> 'seller'),
                                                      ct4._html(p ->> 'seller_id'))) > 0),
          (SELECT count(*) FROM crm_report r, jsonb_array_elements(r.report -> 'top_performers') p),
          '... and each of its top performers');

-- 4. Who may call it, and how.
SELECT pg_temp.login('reader', 't12_reader');
SELECT pg_temp.login('nobody', 't12_nobody');
CREATE FUNCTION pg_temp.masked(html text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(html, 'generated [0-9-]+ [0-9:]+ UTC', 'generated (now)')
$$;
SELECT is(pg_temp.masked(pg_temp.q('reader', 'SELECT ct4.dashboard_html()')), pg_temp.masked(ct4.dashboard_html()),
          'the reader''s page is the superuser''s');
SELECT throws_ok($$SELECT pg_temp.q('nobody', 'SELECT ct4.dashboard_html()')$$, '42501', NULL,
                 'a role without a tier cannot call it');
SELECT dblink_exec('reader', 'SET default_transaction_read_only = on');
SELECT matches(pg_temp.q('reader', 'SELECT ct4.dashboard_html()'), '2026-01-05', 'it works in a READ ONLY transaction');
SELECT ok(NOT has_function_privilege('public', 'ct4.dashboard_html(integer)', 'EXECUTE'), 'PUBLIC cannot execute it');

SELECT * FROM finish();
\ir ../fixtures/readme_roles_drop.sql
