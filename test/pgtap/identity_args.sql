-- Bad input to every parameter of ct4.reconcile_leads_pipeline: SQLSTATE
-- 22023 with a message naming the argument; nothing is recorded.
BEGIN;
SELECT plan(15);
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(days_back => NULL)$$, '%days_back%', 'NULL days_back');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(days_back => NULL)$$, '22023', NULL, 'NULL days_back is 22023');
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(row_limit => NULL)$$, '%row_limit%', 'NULL row_limit');
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(process_recent => NULL)$$, '%process_recent%', 'NULL process_recent');
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(process_limbo => NULL)$$, '%process_limbo%', 'NULL process_limbo');
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(limbo_stages => NULL)$$, '%limbo_stages%', 'NULL limbo_stages');
SELECT throws_like($$SELECT * FROM ct4.reconcile_leads_pipeline(dry_run => NULL)$$, '%dry_run%', 'NULL dry_run');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(days_back => -1)$$, '22023', 'days_back must be between 0 and 36500 (got -1)', 'days_back below 0');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(days_back => 36501)$$, '22023', 'days_back must be between 0 and 36500 (got 36501)', 'days_back above 36500');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(row_limit => 0)$$, '22023', 'row_limit must be between 1 and 100000000 (got 0)', 'row_limit below 1');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(row_limit => 100000001)$$, '22023', 'row_limit must be between 1 and 100000000 (got 100000001)', 'row_limit above 100000000');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(limbo_stages => '{NO_IDENTITY,OK}')$$, '22023', 'limbo_stages contains an unknown stage "OK"', 'unknown limbo stage');
SELECT throws_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(limbo_stages => '{NO_DRIVER,NULL}')$$, '22023', 'limbo_stages must not contain NULL elements', 'NULL limbo stage');
SELECT lives_ok($$SELECT * FROM ct4.reconcile_leads_pipeline(days_back => 0, row_limit => 1, limbo_stages => '{}')$$, 'edge values are accepted');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE status <> 'SUCCESS'), 0::bigint, 'rejected calls leave no run record');
SELECT * FROM finish();
ROLLBACK;
