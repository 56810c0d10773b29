-- Issue 12 point 4 (SPEC 6), in the pg_cron database: DROP EXTENSION ct4_jobs
-- refuses while raw, canon, ops or crm hold rows, saying how to proceed (back
-- up, then SET ct4.allow_drop = on); the confirmed drop removes every ct4:
-- pg_cron entry. Other extensions drop as before. Everything runs in one
-- transaction that is rolled back (DROP EXTENSION is transactional), so the
-- database keeps its extension for the next test file.
BEGIN;
SELECT plan(11);
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;

SELECT cmp_ok((SELECT count(*) FROM ct4.schedule('production', 'America/Lima')), '>=', 4::bigint, 'scheduled: the ct4: entries');
CREATE TEMP TABLE n_entries AS SELECT count(*) AS n FROM cron.job WHERE jobname LIKE 'ct4:%';
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D-drop', 'Ana Perez', '987654321');

SELECT throws_ok('DROP EXTENSION ct4_jobs', '2BP01',
                 'DROP EXTENSION ct4_jobs refused: it would delete the data of 1 table(s) of raw, canon, ops and crm',
                 'DROP EXTENSION refuses while raw holds rows');
SELECT throws_ok('DROP EXTENSION ct4_jobs CASCADE', '2BP01', NULL, '... CASCADE too');
SELECT throws_ok('DROP EXTENSION IF EXISTS pgtap_not_here, ct4_jobs', '2BP01', NULL, '... and in a list of extensions');
SELECT matches(pg_temp.hint_of('DROP EXTENSION ct4_jobs'), '^Back up first: pg_dump -Fc .*SET ct4.allow_drop = on; DROP EXTENSION ct4_jobs;$',
               'the refusal says what to do: back up with pg_dump, then SET ct4.allow_drop = on');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'ct4:%'), (SELECT n FROM n_entries), 'a refused drop leaves the entries');
SELECT ok(to_regnamespace('raw') IS NOT NULL AND EXISTS (SELECT 1 FROM raw.drivers), '... and the data');

-- Another extension is not ct4_jobs: it drops as before.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
SELECT lives_ok('DROP EXTENSION "uuid-ossp"', 'another extension drops although ct4 holds data');

-- Confirmed: the drop goes through and takes its pg_cron entries with it.
SET LOCAL ct4.allow_drop = on;
SELECT lives_ok('DROP EXTENSION ct4_jobs', 'with ct4.allow_drop = on the drop goes through');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'ct4:%'), 0::bigint, 'no ct4: pg_cron entry is left');
SELECT ok(to_regnamespace('raw') IS NULL AND to_regnamespace('ct4') IS NULL, 'the extension''s schemas are gone');

SELECT * FROM finish();
ROLLBACK;
