-- A rebuild over every lead reads the trips with one sequential scan
-- (TripScan, src/claims/claims_load.cpp) instead of a primary-key probe per
-- driver: it must decide and file exactly what the probes of the report's
-- raw path decide, with the same trips, achieved dates and evidence days.
BEGIN;
SELECT plan(5);
SET LOCAL client_min_messages = warning;

-- Generated data: 300 drivers, ids of 2-4 bytes and of more than 8 (the
-- scan compares the first 8 bytes in its table, the rest against the id),
-- leads over 60 days, several leads per person, trips over 80 days (so
-- also outside the windows), trips of 50 drivers without any lead, a few
-- hand-filed claims.
SELECT setseed(0.17);
CREATE TEMP TABLE ids AS
SELECT i, CASE WHEN i % 2 = 0 THEN 'g' || i ELSE 'long-driver-id-' || i END AS driver_id
  FROM generate_series(1, 300) i;
INSERT INTO raw.drivers (driver_id) SELECT driver_id FROM ids;
INSERT INTO raw.drivers (driver_id) SELECT 'x' || i FROM generate_series(1, 50) i;
INSERT INTO canon.persons (person_key) SELECT i FROM generate_series(1, 360) i;
INSERT INTO canon.identity_links
SELECT 'drivers', driver_id, i, 'TEST', NULL, '{}', now(), 0 FROM ids;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date)
SELECT i, CASE WHEN i % 31 = 0 THEN NULL ELSE current_date - (random() * 60)::int END
  FROM generate_series(1, 600) i;
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', i::text, (i % 360) + 1, 'TEST', NULL, '{}', now(), 0
  FROM generate_series(1, 600) i WHERE i % 19 <> 0;
INSERT INTO raw.summary_daily
SELECT d.driver_id, current_date - k, (random() * 6)::int
  FROM (SELECT driver_id FROM ids UNION ALL SELECT 'x' || i FROM generate_series(1, 50) i) d,
       generate_series(0, 80) k WHERE random() < 0.3;
\set hand_filed_every 7
\i test/fixtures/claims_filed_by_hand.sql

-- The report always reads the raw tables per batch of drivers (probes).
CREATE TEMP TABLE expected AS
SELECT driver_id, lead_id, milestone_value FROM ct4.claims_gap_report(36500, 100000000)
 WHERE decision = 'CREATE';
SELECT cmp_ok((SELECT count(*) FROM expected), '>', 100::bigint, 'the data has gaps to file');

-- No cache yet: the run rebuilds it over every lead and scans the trips.
CREATE TEMP TABLE run AS SELECT * FROM ct4.reconcile_claims_14d(36500, 100000000);
SELECT is((SELECT stats->>'trips_scanned' FROM ct4.job_runs WHERE run_id = (SELECT run_id FROM run)),
          'true', 'the rebuild read the trips with one scan');
SELECT set_eq($$SELECT driver_id, lead_id, milestone_value FROM ops.cabinet_claims_14d
                WHERE run_id = (SELECT run_id FROM run)$$,
              'SELECT driver_id, lead_id, milestone_value FROM expected',
              'it files exactly the claims the probes decide');
SELECT is((SELECT count(*) FROM ops.cabinet_claims_14d c
            WHERE c.run_id = (SELECT run_id FROM run)
              AND (c.trips_in_window <> (SELECT sum(s.count_orders_completed) FROM raw.summary_daily s
                                          WHERE s.driver_id = c.driver_id
                                            AND s.trip_date >= c.lead_date AND s.trip_date < c.lead_date + 14)
                   OR c.achieved_date IS DISTINCT FROM
                      (SELECT min(x.trip_date)
                         FROM (SELECT s.trip_date,
                                      sum(s.count_orders_completed) OVER (ORDER BY s.trip_date) AS cum
                                 FROM raw.summary_daily s
                                WHERE s.driver_id = c.driver_id
                                  AND s.trip_date >= c.lead_date AND s.trip_date < c.lead_date + 14) x
                        WHERE x.cum >= (SELECT m.trips_required FROM ct4.milestones m
                                         WHERE m.milestone_value = c.milestone_value)))),
          0::bigint, 'trips_in_window and achieved_date agree with SQL');
SELECT is((SELECT count(*) FROM ops.cabinet_claims_14d c
            WHERE c.run_id = (SELECT run_id FROM run)
              AND c.evidence->'trips_per_day' IS DISTINCT FROM
                  (SELECT coalesce(jsonb_object_agg(s.trip_date::text, s.count_orders_completed), '{}')
                     FROM raw.summary_daily s
                    WHERE s.driver_id = c.driver_id AND s.trip_date >= c.lead_date
                      AND s.trip_date <= c.achieved_date AND s.count_orders_completed > 0)),
          0::bigint, 'the evidence names the days that reached the milestone');

SELECT * FROM finish();
ROLLBACK;
