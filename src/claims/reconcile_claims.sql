-- The SQL of ct4.reconcile_claims_14d (src/claims/reconcile_claims.cpp).

-- name: insert_claims
-- A batch of CREATE rows as parallel arrays; dates travel as days since
-- 2000-01-01 (DateADT), the evidence as binary jsonb.
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date,
                                    milestone_value, amount, trips_in_window, achieved_date,
                                    window_end, evidence, created_at, run_id)
SELECT c.driver_id, c.person_key, c.lead_id, DATE '2000-01-01' + c.lead_day, c.milestone_value,
       m.amount, c.trips_in_window, DATE '2000-01-01' + c.achieved_day,
       DATE '2000-01-01' + c.window_end_day, c.evidence, pg_catalog.now(), $10
  FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS driver_id,
               pg_catalog.unnest($2::pg_catalog.int8[]) AS person_key,
               pg_catalog.unnest($3::pg_catalog.int8[]) AS lead_id,
               pg_catalog.unnest($4::pg_catalog.int4[]) AS lead_day,
               pg_catalog.unnest($5::pg_catalog.int4[]) AS milestone_value,
               pg_catalog.unnest($6::pg_catalog.int4[]) AS trips_in_window,
               pg_catalog.unnest($7::pg_catalog.int4[]) AS achieved_day,
               pg_catalog.unnest($8::pg_catalog.int4[]) AS window_end_day,
               pg_catalog.unnest($9::pg_catalog.jsonb[]) AS evidence) c
  JOIN ct4.milestones m ON m.milestone_value = c.milestone_value;

-- name: refresh_views
SELECT ct4._refresh_registered_views() AS refreshed;
