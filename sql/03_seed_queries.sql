-- The seeds' validation queries (seeds 001, 002, 003) run unchanged against
-- the views. Lead dates are relative to the Monday of the current week (w0),
-- so that the CURRENT_DATE filters select the same leads every day; a query
-- whose output shows such dates runs verbatim inside CREATE TEMP TABLE ... AS
-- and is then shown with dates as "days/weeks ago".
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments,
         canon.persons, canon.identity_links, canon.identity_unmatched,
         ops.cabinet_claims_14d, ct4.job_runs RESTART IDENTITY CASCADE;
SELECT date_trunc('week', current_date)::date AS w0 \gset

-- 15 leads: NO_IDENTITY 5, NO_DRIVER 4, NO_TRIPS_14D 3, TRIPS_NO_CLAIM 2, OK 1.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name) VALUES
    (301, :'w0'::date - 14, 'no identity'), (302, :'w0'::date - 13, 'no identity'),
    (303, '2025-12-30', 'no identity, old'), (304, NULL, 'no identity, no date'),
    (305, :'w0'::date - 42, 'no identity'),
    (311, :'w0'::date - 14, 'p1'), (312, :'w0'::date - 12, 'p2'), (313, '2025-12-31', 'p3'),
    (314, :'w0'::date - 42, 'p4'),
    (321, :'w0'::date - 13, 'p5, driver without trips'), (322, :'w0'::date - 7, 'p6, trips on day 14'),
    (323, NULL, 'p7, no date'),
    (331, :'w0'::date - 14, 'p8, M1 claimed, M5 not'), (332, :'w0'::date - 42, 'p9, nothing claimed'),
    (341, :'w0'::date - 7, 'p10, claimed');
INSERT INTO raw.drivers (driver_id) VALUES ('D5'), ('D6'), ('D7'), ('D8'), ('D9'), ('D10');
INSERT INTO canon.persons (person_key) SELECT generate_series(1, 10);
INSERT INTO canon.identity_links (source_table, source_pk, person_key, match_rule, evidence, linked_at, run_id)
SELECT t, pk, pkey, 'FIXTURE', '{}', now(), 1
  FROM (VALUES ('module_ct_cabinet_leads', '311', 1), ('module_ct_cabinet_leads', '312', 2),
               ('module_ct_cabinet_leads', '313', 3), ('module_ct_cabinet_leads', '314', 4),
               ('module_ct_cabinet_leads', '321', 5), ('module_ct_cabinet_leads', '322', 6),
               ('module_ct_cabinet_leads', '323', 7), ('module_ct_cabinet_leads', '331', 8),
               ('module_ct_cabinet_leads', '332', 9), ('module_ct_cabinet_leads', '341', 10),
               ('drivers', 'D5', 5), ('drivers', 'D6', 6), ('drivers', 'D7', 7), ('drivers', 'D8', 8),
               ('drivers', 'D9', 9), ('drivers', 'D10', 10)) v(t, pk, pkey);
INSERT INTO raw.summary_daily VALUES
    ('D6', :'w0'::date - 7 + 14, 9), ('D7', :'w0'::date - 30, 4),
    ('D8', :'w0'::date - 14 + 2, 6), ('D9', :'w0'::date - 42 + 1, 30), ('D10', :'w0'::date - 7, 1);
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, run_id) VALUES
    ('D8', 8, 331, :'w0'::date - 14, 1, 25.00, 6, :'w0'::date - 12, :'w0'::date - 1, '{}', 2),
    ('D10', 10, 341, :'w0'::date - 7, 1, 25.00, 1, :'w0'::date - 7, :'w0'::date + 6, '{}', 2);
INSERT INTO raw.claim_payments VALUES (1, 'D8', 1, :'w0'::date - 14, 25.00, now());
INSERT INTO canon.identity_unmatched (source_table, source_pk, reason_code, details, snapshot_date, run_id) VALUES
    ('module_ct_cabinet_leads', '301', 'NO_CANDIDATES', '{}', current_date - 1, 1),
    ('module_ct_cabinet_leads', '302', 'NO_CANDIDATES', '{}', current_date - 2, 1),
    ('module_ct_cabinet_leads', '304', 'INVALID_DATA', '{}', current_date - 1, 1),
    ('module_ct_cabinet_leads', '303', 'NO_CANDIDATES', '{}', current_date - 30, 1);
