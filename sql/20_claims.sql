-- ct4.reconcile_claims_14d on a small fixture. Dates are relative to
-- current_date (shown as day offsets) so that days_back scoping is stable.
SET client_min_messages = warning;
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments,
         canon.persons, canon.identity_links, ops.cabinet_claims_14d, ct4.job_runs,
         ct4.refresh_views RESTART IDENTITY CASCADE;

-- Links a lead to the person of a driver (made on first use), as the
-- identity job would. driver NULL: a person without driver.
CREATE FUNCTION pg_temp.link(lead bigint, driver text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE pk bigint;
BEGIN
    SELECT person_key INTO pk FROM canon.identity_links
     WHERE source_table = 'drivers' AND source_pk = driver;
    IF pk IS NULL THEN
        INSERT INTO canon.persons DEFAULT VALUES RETURNING person_key INTO pk;
        IF driver IS NOT NULL THEN
            INSERT INTO raw.drivers (driver_id) VALUES (driver);
            INSERT INTO canon.identity_links VALUES ('drivers', driver, pk, 'TEST', NULL, '{}', now(), 0);
        END IF;
    END IF;
    INSERT INTO canon.identity_links VALUES ('module_ct_cabinet_leads', lead::text, pk, 'TEST', NULL, '{}', now(), 0);
END $$;
CREATE FUNCTION pg_temp.lead(id bigint, day integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES (id, current_date + day) $$;
CREATE FUNCTION pg_temp.trips(driver text, day integer, n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO raw.summary_daily VALUES (driver, current_date + day, n) $$;

-- 101: window edges. Day 0 and day 13 count (1 + 4 = 5), day 14 does not.
SELECT pg_temp.lead(101, -20), pg_temp.link(101, 'd1');
SELECT pg_temp.trips('d1', -20, 1), pg_temp.trips('d1', -7, 4), pg_temp.trips('d1', -6, 30);
-- 102: every milestone (1 on day 0, 5 on day 2, 25 on day 5).
SELECT pg_temp.lead(102, -18), pg_temp.link(102, 'd2');
SELECT pg_temp.trips('d2', -18, 3), pg_temp.trips('d2', -16, 10), pg_temp.trips('d2', -13, 12);
-- 103 and 104: one driver, two leads. 103 reaches 1 and 5; 104's window
-- reaches 25, which 103's window never did, so 104 gets that claim.
SELECT pg_temp.lead(103, -19), pg_temp.link(103, 'd3'), pg_temp.lead(104, -10), pg_temp.link(104, 'd3');
SELECT pg_temp.trips('d3', -19, 2), pg_temp.trips('d3', -8, 3), pg_temp.trips('d3', -5, 20), pg_temp.trips('d3', -4, 5);
-- 105: NULL lead_date, linked to a driver with trips.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date) VALUES (105, NULL);
SELECT pg_temp.link(105, 'd5'), pg_temp.trips('d5', -3, 30);
-- 106: not linked to any person. 107: a person without driver.
SELECT pg_temp.lead(106, -5), pg_temp.lead(107, -5), pg_temp.link(107, NULL);
-- 108: claimed already (and paid).
SELECT pg_temp.lead(108, -15), pg_temp.link(108, 'd8'), pg_temp.trips('d8', -14, 1);
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
       trips_in_window, achieved_date, window_end, evidence, run_id)
SELECT 'd8', person_key, 108, current_date - 15, 1, 25.00, 1, current_date - 14, current_date - 2, '{}', 0
  FROM canon.identity_links WHERE source_table = 'drivers' AND source_pk = 'd8';
INSERT INTO raw.claim_payments VALUES (1, 'd8', 1, current_date - 15, 25.00, now());
-- 109 (out of scope at days_back 21) and 110: the trip is in both windows;
-- the earliest lead owns the claim although only 110 is in scope.
SELECT pg_temp.lead(109, -25), pg_temp.link(109, 'd9'), pg_temp.lead(110, -12), pg_temp.link(110, 'd9');
SELECT pg_temp.trips('d9', -12, 1);
-- 111: out of scope at days_back 21.
SELECT pg_temp.lead(111, -30), pg_temp.link(111, 'd11'), pg_temp.trips('d11', -30, 6);
-- 112 and 113: the ledger holds milestone 1 under the later lead 113
-- although 112 achieved it first: not fileable (one claim per driver).
SELECT pg_temp.lead(112, -16), pg_temp.link(112, 'd12'), pg_temp.lead(113, -14), pg_temp.link(113, 'd12');
SELECT pg_temp.trips('d12', -14, 1);
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
       trips_in_window, achieved_date, window_end, evidence, run_id)
SELECT 'd12', person_key, 113, current_date - 14, 1, 25.00, 1, current_date - 14, current_date - 1, '{}', 0
  FROM canon.identity_links WHERE source_table = 'drivers' AND source_pk = 'd12';

-- The per-gap decisions, as \copy would export them.
SELECT driver_id, lead_id, lead_date - current_date AS lead_day, milestone_value, decision, reason
  FROM ct4.claims_gap_report(21, 1000);
-- row_limit counts gaps (CREATE and INVALID), oldest first.
SELECT lead_id, milestone_value, decision FROM ct4.claims_gap_report(21, 2);

-- dry_run files nothing and says what it would do.
SELECT status, processed, gaps_found, claims_should_exist, claims_already_exist,
       invalid_conditions, claims_created, refreshed_views
  FROM ct4.reconcile_claims_14d(21, 1000, true, true);
SELECT count(*) AS ledger_rows FROM ops.cabinet_claims_14d;

