-- ct4.reconcile_claims_14d on generated data: arguments, dry run,
-- idempotence, ledger uniqueness, no overlap, and every filed claim checked
-- against an independent SQL computation of its window.
BEGIN;
SELECT plan(30);
SET LOCAL client_min_messages = warning;

-- Deterministic generated data: 200 drivers, 260 persons, 400 leads over
-- 45 days (NULL dates, unlinked leads, persons without driver, several
-- leads per person), random daily trips, and a few hand-filed claims.
SELECT setseed(0.42);
INSERT INTO raw.drivers (driver_id) SELECT 'g' || i FROM generate_series(1, 200) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 260) i;
INSERT INTO canon.identity_links
SELECT 'drivers', 'g' || i, i, 'TEST', NULL, '{}', now(), 0 FROM generate_series(1, 200) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
SELECT i, CASE WHEN i % 29 = 0 THEN NULL ELSE current_date - (random() * 45)::int END
  FROM generate_series(1, 400) i;
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', i::text, (i % 260) + 1, 'TEST', NULL, '{}', now(), 0
  FROM generate_series(1, 400) i WHERE i % 17 <> 0;
INSERT INTO raw.summary_daily
SELECT 'g' || d, current_date - k, (random() * 6)::int
  FROM generate_series(1, 200) d, generate_series(0, 60) k WHERE random() < 0.3;
\set hand_filed_every 7
\i test/fixtures/claims_filed_by_hand.sql

-- No overlap: while another session holds the job's lock, a call returns
-- SKIPPED_LOCKED (first: later runs in this transaction keep the xact lock).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT is(dblink_connect('other', format('host=%s port=%s dbname=%s user=%s',
       split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
       current_database(), current_user)), 'OK', 'a second session');
SELECT dblink_exec('other', 'BEGIN');
SELECT is((SELECT x FROM dblink('other', $$SELECT ct4._job_lock('reconcile_claims_14d', false)::text$$) AS t(x text)),
          'true', 'the second session holds the job lock');
CREATE TEMP TABLE locked AS SELECT * FROM ct4.reconcile_claims_14d(30, 100000, true, true);
SELECT is((SELECT status FROM locked), 'SKIPPED_LOCKED', 'a second run does not wait: SKIPPED_LOCKED');
SELECT is((SELECT status FROM ct4.job_runs WHERE run_id = (SELECT run_id FROM locked)), 'SKIPPED_LOCKED',
          'SKIPPED_LOCKED is in the history');
-- Released before the disconnect: a backend drops its locks only when it
-- has exited, which may be after dblink_disconnect returns.
SELECT is(dblink_exec('other', 'ROLLBACK'), 'ROLLBACK', 'the second session releases the job lock');
SELECT is(dblink_disconnect('other'), 'OK', 'the second session ends');
SELECT is((SELECT status FROM ct4.reconcile_claims_14d(30, 100000, true, true)), 'DRY_RUN', 'runs again once the lock is gone');


-- Bad arguments: 22023 naming the argument.
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(NULL)', '22023', 'days_back must not be NULL', 'NULL days_back');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(21, NULL)', '22023', 'row_limit must not be NULL', 'NULL row_limit');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(21, 5, NULL)', '22023', 'only_gaps must not be NULL', 'NULL only_gaps');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(21, 5, true, NULL)', '22023', 'dry_run must not be NULL', 'NULL dry_run');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(-1)', '22023', 'days_back must be between 0 and 36500 (got -1)', 'days_back < 0');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(36501)', '22023', 'days_back must be between 0 and 36500 (got 36501)', 'days_back > 36500');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(21, 0)', '22023', 'row_limit must be between 1 and 100000000 (got 0)', 'row_limit < 1');
SELECT throws_ok('SELECT * FROM ct4.reconcile_claims_14d(21, 100000001)', '22023', 'row_limit must be between 1 and 100000000 (got 100000001)', 'row_limit too big');

-- dry_run writes nothing but its run record.
CREATE TEMP TABLE before AS SELECT * FROM ops.cabinet_claims_14d;
CREATE TEMP TABLE dry AS SELECT * FROM ct4.reconcile_claims_14d(30, 100000, true, true);
SELECT is((SELECT status FROM dry), 'DRY_RUN', 'dry run says DRY_RUN');
SELECT ok((SELECT claims_should_exist FROM dry) > 10, 'the generated data has gaps to file');
SELECT is((SELECT claims_created FROM dry), 0, 'dry run files nothing');
SELECT set_eq('SELECT claim_id FROM ops.cabinet_claims_14d', 'SELECT claim_id FROM before', 'dry run leaves the ledger unchanged');
SELECT is((SELECT status FROM ct4.job_runs WHERE run_id = (SELECT run_id FROM dry)), 'DRY_RUN', 'dry run is recorded');

