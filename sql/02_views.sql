-- The funnel views of SPEC 3 on a small readable fixture (no job runs):
-- one lead per limbo stage, the window edge (day 13 counts, day 14 does
-- not), a driver with two leads, a NULL lead_date, paid and unpaid claims.
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments,
         canon.persons, canon.identity_links, canon.identity_unmatched,
         ops.cabinet_claims_14d, ct4.job_runs RESTART IDENTITY CASCADE;

INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name) VALUES
    (101, '2026-01-05', 'no identity'),
    (102, '2026-01-05', 'person 1, no driver'),
    (103, '2026-01-05', 'person 2, trips only on day 14'),
    (104, '2026-01-05', 'person 3, trips on day 13 and 14'),
    (105, '2026-01-06', 'person 4, claimed'),
    (106, '2026-01-05', 'person 5, first lead'),
    (107, '2026-01-12', 'person 5, second lead'),
    (108, NULL,         'person 6, no lead date'),
    (109, '2026-01-07', 'person 4, second lead'),
    (110, '2026-01-02', 'person 7, linked after its claim went to lead 111: TRIPS_NO_CLAIM'),
    (111, '2026-01-03', 'person 7, claim filed here');
INSERT INTO raw.drivers (driver_id, full_name) VALUES
    ('D2', 'two'), ('D3', 'three'), ('D4', 'four'), ('D5', 'five'), ('D6', 'six'), ('D7', 'seven');
INSERT INTO canon.persons (person_key) SELECT generate_series(1, 7);
INSERT INTO canon.identity_links (source_table, source_pk, person_key, match_rule, evidence, linked_at, run_id)
SELECT t, pk, pkey, 'FIXTURE', '{}', '2026-01-20', 0
  FROM (VALUES ('module_ct_cabinet_leads', '102', 1), ('module_ct_cabinet_leads', '103', 2),
               ('module_ct_cabinet_leads', '104', 3), ('module_ct_cabinet_leads', '105', 4),
               ('module_ct_cabinet_leads', '106', 5), ('module_ct_cabinet_leads', '107', 5),
               ('module_ct_cabinet_leads', '108', 6), ('module_ct_cabinet_leads', '109', 4),
               ('module_ct_cabinet_leads', '110', 7), ('module_ct_cabinet_leads', '111', 7),
               ('drivers', 'D2', 2), ('drivers', 'D3', 3), ('drivers', 'D4', 4),
               ('drivers', 'D5', 5), ('drivers', 'D6', 6), ('drivers', 'D7', 7)) v(t, pk, pkey);
-- Lead 103/104 window: 2026-01-05 .. 2026-01-18 (day 13); 2026-01-19 is day 14.
INSERT INTO raw.summary_daily VALUES
    ('D2', '2026-01-19', 40),
    ('D3', '2026-01-18', 5), ('D3', '2026-01-19', 30),
    ('D4', '2026-01-06', 3), ('D4', '2026-01-07', 0), ('D4', '2026-01-08', 3),
    ('D5', '2026-01-10', 2), ('D5', '2026-01-14', 4), ('D5', '2026-01-20', 21),
    ('D6', '2026-01-10', 9),
    ('D7', '2026-01-04', 1);
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, run_id) VALUES
    ('D3', 3, 104, '2026-01-05', 1, 25.00, 5, '2026-01-18', '2026-01-18', '{}', 0),
    ('D4', 4, 105, '2026-01-06', 1, 25.00, 6, '2026-01-06', '2026-01-19', '{}', 0),
    ('D4', 4, 105, '2026-01-06', 5, 35.00, 6, '2026-01-08', '2026-01-19', '{}', 0),
    ('D5', 5, 106, '2026-01-05', 1, 25.00, 6, '2026-01-10', '2026-01-18', '{}', 0),
    ('D7', 7, 111, '2026-01-03', 1, 25.00, 1, '2026-01-04', '2026-01-16', '{}', 0);
INSERT INTO raw.claim_payments VALUES
    (1, 'D3', 1, '2026-01-05', 25.00, '2026-02-01 10:00+00'),
    (2, 'D4', 1, '2026-01-06', 20.00, '2026-02-01 10:00+00'),
    (3, 'D4', 1, '2026-01-06', 5.00,  '2026-02-02 10:00+00'),
    (4, 'D7', 1, '2026-01-03', 10.00, '2026-02-01 10:00+00'),
    (5, 'D9', 1, '2026-01-03', 25.00, '2026-02-01 10:00+00');  -- matches no claim

-- Per lead with a driver: its window and milestones.
SELECT lead_id, lead_date, person_key, driver_id, window_start, window_end, trips_in_window,
       achieved_m1, achieved_date_m1, achieved_m5, achieved_date_m5, achieved_m25, achieved_date_m25,
       milestones_achieved
  FROM ops.v_payment_calculation ORDER BY lead_id;

SELECT driver_id, person_key, lead_id, lead_date, milestone_value, trips_in_window, achieved_date
  FROM ops.v_cabinet_milestones_achieved_from_payment_calc ORDER BY driver_id, lead_id, milestone_value;

SELECT claim_id, driver_id, lead_id, lead_date, milestone_value, amount, paid_amount, payments, payment_status
  FROM ops.v_claims_payment_status_cabinet ORDER BY claim_id;

SELECT driver_id, lead_id, lead_date, milestone_value, achieved_date, claim_id, claim_lead_id,
       claim_status, gap_reason
  FROM ops.v_cabinet_claims_gap_14d ORDER BY driver_id, lead_id, milestone_value;

SELECT lead_id, lead_date, person_key, driver_id, trips_in_window, milestones_achieved, claims_missing,
       limbo_stage
  FROM ops.v_cabinet_leads_limbo ORDER BY lead_id;

SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start;

-- window_days is read from ct4.settings: with 15 days, lead 103's day-14 trips count.
UPDATE ct4.settings SET value = '15' WHERE name = 'window_days';
SELECT lead_id, window_end, trips_in_window, achieved_date_m1, achieved_date_m25
  FROM ops.v_payment_calculation WHERE lead_id IN (103, 104) ORDER BY lead_id;
SELECT lead_id, limbo_stage FROM ops.v_cabinet_leads_limbo WHERE lead_id IN (103, 104) ORDER BY lead_id;
UPDATE ct4.settings SET value = '14' WHERE name = 'window_days';

-- Edited milestones show up in milestones_achieved (and in the gap view).
INSERT INTO ct4.milestones VALUES (3, 3, 30.00);
SELECT lead_id, milestones_achieved FROM ops.v_payment_calculation WHERE lead_id IN (104, 105) ORDER BY lead_id;
DELETE FROM ct4.milestones WHERE milestone_value = 3;
