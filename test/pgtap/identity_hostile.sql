-- Hostile rows cost bounded work (SPEC 6, issue 12 point 0, issue 13): long
-- names are compared on 200 bytes, a candidate's names are bounded (8), a key
-- held by more than 50 persons finds no candidates, and statement_timeout
-- stops the identity job. No timing assertion: what is asserted is what the
-- bounds do (and that a timeout cancels).
BEGIN;
SELECT plan(13);
SET LOCAL client_min_messages = warning;

-- 1. The SQL name functions on 400 kB names: answered (it took 37 s, deaf to
-- statement_timeout, when the whole names were compared).
SET LOCAL statement_timeout = '20s';
SELECT is(ct4.name_similarity(repeat('a', 400000), repeat('b', 400000)), 0::double precision,
          'name_similarity of two 400 kB names answers (compared on 200 bytes)');
SELECT is(ct4.name_similarity(repeat('a', 400000), repeat('a', 399999) || 'b'), 1::double precision,
          'two 400 kB names alike on their first 200 bytes are alike');
SELECT is(ct4.name_tokens_agree(repeat('jose ', 80000), repeat('juan ', 80000)), false,
          'name_tokens_agree of two 400 kB names answers');
SELECT is(ct4.name_similarity('Ana', NULL), 0::double precision, 'name_similarity(text, NULL) is 0, not NULL');
RESET statement_timeout;

-- 2. 300 leads with one license and long distinct names (180 letters): one
-- person, whose names the matcher compares at most 8 of.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number)
SELECT i, current_date - 1,
       (SELECT string_agg(translate(md5(i::text || k), '0123456789', 'ghijklmnop'), ' ')
          FROM generate_series(1, 6) k),
       NULL, 'Q77777777'
  FROM generate_series(1, 300) i;
SELECT results_eq('SELECT processed, newly_linked, conflicts FROM ct4.reconcile_leads_pipeline(30, 1000)',
                  $$VALUES (300, 300, 0)$$, 'the 300 leads link (by the license)');
SELECT is((SELECT count(DISTINCT person_key) FROM canon.identity_links), 1::bigint, 'to one person');
SELECT is((SELECT count(*) FROM canon.identity_links
            WHERE (evidence->'compared'->'name'->>'names_capped')::boolean), 291::bigint,
          'the links that met more than 8 names say only 8 of the person''s names were compared');

-- 3. A phone held by 60 persons finds no candidates; it still scores.
INSERT INTO canon.persons (person_key) SELECT 1000 + i FROM generate_series(1, 60) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number)
SELECT 1000 + i, '2000-01-01', 'Ana ' || chr(65 + i % 26) || chr(65 + i / 26) || 'x Soto', '999 999 999',
       'L' || (50000000 + i)
  FROM generate_series(1, 60) i;
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', (1000 + i)::text, 1000 + i, 'NEW_PERSON', NULL, '{}', now(), 0
  FROM generate_series(1, 60) i;
DELETE FROM canon.identity_lead_state WHERE lead_id BETWEEN 1001 AND 1060;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number) VALUES
    (2001, current_date, 'Ana FAx Soto', '999999999', 'L-5000 0005'),   -- person 1005's license
    (2002, current_date, 'Rosa Vega', '999999999', NULL);               -- the shared phone only
SELECT results_eq('SELECT processed, newly_linked, conflicts FROM ct4.reconcile_leads_pipeline(30, 1000)',
                  $$VALUES (2, 1, 1)$$, 'one links, the other is a conflict');
SELECT results_eq($$SELECT person_key, match_rule FROM canon.identity_links WHERE source_pk = '2001'$$,
                  $$VALUES (1005::bigint, 'LICENSE+PHONE+NAME')$$,
                  'a lead with the shared phone links by its license (the phone still scores)');
SELECT is((SELECT evidence->'keys_over_bound' FROM canon.identity_links WHERE source_pk = '2001'),
          '[{"key": "phone", "value": "51999999999", "holders": 60, "limit": 50}]'::jsonb,
          'its evidence says the phone found no candidates');
SELECT results_eq($$SELECT reason_code, jsonb_array_length(details->'candidates'),
                           details->'keys_over_bound'->0->>'holders'
                      FROM canon.identity_unmatched WHERE source_pk = '2002'$$,
                  $$VALUES ('AMBIGUOUS', 0, '60')$$,
                  'a lead with only the shared phone: AMBIGUOUS, the bound in its details');
SELECT is((SELECT count(*) FROM canon.identity_links WHERE source_pk = '2002'), 0::bigint, 'and no new person');

-- 4. statement_timeout stops the job (interrupts are checked per lead).
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number)
SELECT 10000 + i, current_date,
       (SELECT string_agg(translate(md5(i::text || k), '0123456789', 'ghijklmnop'), ' ')
          FROM generate_series(1, 6) k),
       NULL, 'Q' || (20000000 + i % 100)
  FROM generate_series(1, 30000) i;
-- (PL/pgSQL's WHEN OTHERS, which throws_ok uses, does not catch a cancel.)
CREATE FUNCTION pg_temp.sqlstate_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
    RETURN SQLSTATE;
END $$;
SET LOCAL statement_timeout = '100ms';
SELECT is(pg_temp.sqlstate_of('SELECT * FROM ct4.reconcile_leads_pipeline(30, 100000)'), '57014',
          'statement_timeout cancels a run over 30 000 hostile leads');
RESET statement_timeout;

SELECT * FROM finish();
ROLLBACK;
