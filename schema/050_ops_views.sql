-- Operational views of the funnel (SPEC 3). Plain views, correct on their
-- own before any job runs; every one is set-based (joins and window
-- functions, no per-row subqueries) so that it scales to millions of leads.
-- The decisions where SPEC is silent are in docs/data_model.md.
--
-- Building blocks (internal, prefixed with _):
--   ops._lead_driver  one row per lead whose person has a driver
--   ops._lead_window  one row per lead with a driver: trips in its window and
--                     the milestones achieved (parallel arrays)
--   ops._lead_gaps    one row per achieved (lead, milestone) with its claim
--                     status, plus one row with milestone_value NULL for a
--                     lead that achieved nothing (it carries trips_in_window),
--                     so that the limbo view needs a single pass over trips.
-- The window function partitions by every lead column and _lead_window
-- groups by them, so a filter on lead_id, lead_date or driver_id is pushed
-- down to the join with raw.summary_daily.

-- window_days setting (SPEC 2.3), read once per query (an InitPlan).
CREATE FUNCTION ops._window_days() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT s.value::integer FROM ct4.settings s WHERE s.name = 'window_days'), 14)
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'routine', 'ops._window_days()', 'EXECUTE');   -- the views call it with the reader's rights

CREATE VIEW ops._lead_driver AS
SELECT l.lead_id, l.lead_date, ll.person_key, dl.source_pk AS driver_id
  FROM raw.module_ct_cabinet_leads l
  JOIN canon.identity_links ll
    ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
  JOIN canon.identity_links dl
    ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key;