-- row_limit caps the gaps filed, oldest first.
CREATE TEMP TABLE small AS SELECT * FROM ct4.reconcile_claims_14d(30, 3);
SELECT ok((SELECT claims_created <= 3 AND gaps_found <= 3 FROM small), 'row_limit caps the gaps');

-- The real run files what the dry run said; the rerun files nothing.
CREATE TEMP TABLE run1 AS SELECT * FROM ct4.reconcile_claims_14d(30, 100000);
SELECT is((SELECT claims_created FROM run1) + (SELECT claims_created FROM small),
          (SELECT claims_should_exist FROM dry), 'the run files every gap the dry run found');
CREATE TEMP TABLE run2 AS SELECT * FROM ct4.reconcile_claims_14d(30, 100000);
SELECT is((SELECT claims_created FROM run2), 0, 'a rerun files nothing (idempotent)');
SELECT is((SELECT claims_should_exist FROM run2), 0, 'a rerun finds no gap to file');
SELECT is((SELECT claims_already_exist FROM run2), (SELECT claims_already_exist + claims_created FROM run1),
          'the rerun sees the filed claims as existing');
SELECT is((SELECT count(*)::int FROM ct4.claims_gap_report(30, 100000) WHERE decision = 'CREATE'), 0,
          'the report agrees: nothing left to create');

-- The ledger holds each (driver, milestone) once.
SELECT is((SELECT count(*) FROM (SELECT driver_id, milestone_value FROM ops.cabinet_claims_14d
                                   GROUP BY 1, 2 HAVING count(*) > 1) d), 0::bigint, 'no duplicate claim');
SELECT throws_ok($$INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value,
       amount, trips_in_window, achieved_date, window_end, evidence, run_id)
       SELECT driver_id, person_key, lead_id, lead_date, milestone_value, amount, trips_in_window,
              achieved_date, window_end, evidence, run_id FROM ops.cabinet_claims_14d LIMIT 1$$,
       '23505', NULL, 'the ledger rejects a second claim of a driver milestone');

-- Every filed claim agrees with a plain-SQL computation of its window.
SELECT is((SELECT count(*) FROM ops.cabinet_claims_14d c
            WHERE c.run_id IN (SELECT run_id FROM run1 UNION SELECT run_id FROM small)
              AND (c.window_end <> c.lead_date + 13
                   OR c.trips_in_window <> (SELECT sum(s.count_orders_completed) FROM raw.summary_daily s
                                             WHERE s.driver_id = c.driver_id
                                               AND s.trip_date >= c.lead_date AND s.trip_date < c.lead_date + 14)
                   OR (SELECT sum(s.count_orders_completed) FROM raw.summary_daily s
                        WHERE s.driver_id = c.driver_id AND s.trip_date >= c.lead_date
                          AND s.trip_date <= c.achieved_date) < (SELECT trips_required FROM ct4.milestones m WHERE m.milestone_value = c.milestone_value)
                   OR (SELECT coalesce(sum(s.count_orders_completed), 0) FROM raw.summary_daily s
                        WHERE s.driver_id = c.driver_id AND s.trip_date >= c.lead_date
                          AND s.trip_date < c.achieved_date) >= (SELECT trips_required FROM ct4.milestones m WHERE m.milestone_value = c.milestone_value)
                   OR (c.evidence->>'lead_id')::bigint <> c.lead_id)), 0::bigint,
          'trips_in_window, achieved_date and evidence of every filed claim are right');
-- ... and no earlier lead of the driver achieved it.
SELECT is((SELECT count(*) FROM ops.cabinet_claims_14d c
             JOIN canon.identity_links ll ON ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = c.person_key
             JOIN raw.module_ct_cabinet_leads e ON e.lead_id = ll.source_pk::bigint
            WHERE c.run_id IN (SELECT run_id FROM run1 UNION SELECT run_id FROM small)
              AND (e.lead_date, e.lead_id) < (c.lead_date, c.lead_id)
              AND (SELECT coalesce(sum(s.count_orders_completed), 0) FROM raw.summary_daily s
                    WHERE s.driver_id = c.driver_id AND s.trip_date >= e.lead_date AND s.trip_date < e.lead_date + 14)
                  >= (SELECT trips_required FROM ct4.milestones m WHERE m.milestone_value = c.milestone_value)),
          0::bigint, 'each claim went to the earliest eligible lead');

SELECT * FROM finish();
ROLLBACK;
