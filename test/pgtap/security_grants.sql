-- SPEC 6: PUBLIC has no access, and the README's GRANTs give a working
-- read-only role and operator role. Roles are created in the transaction
-- and rolled back with it.
BEGIN;
SELECT plan(13);

CREATE ROLE ct4_t_nobody NOLOGIN;
-- The README's read-only role.
CREATE ROLE ct4_t_reader NOLOGIN;
GRANT USAGE ON SCHEMA raw, canon, ops, ct4 TO ct4_t_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, canon, ops, ct4 TO ct4_t_reader;
-- The README's operator role.
CREATE ROLE ct4_t_operator NOLOGIN;
GRANT ct4_t_reader TO ct4_t_operator;
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, canon, ops, ct4 TO ct4_t_operator;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA canon, ops, ct4 TO ct4_t_operator;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ct4 TO ct4_t_operator;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA ct4 TO ct4_t_operator;

INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
VALUES (1, current_date, 'Ana Perez', '987654321');

-- PUBLIC (a role with no grants) sees nothing.
SET LOCAL ROLE ct4_t_nobody;
SELECT throws_ok('SELECT count(*) FROM raw.module_ct_cabinet_leads', '42501', NULL, 'PUBLIC cannot read raw leads');
SELECT throws_ok('SELECT count(*) FROM ops.v_cabinet_leads_limbo', '42501', NULL, 'PUBLIC cannot read the limbo view');
SELECT throws_ok('SELECT ct4.normalize_phone(''987654321'')', '42501', NULL, 'PUBLIC cannot call into the ct4 schema');
SELECT throws_ok('SELECT * FROM ct4.reconcile_leads_pipeline()', '42501', NULL, 'PUBLIC cannot run a job');
RESET ROLE;

-- The reader reads every view and table, writes nothing, runs no job.
SET LOCAL ROLE ct4_t_reader;
SELECT is((SELECT count(*) FROM ops.v_cabinet_leads_limbo), 1::bigint, 'reader reads the limbo view');
SELECT lives_ok('SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly', 'reader reads the weekly funnel');
SELECT lives_ok('SELECT * FROM ct4.job_status', 'reader reads job_status');
SELECT throws_ok('DELETE FROM raw.module_ct_cabinet_leads', '42501', NULL, 'reader cannot delete leads');
SELECT throws_ok('UPDATE ct4.settings SET value = ''15'' WHERE name = ''window_days''', '42501', NULL, 'reader cannot change settings');
RESET ROLE;

-- The operator runs the identity job and changes settings.
SET LOCAL ROLE ct4_t_operator;
SELECT is((SELECT status FROM ct4.reconcile_leads_pipeline()), 'SUCCESS', 'operator runs the identity job');
SELECT is((SELECT count(*) FROM canon.identity_links), 1::bigint, 'the operator''s run linked the lead');
SELECT lives_ok('UPDATE ct4.settings SET value = ''14'' WHERE name = ''window_days''', 'operator edits settings');
RESET ROLE;

-- An ingestion role with rights on raw only: its inserts maintain the
-- expression indexes on the normalized keys (ct4 normalizers) and the
-- identity triggers without any right on ct4 or canon.
CREATE ROLE ct4_t_ingest NOLOGIN;
GRANT USAGE ON SCHEMA raw TO ct4_t_ingest;
GRANT INSERT, UPDATE ON raw.module_ct_cabinet_leads, raw.drivers TO ct4_t_ingest;
SET LOCAL ROLE ct4_t_ingest;
SELECT lives_ok($$INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate)
                  VALUES (2, current_date, 'Luis Rojas', '+51 912 345 678', 'q-1234 5678', 'abc-123');
                  INSERT INTO raw.drivers (driver_id, full_name, phone) VALUES ('D-ING', 'Luis Rojas', '912345678')$$,
                'an ingestion role with rights on raw only inserts leads and drivers');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
