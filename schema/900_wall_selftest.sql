-- Internal: exercises the C/C++ wall (see src/pg/guard.hpp). Modes:
-- ok | cpp_throw | cpp_error | bad_alloc | pg_error | live (RAII objects alive).
CREATE FUNCTION ct4._wall_selftest(mode text DEFAULT 'ok') RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_wall_selftest' LANGUAGE C VOLATILE;
INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._wall_selftest(text)', 'EXECUTE');
