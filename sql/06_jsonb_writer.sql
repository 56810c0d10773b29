-- The self-tests are a test-only extension (test/selftest/); 01_wall made it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ct4_jobs_selftest;
RESET client_min_messages;
-- JsonbWriter builds jsonb datums in C++ without parsing text; each of its
-- documents must be byte-identical to what jsonb_in makes of its JSON text
-- (a change of PostgreSQL's jsonb or numeric format shows up here as false).
SELECT same_bytes, doc FROM ct4._jsonb_writer_selftest();
SELECT count(*) AS rows, bool_and(same_bytes) AS all_same FROM ct4._jsonb_writer_selftest();
