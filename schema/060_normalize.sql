-- Normalizers of SPEC 4.2 as SQL functions (C++ in src/core/normalize.cpp,
-- wrapped by src/sqlfn/normalize_fns.cpp). IMMUTABLE and PARALLEL SAFE, so
-- they can be used in indexes and parallel plans; STRICT (NULL in, NULL out)
-- but name_similarity.
CREATE FUNCTION ct4.normalize_phone(text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_normalize_phone' LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT;
COMMENT ON FUNCTION ct4.normalize_phone(text) IS
    'Digits only, leading 00 dropped, 9 digits get country code 51; 11..15 digits or NULL';

CREATE FUNCTION ct4.normalize_license(text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_normalize_license' LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT;
COMMENT ON FUNCTION ct4.normalize_license(text) IS
    'Upper-case A-Z0-9 with O read as 0 and I as 1; fewer than 5 characters is NULL';

CREATE FUNCTION ct4.normalize_plate(text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_normalize_plate' LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT;
COMMENT ON FUNCTION ct4.normalize_plate(text) IS
    'Upper-case A-Z0-9 with O read as 0 and I as 1; fewer than 5 characters is NULL';

CREATE FUNCTION ct4.normalize_name(text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_normalize_name' LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT;
COMMENT ON FUNCTION ct4.normalize_name(text) IS
    'Accents folded, lower-case, non-letters split tokens, tokens sorted and joined by one space; NULL when empty';

-- Not STRICT: 0 when either name is NULL (SPEC 4.2), not NULL.
CREATE FUNCTION ct4.name_similarity(text, text) RETURNS double precision
    AS 'MODULE_PATHNAME', 'ct4_name_similarity' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ct4.name_similarity(text, text) IS
    'Jaro-Winkler on code points of the two normalized names (their first 200 bytes); 0 when either is NULL or empty';

-- The token rule of SPEC 4.2 (amended), with the default
-- name_token_similarity_min 0.90 (IMMUTABLE: it reads no setting). The whole
-- name rule of the job is name_similarity(a, b) >= name_similarity_min AND
-- name_tokens_agree(a, b). NULL when either has no name (NULL, empty, no letter).
CREATE FUNCTION ct4.name_tokens_agree(text, text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'ct4_name_tokens_agree' LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT;
COMMENT ON FUNCTION ct4.name_tokens_agree(text, text) IS
    'True when every token of the normalized name with fewer tokens has its own counterpart in the other (Jaro-Winkler >= 0.90, or an initial); NULL when either has no name';

-- C functions that run no SQL: nothing in them depends on search_path. The
-- key indexes on raw.* evaluate the first three with the inserting role's
-- rights, so the ingestion role needs EXECUTE on them.
INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'routine', 'ct4.normalize_phone(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.normalize_license(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.normalize_plate(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.normalize_name(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.name_similarity(text, text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.name_tokens_agree(text, text)', 'EXECUTE'),
    ('ingest', 'routine', 'ct4.normalize_phone(text)', 'EXECUTE'),
    ('ingest', 'routine', 'ct4.normalize_license(text)', 'EXECUTE'),
    ('ingest', 'routine', 'ct4.normalize_plate(text)', 'EXECUTE'),
    ('ingest', 'tables_in_schema', 'raw', 'SELECT, INSERT, UPDATE, DELETE');