-- The achieved day of a milestone is the one trip day where the cumulative
-- count crosses trips_required (cum >= required > cum - that day's count).
CREATE VIEW ops._lead_window AS
WITH days AS (
    SELECT ld.lead_id, ld.lead_date, ld.person_key, ld.driver_id,
           s.trip_date, s.count_orders_completed,
           sum(s.count_orders_completed)
               OVER (PARTITION BY ld.lead_id, ld.lead_date, ld.driver_id, ld.person_key
                     ORDER BY s.trip_date) AS cum_orders
      FROM ops._lead_driver ld
      LEFT JOIN raw.summary_daily s
        ON s.driver_id = ld.driver_id
       AND s.trip_date >= ld.lead_date
       AND s.trip_date < ld.lead_date + (SELECT ops._window_days())
)
SELECT d.lead_id, d.lead_date, d.person_key, d.driver_id,
       d.lead_date AS window_start,
       d.lead_date + (SELECT ops._window_days()) - 1 AS window_end,
       -- a day crossing two milestones appears twice: max, not sum;
       -- NULL when the lead has no window (NULL lead_date)
       CASE WHEN d.lead_date IS NOT NULL THEN coalesce(max(d.cum_orders), 0)::integer END
           AS trips_in_window,
       array_agg(m.milestone_value) FILTER (WHERE m.milestone_value IS NOT NULL) AS achieved_milestones,
       array_agg(d.trip_date) FILTER (WHERE m.milestone_value IS NOT NULL) AS achieved_dates
  FROM days d
  LEFT JOIN ct4.milestones m
    ON d.cum_orders >= m.trips_required
   AND d.cum_orders - d.count_orders_completed < m.trips_required
 GROUP BY d.lead_id, d.lead_date, d.driver_id, d.person_key;

-- One row per achieved (driver, milestone, lead).
CREATE VIEW ops.v_cabinet_milestones_achieved_from_payment_calc AS
SELECT w.driver_id, w.person_key, w.lead_id, w.lead_date, a.milestone_value,
       m.trips_required, m.amount, w.trips_in_window, a.achieved_date,
       w.window_start, w.window_end
  FROM ops._lead_window w
  CROSS JOIN LATERAL unnest(w.achieved_milestones, w.achieved_dates) AS a(milestone_value, achieved_date)
  JOIN ct4.milestones m ON m.milestone_value = a.milestone_value;

-- One row per lead with a driver (NULL lead_date included: it has no window,
-- so window_* and trips_in_window are NULL and nothing is achieved).
-- Per milestone: achieved_m<N> / achieved_date_m<N> for the default
-- milestones 1, 5 and 25, and milestones_achieved (jsonb value -> date) for
-- every milestone of ct4.milestones, so edited milestones are shown too.
CREATE VIEW ops.v_payment_calculation AS
SELECT w.lead_id, w.lead_date, w.person_key, w.driver_id, w.window_start, w.window_end,
       w.trips_in_window,
       a.m1 IS NOT NULL AS achieved_m1, a.m1 AS achieved_date_m1,
       a.m5 IS NOT NULL AS achieved_m5, a.m5 AS achieved_date_m5,
       a.m25 IS NOT NULL AS achieved_m25, a.m25 AS achieved_date_m25,
       coalesce(a.milestones_achieved, '{}'::jsonb) AS milestones_achieved
  FROM ops._lead_window w
  LEFT JOIN LATERAL (
      SELECT min(u.d) FILTER (WHERE u.m = 1) AS m1,
             min(u.d) FILTER (WHERE u.m = 5) AS m5,
             min(u.d) FILTER (WHERE u.m = 25) AS m25,
             jsonb_object_agg(u.m::text, u.d) AS milestones_achieved
        FROM unnest(w.achieved_milestones, w.achieved_dates) AS u(m, d)
  ) a ON true;

-- One row per ledger claim with what raw.claim_payments paid for it,
-- matched on (driver_id, milestone_value, lead_date). PAID when the payments
-- cover the claim's amount; a partial payment is still PENDING.
CREATE VIEW ops.v_claims_payment_status_cabinet AS
WITH paid AS (
    SELECT p.driver_id, p.milestone_value, p.lead_date,
           sum(p.amount) AS paid_amount, count(*)::integer AS payments, max(p.paid_at) AS last_paid_at
      FROM raw.claim_payments p
     GROUP BY p.driver_id, p.milestone_value, p.lead_date
)
SELECT c.claim_id, c.driver_id, c.person_key, c.lead_id, c.lead_date, c.milestone_value,
       c.amount, c.trips_in_window, c.achieved_date, c.window_end, c.evidence, c.created_at,
       c.run_id,
       coalesce(p.paid_amount, 0)::numeric(12,2) AS paid_amount,
       coalesce(p.payments, 0) AS payments,
       p.last_paid_at,
       CASE WHEN coalesce(p.paid_amount, 0) >= c.amount THEN 'PAID' ELSE 'PENDING' END AS payment_status
  FROM ops.cabinet_claims_14d c
  LEFT JOIN paid p
    ON p.driver_id = c.driver_id AND p.milestone_value = c.milestone_value
   AND p.lead_date = c.lead_date;

-- One row per achieved (lead, milestone) with the ledger claim of its
-- (driver, milestone) if any (the ledger holds at most one), plus one row
-- with milestone_value NULL per lead that achieved nothing. Leads of a driver
-- are ordered by (lead_date, lead_id). claim_status / gap_reason:
--   EXISTS  CLAIM_FILED                 the claim is filed for this lead
--   EXISTS  CLAIMED_UNDER_EARLIER_LEAD  filed for an earlier lead of the driver
--   MISSING CLAIMED_UNDER_LATER_LEAD    filed for a later lead (this earlier lead
--           was linked after the claim was filed): SPEC 3 puts this lead in
--           TRIPS_NO_CLAIM (no claim for it, none under an earlier lead), and
--           the claims job reports it INVALID: the ledger's one claim per
--           (driver, milestone) is taken and no job rewrites the ledger
--   MISSING MILESTONE_ACHIEVED_NO_CLAIM this lead is the earliest one whose window
--           achieved it and no claim exists: the claims job files it
--   MISSING EARLIER_LEAD_UNCLAIMED      an earlier lead of the driver achieved it
--           too and is unclaimed as well: the claim belongs to that lead; this
--           row turns into CLAIMED_UNDER_EARLIER_LEAD once that one is filed
CREATE VIEW ops._lead_gaps AS
WITH achieved AS (
    SELECT w.driver_id, w.person_key, w.lead_id, w.lead_date, a.milestone_value,
           w.trips_in_window, a.achieved_date, w.window_end
      FROM ops._lead_window w
      LEFT JOIN LATERAL unnest(w.achieved_milestones, w.achieved_dates)
           AS a(milestone_value, achieved_date) ON true
), ranked AS (
    SELECT a.*,
           row_number() OVER (PARTITION BY a.driver_id, a.milestone_value
                              ORDER BY a.lead_date, a.lead_id) AS lead_rank
      FROM achieved a
)
SELECT r.driver_id, r.person_key, r.lead_id, r.lead_date, r.milestone_value, m.amount,
       r.trips_in_window, r.achieved_date, r.window_end,
       c.claim_id, c.lead_id AS claim_lead_id,
       CASE WHEN r.milestone_value IS NULL THEN NULL
            WHEN c.claim_id IS NULL THEN 'MISSING'
            WHEN (c.lead_date, c.lead_id) > (r.lead_date, r.lead_id) THEN 'MISSING'
            ELSE 'EXISTS' END AS claim_status,
       CASE
           WHEN r.milestone_value IS NULL THEN NULL
           WHEN c.claim_id IS NOT NULL AND c.lead_id = r.lead_id THEN 'CLAIM_FILED'
           WHEN c.claim_id IS NOT NULL AND (c.lead_date, c.lead_id) < (r.lead_date, r.lead_id)
               THEN 'CLAIMED_UNDER_EARLIER_LEAD'
           WHEN c.claim_id IS NOT NULL THEN 'CLAIMED_UNDER_LATER_LEAD'
           WHEN r.lead_rank = 1 THEN 'MILESTONE_ACHIEVED_NO_CLAIM'
           ELSE 'EARLIER_LEAD_UNCLAIMED'
       END AS gap_reason
  FROM ranked r
  LEFT JOIN ct4.milestones m ON m.milestone_value = r.milestone_value
  LEFT JOIN ops.cabinet_claims_14d c
    ON c.driver_id = r.driver_id AND c.milestone_value = r.milestone_value;

-- One row per achieved milestone (driver, lead, milestone); see _lead_gaps.
CREATE VIEW ops.v_cabinet_claims_gap_14d AS
SELECT g.driver_id, g.person_key, g.lead_id, g.lead_date, g.milestone_value, g.amount,
       g.trips_in_window, g.achieved_date, g.window_end, g.claim_id, g.claim_lead_id,
       g.claim_status, g.gap_reason
  FROM ops._lead_gaps g
 WHERE g.milestone_value IS NOT NULL;

-- One row per lead, at the first stage of the funnel where it is stuck:
--   NO_IDENTITY    the lead is not linked to a person
--   NO_DRIVER      its person has no linked driver
--   NO_TRIPS_14D   no milestone achieved in its window (also: NULL lead_date,
--                  which has no window)
--   TRIPS_NO_CLAIM one of its achieved milestones is MISSING in the gap view
--   OK             every achieved milestone is claimed (for it or another lead)
-- trips_in_window is NULL when the lead has no window (no driver or no date).
CREATE VIEW ops.v_cabinet_leads_limbo AS
WITH gaps AS (
    SELECT g.lead_id, max(g.trips_in_window) AS trips_in_window,
           count(g.milestone_value)::integer AS milestones_achieved,
           count(*) FILTER (WHERE g.claim_status = 'MISSING')::integer AS claims_missing
      FROM ops._lead_gaps g
     GROUP BY g.lead_id
)
SELECT l.lead_id, l.lead_date, ll.person_key, dl.source_pk AS driver_id,
       CASE WHEN dl.source_pk IS NOT NULL AND l.lead_date IS NOT NULL
            THEN coalesce(g.trips_in_window, 0) END AS trips_in_window,
       coalesce(g.milestones_achieved, 0) AS milestones_achieved,
       coalesce(g.claims_missing, 0) AS claims_missing,
       CASE
           WHEN ll.person_key IS NULL THEN 'NO_IDENTITY'
           WHEN dl.source_pk IS NULL THEN 'NO_DRIVER'
           WHEN coalesce(g.milestones_achieved, 0) = 0 THEN 'NO_TRIPS_14D'
           WHEN g.claims_missing > 0 THEN 'TRIPS_NO_CLAIM'
           ELSE 'OK'
       END AS limbo_stage
  FROM raw.module_ct_cabinet_leads l
  LEFT JOIN canon.identity_links ll
    ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
  LEFT JOIN canon.identity_links dl
    ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
  LEFT JOIN gaps g ON g.lead_id = l.lead_id;

-- One row per ISO week (Monday) of lead_date. Leads with a NULL lead_date
-- belong to no week and are not counted here (see v_cabinet_leads_limbo).
CREATE VIEW ops.v_cabinet_14d_funnel_audit_weekly AS
SELECT date_trunc('week', v.lead_date)::date AS week_start,
       count(*)::integer AS leads_total,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_IDENTITY')::integer    AS limbo_no_identity,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_DRIVER')::integer      AS limbo_no_driver,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_TRIPS_14D')::integer   AS limbo_no_trips_14d,
       count(*) FILTER (WHERE v.limbo_stage = 'TRIPS_NO_CLAIM')::integer AS limbo_trips_no_claim,
       count(*) FILTER (WHERE v.limbo_stage = 'OK')::integer             AS limbo_ok
  FROM ops.v_cabinet_leads_limbo v
 WHERE v.lead_date IS NOT NULL
 GROUP BY 1;
