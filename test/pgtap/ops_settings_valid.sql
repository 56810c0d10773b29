-- Issue 12 point 3 (SPEC 6): settings and schedules are validated when
-- written: a value of the wrong type or out of range is 22023 naming the
-- setting (or the schedule row) and saying what is allowed, whoever writes
-- it; the rules are data (one row per setting). The README's operator
-- changes values only. Not inside BEGIN (dblink); undone at the end.
\ir ../fixtures/readme_roles.sql
SELECT plan(20);

-- The issue's values, as the superuser.
SELECT throws_ok($$UPDATE ct4.settings SET value = 'abc' WHERE name = 'link_threshold'$$, '22023',
                 'setting "link_threshold" must be a number from 1 to 100 (got ''abc'')', 'link_threshold = ''abc''');
SELECT throws_ok($$UPDATE ct4.settings SET value = '-5' WHERE name = 'link_threshold'$$, '22023',
                 'setting "link_threshold" must be a number from 1 to 100 (got ''-5'')', 'link_threshold = ''-5''');
SELECT throws_ok($$UPDATE ct4.settings SET value = '7' WHERE name = 'name_similarity_min'$$, '22023',
                 'setting "name_similarity_min" must be a number from 0 to 1 (got ''7'')', 'name_similarity_min = ''7''');
SELECT throws_ok($$UPDATE ct4.settings SET value = '-3' WHERE name = 'window_days'$$, '22023',
                 'setting "window_days" must be an integer from 1 to 365 (got ''-3'')', 'window_days = ''-3''');
SELECT throws_ok($$UPDATE ct4.settings SET value = '14.5' WHERE name = 'window_days'$$, '22023', NULL, 'window_days = ''14.5'': not an integer');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'NaN' WHERE name = 'score_license'$$, '22023', NULL, 'score_license = ''NaN''');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'a month or so' WHERE name = 'history_keep'$$, '22023',
                 'setting "history_keep" must be an interval from 0 seconds to 100 years (got ''a month or so'')', 'history_keep: not an interval');
SELECT lives_ok($$UPDATE ct4.settings SET value = '0.9' WHERE name = 'name_similarity_min'$$, 'a value in range is accepted');
SELECT is((SELECT value FROM ct4.settings WHERE name = 'window_days'), '14', 'a refused value leaves the old one');

-- Every setting has a type; the rules are data: a new setting is one row.
SELECT is((SELECT count(*) FROM ct4.settings WHERE value_type IS NULL OR NOT ct4._setting_valid(settings)), 0::bigint,
          'every shipped setting has a type and a valid default');
INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value)
VALUES ('t12_ratio', '0.5', 'test setting', 'numeric', '0', '1');
SELECT throws_ok($$UPDATE ct4.settings SET value = '1.5' WHERE name = 't12_ratio'$$, '22023',
                 'setting "t12_ratio" must be a number from 0 to 1 (got ''1.5'')', 'a new setting is validated by its own row');
SELECT throws_ok($$INSERT INTO ct4.settings (name, value) VALUES ('t12_untyped', 'x')$$, '22023',
                 'setting "t12_untyped" has no value_type: it is not a setting of the extension', 'a setting without a type is refused');
DELETE FROM ct4.settings WHERE name = 't12_ratio';

-- The README's operator: the same refusal; values only.
SELECT pg_temp.login('op', 't12_operator');
SELECT throws_ok($$SELECT dblink_exec('op', 'UPDATE ct4.settings SET value = ''abc'' WHERE name = ''link_threshold''')$$,
                 '22023', NULL, 'operator: link_threshold = ''abc'' refused');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.settings SET value = ''4'' WHERE name = ''link_threshold''')$$,
                'operator: link_threshold = ''4'' accepted');
SELECT throws_ok($$SELECT dblink_exec('op', 'UPDATE ct4.settings SET max_value = ''1000'' WHERE name = ''link_threshold''')$$,
                 '42501', NULL, 'operator: a setting''s range is not the operator''s');
UPDATE ct4.settings SET value = '3' WHERE name = 'link_threshold';
UPDATE ct4.settings SET value = '0.85' WHERE name = 'name_similarity_min';

-- Schedules: a line pg_cron would refuse or never fire as written.
SELECT throws_ok($$UPDATE ct4.job_schedules SET schedule = '61 * * * *' WHERE profile = 'production' AND job_name = 'check_limbo_alerts'$$,
                 '22023', 'job_schedules.schedule of profile production job check_limbo_alerts: ''61 * * * *'' is not a valid schedule: cron field ''minute'' ("61"): value 61 is out of range 0-59',
                 'schedule ''61 * * * *'' refused, naming the row and the field');
SELECT throws_ok($$UPDATE ct4.job_schedules SET schedule = '5-1 * * * *' WHERE profile = 'production' AND job_name = 'check_limbo_alerts'$$,
                 '22023', NULL, 'a reversed range (never fires) is refused');
SELECT throws_ok($$UPDATE ct4.schedule_profiles SET maintenance = 'every 5 minutes' WHERE profile = 'production'$$,
                 '22023', NULL, 'a profile''s maintenance schedule is validated too');
SELECT throws_ok($$SELECT dblink_exec('op', 'INSERT INTO ct4.job_schedules (profile, job_name, schedule) VALUES (''staging'', ''check_limbo_alerts'', ''* 25 * * *'')')$$,
                 '22023', NULL, 'operator: an invalid schedule row is refused');
SELECT lives_ok($$SELECT dblink_exec('op', 'UPDATE ct4.job_schedules SET schedule = ''40 2 * * *'' WHERE profile = ''production'' AND job_name = ''check_limbo_alerts''')$$,
                'operator: a valid schedule is accepted');
UPDATE ct4.job_schedules SET schedule = '35 2 * * *' WHERE profile = 'production' AND job_name = 'check_limbo_alerts';

\ir ../fixtures/readme_roles_drop.sql
SELECT * FROM finish();