INSERT INTO ct4.job_runs (job_name, status, source_tables, stats) VALUES
    ('reconcile_leads_pipeline', 'SUCCESS', '{module_ct_cabinet_leads,drivers}', '{"processed": 15}'),
    ('reconcile_claims_14d', 'SUCCESS', '{}', '{}');

-- seed 001: "Verificar que el job corre" (ids and times vary: stable columns shown)
CREATE TEMP TABLE seed001_runs AS
SELECT * FROM canon.ingestion_runs 
WHERE source_tables::text LIKE '%module_ct_cabinet_leads%'
ORDER BY created_at DESC
LIMIT 10;
SELECT job_name, status, source_tables, stats FROM seed001_runs;

-- seed 001: "Verificar reducción de limbo"
SELECT 
    limbo_stage,
    COUNT(*) AS count
FROM ops.v_cabinet_leads_limbo
GROUP BY limbo_stage
ORDER BY count DESC;

-- seed 002: "Consultar Vista Limbo"
SELECT 
    limbo_stage,
    COUNT(*) AS count,
    COUNT(*) FILTER (WHERE lead_date > CURRENT_DATE - INTERVAL '30 days') AS recent
FROM ops.v_cabinet_leads_limbo
GROUP BY limbo_stage
ORDER BY count DESC;

-- seed 002: "Consultar Auditoría Semanal" (week_start shown as weeks before this week)
CREATE TEMP TABLE seed002_weekly AS
SELECT 
    week_start,
    leads_total,
    limbo_no_identity,
    limbo_no_driver,
    limbo_no_trips_14d,
    limbo_trips_no_claim,
    limbo_ok
FROM ops.v_cabinet_14d_funnel_audit_weekly
ORDER BY week_start DESC
LIMIT 4;
SELECT CASE WHEN week_start < '2026-06-01' THEN week_start::text
            ELSE ((:'w0'::date - week_start) / 7)::text || ' weeks ago' END AS week,
       leads_total, limbo_no_identity, limbo_no_driver, limbo_no_trips_14d, limbo_trips_no_claim, limbo_ok
  FROM seed002_weekly ORDER BY week_start DESC;

-- seed 002: "Verificar Leads Post-05"
SELECT COUNT(*) 
FROM ops.v_cabinet_leads_limbo
WHERE lead_date > '2026-01-05';

CREATE TEMP TABLE seed002_post05 AS
SELECT 
    limbo_stage,
    COUNT(*)
FROM ops.v_cabinet_leads_limbo
WHERE lead_date > '2026-01-05'
GROUP BY limbo_stage;
SELECT * FROM seed002_post05 ORDER BY limbo_stage;

-- seed 002: "Job No Reduce limbo_no_identity"
CREATE TEMP TABLE seed002_unmatched AS
SELECT reason_code, COUNT(*)
FROM canon.identity_unmatched
WHERE source_table = 'module_ct_cabinet_leads'
    AND snapshot_date > CURRENT_DATE - INTERVAL '7 days'
GROUP BY reason_code;
SELECT * FROM seed002_unmatched ORDER BY reason_code;

-- seed 003: "Verificar Gaps Después del Job"
SELECT 
    gap_reason,
    COUNT(*) AS count
FROM ops.v_cabinet_claims_gap_14d
WHERE lead_date >= CURRENT_DATE - INTERVAL '21 days'
GROUP BY gap_reason
ORDER BY count DESC;

-- seed 003: "Verificar Claims Generados" (lead_date shown as days before w0)
CREATE TEMP TABLE seed003_resolved AS
SELECT 
    cg.driver_id,
    cg.milestone_value,
    cg.lead_date,
    cg.gap_reason,
    CASE WHEN c.driver_id IS NOT NULL THEN 'RESUELTO' ELSE 'PENDIENTE' END AS status
FROM ops.v_cabinet_claims_gap_14d cg
LEFT JOIN ops.v_claims_payment_status_cabinet c
    ON c.driver_id = cg.driver_id
    AND c.milestone_value = cg.milestone_value
    AND c.lead_date = cg.lead_date
WHERE cg.lead_date >= CURRENT_DATE - INTERVAL '21 days'
    AND cg.claim_status = 'MISSING'
ORDER BY cg.lead_date DESC
LIMIT 20;
SELECT driver_id, milestone_value, :'w0'::date - lead_date AS days_before_w0, gap_reason, status
  FROM seed003_resolved ORDER BY driver_id, milestone_value;
