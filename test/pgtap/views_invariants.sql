-- Invariants of the funnel views (schema/050_ops_views.sql) on demo data
-- linked by test/fixtures/demo_ground_truth_links.sql (a third of the
-- claimable gaps filed), checked against independent computations.
\set n 3000
\set seed 5
BEGIN;
SELECT plan(20);
SELECT lead_rows FROM ct4.generate_demo_data(:n, :seed) \g /dev/null
\i test/fixtures/demo_ground_truth_links.sql

SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo), (SELECT count(*) FROM raw.module_ct_cabinet_leads),
          'limbo view: one row per lead');
SELECT is((SELECT count(DISTINCT lead_id) FROM ops.v_cabinet_leads_limbo), (SELECT count(*) FROM raw.module_ct_cabinet_leads),
          'limbo view: every lead once');
SELECT is((SELECT array_agg(DISTINCT limbo_stage ORDER BY limbo_stage) FROM ops.v_cabinet_leads_limbo),
          '{NO_DRIVER,NO_IDENTITY,NO_TRIPS_14D,OK,TRIPS_NO_CLAIM}'::text[],
          'demo data reaches every limbo stage, and only those');
SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo v
            WHERE (v.limbo_stage = 'NO_IDENTITY') <> NOT EXISTS (SELECT FROM canon.identity_links k
                   WHERE k.source_table = 'module_ct_cabinet_leads' AND k.source_pk = v.lead_id::text)), 0::bigint,
          'NO_IDENTITY exactly for leads without a link');
SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo WHERE lead_date IS NULL AND driver_id IS NOT NULL
             AND limbo_stage <> 'NO_TRIPS_14D'), 0::bigint, 'a lead with a driver and no lead_date is NO_TRIPS_14D');
SELECT is((SELECT sum(leads_total) FROM ops.v_cabinet_14d_funnel_audit_weekly),
          (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE lead_date IS NOT NULL),
          'weekly funnel counts every dated lead once');
SELECT is((SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly
            WHERE leads_total <> limbo_no_identity + limbo_no_driver + limbo_no_trips_14d + limbo_trips_no_claim + limbo_ok),
          0::bigint, 'weekly funnel: total = sum of the stages in every week');
SELECT is((SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly WHERE extract(isodow FROM week_start) <> 1),
          0::bigint, 'weeks start on Monday (ISO)');
SELECT is((SELECT count(*) FROM ops.v_payment_calculation),
          (SELECT count(*) FROM ops.v_cabinet_leads_limbo WHERE driver_id IS NOT NULL),
          'payment calculation: one row per lead with a driver');
SELECT is((SELECT count(*) FROM ops.v_payment_calculation p
            WHERE p.lead_date IS NOT NULL AND p.trips_in_window <> (
                  SELECT coalesce(sum(s.count_orders_completed), 0) FROM raw.summary_daily s
                   WHERE s.driver_id = p.driver_id AND s.trip_date BETWEEN p.lead_date AND p.lead_date + 13)),
          0::bigint, 'trips_in_window = trips from lead_date to day 13, computed directly');
SELECT is((SELECT count(*) FROM ops.v_cabinet_milestones_achieved_from_payment_calc a
            WHERE (SELECT sum(s.count_orders_completed) FROM raw.summary_daily s
                    WHERE s.driver_id = a.driver_id AND s.trip_date BETWEEN a.lead_date AND a.achieved_date) < a.trips_required
               OR (SELECT coalesce(sum(s.count_orders_completed), 0) FROM raw.summary_daily s
                    WHERE s.driver_id = a.driver_id AND s.trip_date BETWEEN a.lead_date AND a.achieved_date - 1) >= a.trips_required
               OR a.achieved_date > a.window_end),
          0::bigint, 'achieved_date is the first day the cumulative trips reach the milestone, inside the window');
SELECT is((SELECT count(*) FROM ops.v_payment_calculation p CROSS JOIN ct4.milestones m
            WHERE p.lead_date IS NOT NULL
              AND (p.milestones_achieved ? m.milestone_value::text) <> (p.trips_in_window >= m.trips_required)),
          0::bigint, 'a milestone is achieved exactly when trips_in_window reaches it');
SELECT is((SELECT count(*) FROM ops.v_cabinet_claims_gap_14d),
          (SELECT count(*) FROM ops.v_cabinet_milestones_achieved_from_payment_calc),
          'gap view: one row per achieved milestone');
SELECT set_eq($$SELECT claim_id FROM ops.v_cabinet_claims_gap_14d WHERE gap_reason = 'CLAIM_FILED'$$,
              $$SELECT claim_id FROM ops.cabinet_claims_14d$$,
              'gap view CLAIM_FILED rows are exactly the ledger claims');
SELECT is((SELECT count(*) FROM ops.v_cabinet_claims_gap_14d g
            WHERE (g.claim_status = 'EXISTS') <> EXISTS (SELECT FROM ops.cabinet_claims_14d c
                   WHERE c.driver_id = g.driver_id AND c.milestone_value = g.milestone_value)),
          0::bigint, 'EXISTS exactly when the ledger holds the (driver, milestone)');
SELECT ok((SELECT count(*) FROM ops.v_cabinet_claims_gap_14d WHERE gap_reason = 'CLAIMED_UNDER_EARLIER_LEAD') > 0
      AND (SELECT count(*) FROM ops.v_cabinet_claims_gap_14d WHERE gap_reason = 'EARLIER_LEAD_UNCLAIMED') > 0,
          'drivers with several leads produce CLAIMED_UNDER_EARLIER_LEAD and EARLIER_LEAD_UNCLAIMED rows');
SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo v
            WHERE (v.limbo_stage = 'TRIPS_NO_CLAIM') <> EXISTS (SELECT FROM ops.v_cabinet_claims_gap_14d g
                   WHERE g.lead_id = v.lead_id AND g.claim_status = 'MISSING')),
          0::bigint, 'TRIPS_NO_CLAIM exactly for leads with a MISSING gap');
SELECT is((SELECT count(*) FROM ops.v_claims_payment_status_cabinet
            WHERE (payment_status = 'PAID') <> (paid_amount >= amount)), 0::bigint,
          'PAID exactly when the payments cover the claim');

-- Filing every claimable gap (what the claims job does) leaves nothing missing.
INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date, milestone_value, amount,
                                    trips_in_window, achieved_date, window_end, evidence, run_id)
SELECT driver_id, person_key, lead_id, lead_date, milestone_value, amount, trips_in_window,
       achieved_date, window_end, '{}', 1
  FROM ops.v_cabinet_claims_gap_14d WHERE gap_reason = 'MILESTONE_ACHIEVED_NO_CLAIM';
SELECT is((SELECT count(*) FROM ops.v_cabinet_claims_gap_14d WHERE claim_status = 'MISSING'), 0::bigint,
          'after filing the MILESTONE_ACHIEVED_NO_CLAIM gaps no gap is MISSING');
SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo WHERE limbo_stage = 'TRIPS_NO_CLAIM'), 0::bigint,
          'and no lead is TRIPS_NO_CLAIM');
SELECT * FROM finish();
ROLLBACK;
