-- Data model of SPEC 2: tables, keys and the dump registration.
BEGIN;
SELECT plan(13);
SELECT has_table('raw', 'module_ct_cabinet_leads', 'raw leads table');
SELECT has_table('raw', 'drivers', 'raw drivers table');
SELECT has_table('raw', 'summary_daily', 'raw daily trips table');
SELECT has_table('raw', 'claim_payments', 'raw payments table');
SELECT has_table('canon', 'persons', 'persons');
SELECT has_table('canon', 'identity_links', 'identity links');
SELECT has_table('canon', 'identity_unmatched', 'unmatched evidence');
SELECT has_table('ops', 'cabinet_claims_14d', 'claims ledger');
SELECT col_is_pk('canon', 'identity_links', ARRAY['source_table', 'source_pk'], 'a source row links to at most one person (C0.1)');
SELECT col_is_pk('canon', 'identity_unmatched', ARRAY['source_table', 'source_pk', 'snapshot_date'], 'one unmatched row per row and day');
SELECT throws_ok($$INSERT INTO raw.summary_daily VALUES ('d', '2026-01-01', -1)$$, '23514', NULL, 'negative trip counts are rejected');
-- Every table of the extension that holds data is dumped by pg_dump.
SELECT is(
    (SELECT array_agg(c.relname::text ORDER BY c.relname)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('raw', 'canon', 'ops', 'ct4') AND c.relkind IN ('r', 'S')
        AND c.oid NOT IN (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'ct4_jobs')),
    NULL, 'every table and sequence is registered with pg_extension_config_dump');
-- No test code in the product: the self-tests are the test-only extension
-- ct4_jobs_selftest (test/selftest/), which `make install` does not ship.
SELECT is((SELECT array_agg(p.oid::regprocedure::text) FROM pg_proc p
            WHERE p.pronamespace = 'ct4'::regnamespace AND p.proname LIKE '%selftest%'),
          NULL, 'ct4_jobs installs no self-test function');
SELECT * FROM finish();
ROLLBACK;
