-- Writers and the claims cache (schema/210_claims_cache.sql,
-- ct4._claims_cache_active): without a cache the triggers mark nothing, and
-- a rebuild still sees a writer that skipped its marks; an incremental run
-- never brings back a cache that was dropped while it ran.
-- Not inside BEGIN: the other connections (dblink) must see committed data.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT plan(11);
SET client_min_messages = warning;

-- d1 (person 1): 3 trips on day -5, lead 1 (day -5) not linked yet.
-- d2 (person 2): 2 trips on day -4, lead 2 (day -4) linked later.
INSERT INTO raw.drivers (driver_id) VALUES ('d1'), ('d2');
INSERT INTO canon.persons (person_key) VALUES (1), (2);
INSERT INTO canon.identity_links
SELECT 'drivers', 'd' || i, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 2) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
VALUES (1, current_date - 5), (2, current_date - 4);
INSERT INTO raw.summary_daily VALUES ('d1', current_date - 5, 3), ('d2', current_date - 4, 2);

\i test/fixtures/dblink_sessions.sql

-- 1. No cache yet: the triggers mark nothing.
SELECT is((SELECT count(*) FROM ops.claims_dirty_leads) + (SELECT count(*) FROM ops.claims_dirty_drivers),
          0::bigint, 'without a cache, new leads, links and trips are not marked');

-- 2. A writer links lead 1 and has not committed when the first (rebuilding)
-- claims run starts: the run waits for it and then files lead 1's claim.
CREATE TEMP TABLE pids AS SELECT pg_temp.connect('w') AS w, pg_temp.connect('c') AS c;
SELECT dblink_exec('w', 'BEGIN');
SELECT dblink_exec('w', $$INSERT INTO canon.identity_links
    VALUES ('module_ct_cabinet_leads', '1', 1, 'TEST', NULL, '{}', now(), 0)$$);
SELECT is((SELECT n FROM dblink('w', 'SELECT count(*) FROM ops.claims_dirty_leads') AS t(n bigint)),
          0::bigint, 'the writer skipped its marks (no cache)');
SELECT dblink_send_query('c', 'SELECT claims_created FROM ct4.reconcile_claims_14d(21, 1000)');
SELECT ok(pg_temp.waits(c, 'relation', 'ops.claims_cache_lock'), 'the rebuilding run waits for the writer') FROM pids;
SELECT dblink_exec('w', 'COMMIT');
SELECT is((SELECT n FROM dblink_get_result('c') AS t(n integer)), 1,
          'after the writer commits, the run files the claim of the lead it linked');
SELECT * FROM dblink_get_result('c') AS t(n integer);   -- the end of the async query
SELECT is((SELECT string_agg(driver_id || ':' || milestone_value || '/' || lead_id, ' ')
             FROM ops.cabinet_claims_14d), 'd1:1/1', 'the ledger');
SELECT ok(EXISTS (SELECT 1 FROM ops.claims_cache_meta), 'the run built the cache');

-- 3. With a cache, a writer marks what it changed and the next run uses it.
INSERT INTO canon.identity_links VALUES ('module_ct_cabinet_leads', '2', 2, 'TEST', NULL, '{}', now(), 0);
SELECT is((SELECT array_agg(lead_id) FROM ops.claims_dirty_leads), '{2}'::bigint[],
          'with a cache, the new link marks its lead');
SELECT is((SELECT claims_created FROM ct4.reconcile_claims_14d(21, 1000)), 1,
          'the incremental run files the claim of the newly linked lead');

-- 4. The cache is dropped while an incremental run is between its decisions
-- and its writes (this session holds the states' table): the run does not
-- bring the meta row back, so the next run rebuilds.
INSERT INTO raw.summary_daily VALUES ('d1', current_date - 3, 1);   -- d1 dirty: its state is rewritten
BEGIN;
LOCK TABLE ops.claims_driver_state IN EXCLUSIVE MODE;
SELECT dblink_send_query('c', 'SELECT status FROM ct4.reconcile_claims_14d(21, 1000)');
SELECT ok(pg_temp.waits(c, 'relation'), 'the incremental run waits to write its states') FROM pids;
DELETE FROM ops.claims_cache_meta;   -- what a settings change does
COMMIT;
SELECT is((SELECT s FROM dblink_get_result('c') AS t(s text)), 'SUCCESS', 'the run succeeds');
SELECT * FROM dblink_get_result('c') AS t(s text);
SELECT ok(NOT EXISTS (SELECT 1 FROM ops.claims_cache_meta),
          'the dropped cache stays dropped (the next run rebuilds it)');

SELECT dblink_disconnect('w');
SELECT dblink_disconnect('c');
SELECT * FROM finish();
