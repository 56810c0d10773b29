-- Which leads an identity run takes (src/identity/scope.cpp): the due leads
-- in scope, read from canon.identity_lead_state.
--
-- The scope of SPEC 4.1 on a state row s (fragment in_scope, used by each
-- statement below): recent leads ($1 process_recent, lead_date >=
-- current_date - $2 days_back) plus the leads whose stage is one of the limbo
-- stages asked for ($3 process_limbo, $4 stages). A NEW lead (never decided)
-- is in the NO_IDENTITY stage's scope; TRIPS_NO_CLAIM leads are done for
-- this job (linked with a driver: no state row), so that stage adds none.
-- $5 is row_limit.

-- fragment: in_scope
(($1 AND s.lead_date >= CURRENT_DATE - $2) OR ($3 AND s.stage = ANY ($4::pg_catalog.text[])))

-- name: changed_leads
-- Never decided, or changed since: oldest first.
SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version
  FROM canon.identity_lead_state s
 WHERE s.changed
   AND {{in_scope}}
 ORDER BY s.lead_date, s.lead_id
 LIMIT $5;

-- name: pending_leads
-- Inputs marked changed, or decided at an older epoch than $6: two index
-- ranges, merged by when they were decided (a lead decided at an older
-- epoch was decided by an older run).
SELECT x.lead_id, x.lead_date, x.stage, x.outcome, x.version
  FROM ((SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version, s.checked_run
           FROM canon.identity_lead_state s
          WHERE s.inputs_changed AND NOT s.changed
            AND {{in_scope}}
          ORDER BY s.checked_run, s.lead_date, s.lead_id
          LIMIT $5)
        UNION ALL
        (SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version, s.checked_run
           FROM canon.identity_lead_state s
          WHERE NOT s.changed AND NOT s.inputs_changed AND s.checked_epoch < $6
            AND {{in_scope}}
          ORDER BY s.checked_epoch, s.checked_run, s.lead_date, s.lead_id
          LIMIT $5)) x
 ORDER BY x.checked_run, x.lead_date, x.lead_id
 LIMIT $5;
