-- Test-only (test/selftest/): never in the ct4_jobs install script.
\echo Use "CREATE EXTENSION ct4_jobs_selftest" to load this file. \quit

-- Exercises the C/C++ wall (see src/pg/guard.hpp). Modes:
-- ok | cpp_throw | cpp_error | bad_alloc | pg_error | live (RAII objects alive).
CREATE FUNCTION ct4._wall_selftest(mode text DEFAULT 'ok') RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_wall_selftest' LANGUAGE C VOLATILE;

-- JsonbWriter (src/core/jsonb_writer.hpp) makes the same jsonb bytes as
-- jsonb_in for each of its test documents, and p_jsonb_array's jsonb[]
-- round-trips through SQL. Every row must say same_bytes = true.
CREATE FUNCTION ct4._jsonb_writer_selftest() RETURNS TABLE(doc text, same_bytes boolean)
    AS 'MODULE_PATHNAME', 'ct4_jsonb_writer_selftest' LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION ct4._wall_selftest(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ct4._jsonb_writer_selftest() FROM PUBLIC;
