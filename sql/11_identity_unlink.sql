-- ct4.unlink and ct4.unblock: the audited way to undo a link, and why a
-- correction sticks (C0 rule 2); the job never does either.
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, canon.persons, canon.identity_links,
         canon.identity_unmatched, canon.identity_link_removals, canon.identity_blocks,
         canon.identity_lead_state, ct4.job_runs RESTART IDENTITY CASCADE;
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D1', 'Ana Diaz', '911000111');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone) VALUES
    (1, current_date, 'Ana Díaz', '+51 911 000 111');
SELECT status, newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline();
SELECT source_table, source_pk, person_key, match_rule FROM canon.identity_links ORDER BY 1 DESC;
-- Undo the driver link: the link goes (and with it the driver's keys from the
-- person's), the audit row keeps it, and the pair (D1, person 1) is blocked.
SELECT source_table, source_pk, removed_link->>'match_rule' AS rule, reason, person_rows_left
  FROM ct4.unlink('drivers', 'D1', 'wrong person, confirmed by phone call');
SELECT count(*) AS driver_links FROM canon.identity_links WHERE source_table = 'drivers';
SELECT source_table, source_pk, person_key, reason, removal_id, lifted_at IS NULL AS active
  FROM canon.identity_blocks;
-- The lead is due again (its person has no driver now).
SELECT stage, changed FROM canon.identity_lead_state WHERE lead_id = 1;
-- Bad calls are rejected and name the argument.
\set VERBOSITY terse
SELECT ct4.unlink('drivers', 'D1', 'again');
SELECT ct4.unlink('drivers', 'D1', '  ');
SELECT ct4.unlink(NULL, 'D1', 'x');
SELECT ct4.unlink('persons', '1', 'x');
SELECT * FROM ct4.unblock('drivers', NULL);
SELECT * FROM ct4.unblock('drivers', 'D-none');
\set VERBOSITY default
-- The next run does not link D1 to person 1 again: D1 would have been the
-- person's unique best driver, so the lead says DRIVER_BLOCKED (a conflict).
SELECT status, processed, newly_linked, newly_driver_mapped, conflicts FROM ct4.reconcile_leads_pipeline();
SELECT source_pk, reason_code, details FROM canon.identity_unmatched;
SELECT count(*) AS driver_links FROM canon.identity_links WHERE source_table = 'drivers';
-- A rerun with nothing new decides nothing (the block holds, the lead is not due).
SELECT status, processed, newly_driver_mapped FROM ct4.reconcile_leads_pipeline();
-- ct4.unblock lifts the block (kept, with who lifted it) and makes the row due:
-- the next run links D1 again.
SELECT source_table, source_pk, person_key, lifted_by IS NOT NULL AS lifted, lifted_at IS NOT NULL AS lifted_at
  FROM ct4.unblock('drivers', 'D1');
SELECT status, processed, newly_driver_mapped, conflicts FROM ct4.reconcile_leads_pipeline();
SELECT count(*) AS blocks, count(*) FILTER (WHERE lifted_at IS NULL) AS active FROM canon.identity_blocks;

-- Undo the lead's link: person 1 keeps D1. The lead's only candidate is now
-- the person it was unlinked from, its unique best: BLOCKED, and no new
-- person is made for it.
SELECT source_pk, person_rows_left FROM ct4.unlink('module_ct_cabinet_leads', '1', 'another Ana');
SELECT status, processed, newly_linked, conflicts FROM ct4.reconcile_leads_pipeline();
SELECT source_pk, reason_code, details->'blocked' AS blocked, details->>'reason' AS reason
  FROM canon.identity_unmatched WHERE reason_code = 'BLOCKED';
-- Unlinking D1 too leaves person 1 with no linked row: the removal says so.
SELECT source_pk, person_rows_left FROM ct4.unlink('drivers', 'D1', 'not Ana either');
-- Person 1 has no row, so it is no candidate; the lead and D1 go to another
-- person (their blocks name person 1 only).
SELECT status, processed, newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline();
SELECT source_table, source_pk, person_key, match_rule FROM canon.identity_links ORDER BY 1 DESC;
SELECT count(*) AS removals FROM canon.identity_link_removals;
SELECT source_table, source_pk, person_key, lifted_at IS NULL AS active
  FROM canon.identity_blocks ORDER BY block_id;
