-- Internal: JsonbWriter (src/core/jsonb_writer.hpp) makes the same jsonb bytes
-- as jsonb_in for each of its test documents, and p_jsonb_array's jsonb[]
-- round-trips through SQL. Every row must say same_bytes = true.
CREATE FUNCTION ct4._jsonb_writer_selftest() RETURNS TABLE(doc text, same_bytes boolean)
    AS 'MODULE_PATHNAME', 'ct4_jsonb_writer_selftest' LANGUAGE C VOLATILE;
INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._jsonb_writer_selftest()', 'EXECUTE');
