-- SPEC 12: ct4.dashboard_html(weeks) — arguments, empty states, the CRM
-- section's three states, escaping of hostile text, a READ ONLY
-- transaction, and who may call it (the README's roles as LOGIN users).
-- Not inside BEGIN: the roles connect through dblink and must see
-- committed data.
\ir ../fixtures/readme_roles.sql
SELECT plan(20);

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
SELECT matches(ct4.dashboard_html(),
               CASE WHEN to_regclass('crm.daily_reports') IS NULL THEN 'The CRM is not installed in this database\.'
                    ELSE 'No daily report yet' END,
               'CRM without a report (or not installed): its empty state');
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
DO $$
BEGIN   -- the CRM not installed: hide its table for one statement's sake
    ALTER TABLE crm.daily_reports RENAME TO daily_reports_hidden;
END $$;
SELECT matches(ct4.dashboard_html(), 'The CRM is not installed in this database\.', 'no crm.daily_reports: that empty state');
ALTER TABLE crm.daily_reports_hidden RENAME TO daily_reports;

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
