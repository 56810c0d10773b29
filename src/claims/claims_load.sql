-- What the claims job reads for its decisions (src/claims/claims_load.cpp).
-- Dates travel as days since 2000-01-01 (DateADT); `k` is a row's place in
-- the batch of drivers or persons asked for (1-based).

-- name: window_cutoff
SELECT (CURRENT_DATE - $1::pg_catalog.int4) - DATE '2000-01-01' AS cutoff;

-- name: milestones
SELECT m.milestone_value, m.trips_required FROM ct4.milestones m ORDER BY m.milestone_value;

-- name: person_leads
-- Every lead of each driver's person, in scope or not: eligibility depends
-- on the driver's earlier leads too. By person_key: an index scan per person.
SELECT d.k::pg_catalog.int4 AS k, x.lead_id, x.lead_date
  FROM pg_catalog.unnest($1::pg_catalog.int8[]) WITH ORDINALITY AS d(person_key, k)
 CROSS JOIN LATERAL (
       SELECT l.lead_id, l.lead_date - DATE '2000-01-01' AS lead_date
         FROM canon.identity_links ll
         JOIN raw.module_ct_cabinet_leads l
           ON l.lead_id = CASE WHEN ll.source_pk OPERATOR(pg_catalog.~) '^[0-9]{1,18}$'
                               THEN ll.source_pk::pg_catalog.int8 END
        WHERE ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = d.person_key
       OFFSET 0) x;

-- name: trips
-- The trips of each driver between its first lead_date and the end of its
-- last lead's window ($2 .. $3, per driver).
SELECT d.k::pg_catalog.int4 AS k, s.trip_date - DATE '2000-01-01' AS trip_day,
       s.count_orders_completed
  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.int4[]),
                  pg_catalog.unnest($3::pg_catalog.int4[]))
       WITH ORDINALITY AS d(driver_id, lo, hi, k)
  JOIN raw.summary_daily s ON s.driver_id = d.driver_id
   AND s.trip_date >= DATE '2000-01-01' + d.lo AND s.trip_date < DATE '2000-01-01' + d.hi;

-- name: ledger_of_drivers
SELECT d.k::pg_catalog.int4 AS k, c.claim_id, c.milestone_value, c.lead_id,
       c.lead_date - DATE '2000-01-01' AS lead_date
  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS d(driver_id, k)
 CROSS JOIN LATERAL (SELECT c.* FROM ops.cabinet_claims_14d c
                      WHERE c.driver_id = d.driver_id OFFSET 0) c;

-- name: scan_trips
-- Every trip row, read through a cursor (TripScan).
SELECT s.trip_date, s.count_orders_completed, s.driver_id FROM raw.summary_daily s;

-- name: driver_persons
-- The persons of the drivers $1 (by their driver link).
SELECT dl.source_pk AS driver_id, dl.person_key
  FROM canon.identity_links dl
 WHERE dl.source_table = 'drivers' AND dl.source_pk = ANY ($1::pg_catalog.text[]);