-- A registered materialized view is refreshed; a bad registration is skipped.
CREATE MATERIALIZED VIEW ops.claims_per_milestone AS
    SELECT milestone_value, count(*) AS claims FROM ops.cabinet_claims_14d GROUP BY 1;
INSERT INTO ct4.refresh_views (view_name) VALUES ('ops.claims_per_milestone'), ('ops.no_such_view');

-- The real run.
SELECT status, processed, gaps_found, claims_should_exist, claims_already_exist,
       invalid_conditions, claims_created, refreshed_views
  FROM ct4.reconcile_claims_14d(21, 1000);
SELECT driver_id, lead_id, lead_date - current_date AS lead_day, milestone_value, amount,
       trips_in_window, achieved_date - lead_date AS achieved_day, window_end - lead_date AS window_end_day,
       run_id = (SELECT max(run_id) FROM ct4.job_runs) AS this_run
  FROM ops.cabinet_claims_14d ORDER BY driver_id, milestone_value;
SELECT * FROM ops.claims_per_milestone ORDER BY 1;
DELETE FROM ct4.refresh_views WHERE view_name = 'ops.no_such_view';
-- The evidence of the window-edge claim: the days that reached 5 trips
-- (day:trips/cumulative, the running sum in the object's key order).
SELECT jsonb_pretty(evidence - 'window_start' - 'window_end' - 'person_key' - 'trips_per_day') AS evidence,
       (evidence->>'window_start')::date = lead_date AS starts_at_lead,
       (evidence->>'window_end')::date = window_end AS ends_at_window_end,
       (evidence->>'person_key')::bigint = person_key AS names_person,
       (SELECT array_agg(x.d ORDER BY x.k)
          FROM (SELECT e.key AS k, e.key::date - current_date || ':' || e.value || '/'
                       || sum(e.value::int) OVER (ORDER BY e.key) AS d
                  FROM jsonb_each(evidence->'trips_per_day') e) x) AS days
  FROM ops.cabinet_claims_14d WHERE driver_id = 'd1' AND milestone_value = 5;
SELECT evidence->>'discovered_via_lead_id' AS via FROM ops.cabinet_claims_14d WHERE lead_id = 109;
-- The run record keeps the counters and the invalid conditions by reason.
SELECT job_name, status, stats - 'duration_ms' AS stats, args
  FROM ct4.job_runs ORDER BY run_id;

-- Idempotent: a rerun files nothing, and the invalid gaps the first run
-- reported (inputs unchanged) are not counted again (SPEC 4.3 amended).
SELECT status, processed, gaps_found, claims_should_exist, claims_already_exist,
       invalid_conditions, claims_created
  FROM ct4.reconcile_claims_14d(21, 1000);
SELECT decision, reason, count(*) FROM ct4.claims_gap_report(21, 1000) GROUP BY 1, 2 ORDER BY 1, 2;

-- A wider scope reaches lead 111.
SELECT claims_created FROM ct4.reconcile_claims_14d(40, 1000);

-- Trips corrected later: d2's day-5 row was wrong. only_gaps = false
-- reports the claim that no longer holds; nothing is deleted.
DELETE FROM raw.summary_daily WHERE driver_id = 'd2' AND trip_date = current_date - 13;
SELECT status, processed, claims_already_exist, claims_created
  FROM ct4.reconcile_claims_14d(21, 1000, false);
SELECT stats->'stale_claims' AS stale, jsonb_path_query_array(stats, '$.stale_claims_listed[*].reason') AS reasons,
       jsonb_path_query_array(stats, '$.stale_claims_listed[*].lead_id') AS leads
  FROM ct4.job_runs ORDER BY run_id DESC LIMIT 1;
SELECT lead_id, milestone_value, decision, reason FROM ct4.claims_gap_report(21, 1000)
 WHERE reason LIKE 'STALE%';
SELECT count(*) AS ledger_rows FROM ops.cabinet_claims_14d;

-- Bad arguments: 22023 naming the argument.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ' ' || msg;
END $$;
SELECT pg_temp.try(q) FROM unnest(ARRAY[
    'SELECT * FROM ct4.reconcile_claims_14d(NULL)',
    'SELECT * FROM ct4.reconcile_claims_14d(21, NULL)',
    'SELECT * FROM ct4.reconcile_claims_14d(21, 10, NULL)',
    'SELECT * FROM ct4.reconcile_claims_14d(21, 10, true, NULL)',
    'SELECT * FROM ct4.reconcile_claims_14d(-1)',
    'SELECT * FROM ct4.reconcile_claims_14d(36501)',
    'SELECT * FROM ct4.reconcile_claims_14d(21, 0)',
    'SELECT * FROM ct4.reconcile_claims_14d(21, 100000001)',
    'SELECT * FROM ct4.claims_gap_report(NULL, 5)',
    'SELECT * FROM ct4.claims_gap_report(21, 0)',
    'SELECT * FROM ct4.reconcile_claims_14d(0, 1, true, true)',
    'SELECT * FROM ct4.reconcile_claims_14d(36500, 100000000, true, true)']) AS q;

-- The job builds the evidence as binary jsonb (src/core/jsonb_writer.hpp):
-- every document equals its own text parsed again, byte size included
-- (the fixture's hand-made rows have run_id 0).
SELECT count(*) AS claims_filed,
       bool_and(evidence = (evidence::text)::jsonb
                AND pg_column_size(evidence) = pg_column_size((evidence::text)::jsonb)) AS same_as_parsed
  FROM ops.cabinet_claims_14d WHERE run_id > 0;
