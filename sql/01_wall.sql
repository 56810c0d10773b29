-- The self-tests are a test-only extension (test/selftest/), not part of ct4_jobs.
CREATE EXTENSION ct4_jobs_selftest;
-- The C/C++ wall: C++ exceptions and PostgreSQL errors cross it cleanly,
-- keep their SQLSTATE, and leave the session working with nothing leaked.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN st || ' ' || msg || coalesce(' | detail: ' || nullif(det, ''), '')
              || coalesce(' | hint: ' || nullif(hint, ''), '');
END $$;
SELECT ct4._wall_selftest('ok');
-- A std::runtime_error thrown 8 frames deep becomes an ERROR (XX000).
SELECT pg_temp.try($$SELECT ct4._wall_selftest('cpp_throw')$$);
-- A ct4 error keeps its SQLSTATE, detail and hint.
SELECT pg_temp.try($$SELECT ct4._wall_selftest('cpp_error')$$);
SELECT pg_temp.try($$SELECT ct4._wall_selftest('bad_alloc')$$);
-- A PostgreSQL error raised beneath C++ code keeps its SQLSTATE (22012).
SELECT pg_temp.try($$SELECT ct4._wall_selftest('pg_error')$$);
-- The same, straight to the client.
SELECT ct4._wall_selftest('cpp_throw');
-- Every RAII object of the failed calls was destroyed: nothing leaked.
SELECT ct4._wall_selftest('live') AS live_objects;
-- The session goes on working, also inside a transaction with a savepoint.
BEGIN;
SAVEPOINT s;
SELECT ct4._wall_selftest('pg_error');
ROLLBACK TO SAVEPOINT s;
SELECT ct4._wall_selftest('ok');
COMMIT;
SELECT ct4._wall_selftest('live') AS live_objects;
SELECT 1 + 1 AS still_alive;
