-- TEMPORARY (identity branch): a minimal ops.v_cabinet_leads_limbo so that the
-- identity job's TRIPS_NO_CLAIM scope can be built and tested before the
-- foundation's views land on main. The foundation's file of the same name
-- replaces this one on merge.
CREATE VIEW ops.v_cabinet_leads_limbo AS
WITH lt AS (
    SELECT l.lead_id, l.lead_date, ll.person_key, dl.source_pk AS driver_id,
           (SELECT coalesce(sum(t.count_orders_completed), 0)::integer
              FROM raw.summary_daily t
             WHERE t.driver_id = dl.source_pk AND t.trip_date >= l.lead_date
               AND t.trip_date < l.lead_date + 14) AS trips_in_window
      FROM raw.module_ct_cabinet_leads l
      LEFT JOIN canon.identity_links ll
        ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
      LEFT JOIN canon.identity_links dl
        ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
)
SELECT lt.lead_id, lt.lead_date, lt.person_key, lt.driver_id, lt.trips_in_window,
       CASE WHEN lt.person_key IS NULL THEN 'NO_IDENTITY'
            WHEN lt.driver_id IS NULL THEN 'NO_DRIVER'
            WHEN lt.lead_date IS NULL OR NOT EXISTS (
                 SELECT 1 FROM ct4.milestones m WHERE m.trips_required <= lt.trips_in_window)
                 THEN 'NO_TRIPS_14D'
            WHEN EXISTS (
                 SELECT 1 FROM ct4.milestones m
                  WHERE m.trips_required <= lt.trips_in_window
                    AND NOT EXISTS (SELECT 1 FROM ops.cabinet_claims_14d c
                                     WHERE c.driver_id = lt.driver_id
                                       AND c.milestone_value = m.milestone_value))
                 THEN 'TRIPS_NO_CLAIM'
            ELSE 'OK' END AS limbo_stage
  FROM lt;
