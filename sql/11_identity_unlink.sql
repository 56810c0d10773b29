-- ct4.unlink: the one audited way to undo a link; the job never does it.
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, canon.persons, canon.identity_links,
         canon.identity_unmatched, canon.identity_link_removals,
         canon.identity_lead_state, ct4.job_runs RESTART IDENTITY CASCADE;
INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D1', 'Ana Diaz', '911000111');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone) VALUES
    (1, current_date, 'Ana Díaz', '+51 911 000 111');
SELECT status, newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline();
SELECT source_table, source_pk, person_key, match_rule FROM canon.identity_links ORDER BY 1 DESC;
-- Undo the driver link: the link goes (and with it the driver's keys from the
-- person's), the audit row keeps it.
SELECT source_table, source_pk, removed_link->>'match_rule' AS rule, reason
  FROM ct4.unlink('drivers', 'D1', 'wrong person, confirmed by phone call');
SELECT count(*) AS driver_links FROM canon.identity_links WHERE source_table = 'drivers';
SELECT stage FROM canon.identity_lead_state WHERE lead_id = 1;
-- Bad calls are rejected and name the argument.
\set VERBOSITY terse
SELECT ct4.unlink('drivers', 'D1', 'again');
SELECT ct4.unlink('drivers', 'D1', '  ');
SELECT ct4.unlink(NULL, 'D1', 'x');
SELECT ct4.unlink('persons', '1', 'x');
\set VERBOSITY default
-- The next run links the driver again (nothing forbids it): unlink is an
-- audit trail, not a block list.
SELECT status, newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline();
SELECT count(*) AS removals FROM canon.identity_link_removals;
