-- The claims job's decisions from the raw tables (src/claims/claims_engine.cpp).
-- The LATERAL ... OFFSET 0 subqueries keep the planner from hashing whole
-- tables (identity_links, the ledger): each outer row is one index probe,
-- so the work grows with the rows in scope, not with table sizes.

-- name: scope_leads
-- The leads in scope ($1: the cutoff day) and those without a date, each
-- with its person and its person's driver.
SELECT l.lead_id, l.lead_date - DATE '2000-01-01' AS lead_date, p.person_key, p.driver_id
  FROM (SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s
         WHERE s.lead_date >= DATE '2000-01-01' + $1
        UNION ALL
        SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s
         WHERE s.lead_date IS NULL) l
  LEFT JOIN LATERAL (
       SELECT ll.person_key,
              (SELECT dl.source_pk FROM canon.identity_links dl
                WHERE dl.source_table = 'drivers' AND dl.person_key = ll.person_key) AS driver_id
         FROM canon.identity_links ll
        WHERE ll.source_table = 'module_ct_cabinet_leads'
          AND ll.source_pk = l.lead_id::pg_catalog.text OFFSET 0) p ON true;

-- name: ledger
-- The ledger rows of the drivers in scope, plus ($2, re-verification) every
-- ledger row whose lead_date is in scope ($3: the cutoff day).
SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id, c.lead_date
  FROM pg_catalog.unnest($1::pg_catalog.text[]) AS d(driver_id)
 CROSS JOIN LATERAL (SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id,
                            c.lead_date - DATE '2000-01-01' AS lead_date
                       FROM ops.cabinet_claims_14d c WHERE c.driver_id = d.driver_id OFFSET 0) c
 UNION
SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id, c.lead_date - DATE '2000-01-01'
  FROM ops.cabinet_claims_14d c
 WHERE $2 AND c.lead_date >= DATE '2000-01-01' + $3;
