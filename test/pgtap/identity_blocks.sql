-- Corrections stick (C0 rule 2, amended): ct4.unlink blocks the (row,
-- person) pair; the blocked person is set apart before ranking and the
-- others decide as usual (the row may go to another person); BLOCKED /
-- DRIVER_BLOCKED only when the blocked one would have been the unique best;
-- ct4.unblock lifts the block; both audited. As the README's operator role.
BEGIN;
SELECT plan(20);
SET LOCAL client_min_messages = warning;
CREATE ROLE ct4_t_operator NOLOGIN;
GRANT USAGE ON SCHEMA raw, canon, ops, ct4 TO ct4_t_operator;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, canon, ops, ct4 TO ct4_t_operator;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA canon, ops, ct4 TO ct4_t_operator;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ct4 TO ct4_t_operator;

-- Persons 1 and 2 share a phone with lead 100: person 1 also its license
-- (score 7), person 2 only the phone and the name (3). Person 3 shares a
-- phone with lead 300, not its name (2: weak). Person 4 (lead 4) has two
-- candidate drivers: D4A by license and name (5), D4B by phone and name (3).
INSERT INTO canon.persons (person_key) VALUES (1), (2), (3), (4);
SELECT setval('canon.persons_person_key_seq', 10) \g /dev/null
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number) VALUES
    (1, '2000-01-01', 'Luis Prado', '911000001', 'Q10000001'),
    (2, '2000-01-01', 'Luis Prado', '911000001', NULL),
    (3, '2000-01-01', 'Otra Persona', '933000003', NULL),
    (4, '2000-01-01', 'Carmen Vidal', '944000004', 'Q40000004');
INSERT INTO canon.identity_links
SELECT 'module_ct_cabinet_leads', p::text, p, 'NEW_PERSON', NULL, '{}', now(), 0 FROM generate_series(1, 4) p;
DELETE FROM canon.identity_lead_state WHERE lead_id < 4;   -- lead 4 waits for its driver
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number) VALUES
    ('D4A', 'Carmen Vidal', '900000999', 'Q40000004'),
    ('D4B', 'Carmen Vidal', '944000004', NULL);
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number) VALUES
    (100, current_date, 'Luis Prado', '911000001', 'Q10000001'),
    (300, current_date, 'Rosa Mar', '933000003', 'Q30000003');
-- Lead 300 was linked to person 3 by hand (a wrong correction before).
INSERT INTO canon.identity_links VALUES ('module_ct_cabinet_leads', '300', 3, 'MANUAL', NULL, '{}', now(), 0);
DELETE FROM canon.identity_lead_state WHERE lead_id = 300;

SET LOCAL ROLE ct4_t_operator;
SELECT results_eq('SELECT newly_linked, newly_driver_mapped FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 1)$$,
                  'first run: lead 100 to person 1 (its best), person 4 to D4A');
SELECT is((SELECT person_key FROM canon.identity_links WHERE source_pk = '100'), 1::bigint, 'lead 100 is person 1''s');

-- 1. A lead unlinked from its best person goes to the next one, decided as usual.
SELECT lives_ok($$SELECT ct4.unlink('module_ct_cabinet_leads', '100', 'person 1 is his father')$$, 'unlink lead 100');
SELECT results_eq($$SELECT source_pk, person_key, blocked_by = current_user, removal_id IS NOT NULL, lifted_at IS NULL
                      FROM canon.identity_blocks$$,
                  $$VALUES ('100', 1::bigint, true, true, true)$$, 'the pair is blocked, by whom and for which removal');
SELECT is((SELECT changed FROM canon.identity_lead_state WHERE lead_id = 100), true, 'the lead is due again');
SELECT results_eq('SELECT processed, newly_linked, conflicts FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 1, 0)$$,
                  'the next run links it, with no conflict');
SELECT results_eq($$SELECT person_key, match_rule FROM canon.identity_links WHERE source_pk = '100'$$,
                  $$VALUES (2::bigint, 'PHONE+NAME'::text)$$, 'to person 2, the best of the others');
SELECT is((SELECT (evidence->>'candidates')::int FROM canon.identity_links WHERE source_pk = '100'), 1,
          'its evidence counts the others only');

-- 2. A blocked weak candidate does not stop the others' rule: with no other
-- candidate the lead makes its own person.
SELECT lives_ok($$SELECT ct4.unlink('module_ct_cabinet_leads', '300', 'not Rosa')$$, 'unlink lead 300');
SELECT results_eq('SELECT newly_linked, conflicts FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 0)$$,
                  'person 3 was never its unique best: no BLOCKED');
SELECT results_eq($$SELECT person_key > 10, match_rule FROM canon.identity_links WHERE source_pk = '300'$$,
                  $$VALUES (true, 'NEW_PERSON'::text)$$, 'lead 300 made a new person');

-- 3. A person's driver unlinked: the next best driver is linked.
SELECT lives_ok($$SELECT ct4.unlink('drivers', 'D4A', 'D4A is her sister')$$, 'unlink D4A');
SELECT results_eq('SELECT newly_driver_mapped, conflicts FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 0)$$,
                  'the next run maps another driver');
SELECT is((SELECT source_pk FROM canon.identity_links WHERE source_table = 'drivers' AND person_key = 4), 'D4B',
          'person 4 has D4B');
SELECT is((SELECT count(*) FROM canon.identity_links WHERE source_table = 'drivers' AND source_pk = 'D4A'), 0::bigint,
          'D4A is linked to nobody (no other person shares a key with it)');

-- 4. Unblock lifts, keeps the audit, and the row is decided again.
CREATE TEMP TABLE lifted AS SELECT * FROM ct4.unblock('module_ct_cabinet_leads', '100');
SELECT results_eq('SELECT person_key, lifted_by = current_user, lifted_at IS NOT NULL FROM lifted',
                  $$VALUES (1::bigint, true, true)$$, 'unblock returns the lifted block, with who and when');
SELECT is((SELECT count(*) FROM canon.identity_blocks WHERE source_pk = '100'), 1::bigint,
          'the block stays in canon.identity_blocks');
SELECT is((SELECT changed FROM canon.identity_lead_state WHERE lead_id = 100), true, 'lead 100 is due again');
SELECT results_eq('SELECT processed, newly_linked FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 0)$$,
                  'it is decided again and stays with person 2 (links never change)');
SELECT throws_ok($$SELECT * FROM ct4.unblock('module_ct_cabinet_leads', '100')$$, 'P0002',
                 'no active block for module_ct_cabinet_leads.100', 'a second unblock says there is none');
RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
