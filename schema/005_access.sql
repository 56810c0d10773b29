-- Who may do what (SPEC 6; docs/operations.md "Roles and access").
--
-- The extension grants nothing by itself: PUBLIC has no USAGE on its schemas
-- (000_schemas.sql) and no EXECUTE on any routine (990_revoke_public.sql).
-- A tier is a set of privileges declared here as data; the owner gives a
-- role a tier with ct4.grant_access(role, tier) (README "Roles and grants").
--   reader    reads every table and view, job_status, health(), metrics()
--   operator  the reader's rights; runs, schedules, pauses, enables and
--             disables jobs; edits settings, alert rules, milestones,
--             schedule profiles and job limits. It writes no canon or ops
--             table: what it does there, the jobs do through SECURITY
--             DEFINER entry points.
--   ingest    writes raw.* (its inserts evaluate the normalizers of the key
--             indexes, so it needs EXECUTE on them)
--   owner     (routines only) granted to nobody: internals that run inside
--             SECURITY DEFINER functions, triggers, self-tests
-- Every routine of the extension has exactly one 'routine' row (tested), so
-- a new routine must say who may call it. Each schema file adds the rows of
-- the routines it creates.
CREATE TABLE ct4.access_grants (
    tier       text NOT NULL CHECK (tier IN ('reader', 'operator', 'ingest', 'owner')),
    kind       text NOT NULL CHECK (kind IN ('schema', 'tables_in_schema', 'table', 'routine')),
    object     text NOT NULL,   -- a schema name, a table name or a routine signature, qualified
    privileges text NOT NULL,   -- what GRANT gives, e.g. 'SELECT' or 'UPDATE (max_runtime)'
    PRIMARY KEY (tier, kind, object)
);
-- The extension's data, rebuilt by CREATE EXTENSION: not dumped.
SELECT pg_catalog.pg_extension_config_dump('ct4.access_grants', 'WHERE false');

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'schema', 'raw', 'USAGE'), ('reader', 'schema', 'canon', 'USAGE'),
    ('reader', 'schema', 'ops', 'USAGE'), ('reader', 'schema', 'ct4', 'USAGE'),
    ('reader', 'tables_in_schema', 'raw', 'SELECT'), ('reader', 'tables_in_schema', 'canon', 'SELECT'),
    ('reader', 'tables_in_schema', 'ops', 'SELECT'), ('reader', 'tables_in_schema', 'ct4', 'SELECT'),
    ('ingest', 'schema', 'raw', 'USAGE');

-- Grants the privileges of `tier` (the operator's include the reader's) to
-- `role_name` and returns the statements it ran. Run it again after an
-- upgrade that adds tables or routines. Owner only.
CREATE FUNCTION ct4.grant_access(role_name name, tier text) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g    record;
    stmt text;
BEGIN
    IF role_name IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role_name) THEN
        RAISE EXCEPTION 'role_name must name an existing role (got %)', coalesce(quote_literal(role_name), 'NULL')
            USING ERRCODE = '22023', HINT = 'CREATE ROLE it first.';
    END IF;
    IF grant_access.tier IS NULL OR grant_access.tier NOT IN ('reader', 'operator', 'ingest') THEN
        RAISE EXCEPTION 'tier must be reader, operator or ingest (got %)',
            coalesce(quote_literal(grant_access.tier), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    FOR g IN SELECT a.kind, a.object, a.privileges FROM ct4.access_grants a
              WHERE a.tier = grant_access.tier OR (grant_access.tier = 'operator' AND a.tier = 'reader')
              ORDER BY array_position(ARRAY['schema', 'tables_in_schema', 'table', 'routine'], a.kind), a.object
    LOOP
        stmt := format('GRANT %s ON %s TO %I', g.privileges,
                       CASE g.kind
                           WHEN 'schema' THEN 'SCHEMA ' || quote_ident(g.object)
                           WHEN 'tables_in_schema' THEN 'ALL TABLES IN SCHEMA ' || quote_ident(g.object)
                           WHEN 'table' THEN 'TABLE ' || g.object::regclass::text
                           ELSE 'ROUTINE ' || g.object::regprocedure::text
                       END, role_name);
        EXECUTE stmt;
        RETURN NEXT stmt;
    END LOOP;
END $$;

-- Rows only the owner of the table (the extension's owner) or a superuser
-- may write: a job's command runs with the owner's rights, and a
-- registered materialized view is refreshed with them (SPEC 6). A trigger,
-- not only missing grants: a broad GRANT on the schema's tables cannot
-- reopen the hole. Not SECURITY DEFINER: current_user is the writer.
-- BEFORE INSERT OR UPDATE; TG_ARGV: the columns whose change is guarded on
-- UPDATE (none: any UPDATE).
CREATE FUNCTION ct4._owner_only_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    owner_oid oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID);
    col       text;
    changed   boolean := TG_OP <> 'UPDATE' OR TG_NARGS = 0;
BEGIN
    IF pg_has_role(current_user, owner_oid, 'MEMBER') THEN
        RETURN NEW;
    END IF;
    FOREACH col IN ARRAY coalesce(TG_ARGV, '{}') LOOP
        changed := changed OR (to_jsonb(NEW) -> col) IS DISTINCT FROM (to_jsonb(OLD) -> col);
    END LOOP;
    IF NOT changed THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('only the owner of extension ct4_jobs (role %s) may %s %I.%I%s', owner_oid::regrole,
                         CASE TG_OP WHEN 'INSERT' THEN 'insert into' ELSE lower(TG_OP) END,
                         TG_TABLE_SCHEMA, TG_TABLE_NAME,
                         CASE WHEN TG_OP = 'UPDATE' AND TG_NARGS > 0
                              THEN ' (' || array_to_string(TG_ARGV, ', ') || ')' ELSE '' END),
        DETAIL = 'What is written there runs with the rights of the extension''s owner.',
        HINT = CASE TG_TABLE_NAME
                   WHEN 'jobs' THEN 'Ask the owner to register or change the job. Operators change limits and chains with UPDATE ct4.jobs SET max_runtime/max_retries/retry_delay/run_after, and use ct4.enable_job, ct4.disable_job, ct4.schedule, ct4.pause.'
                   ELSE 'Ask the owner to register it.'
               END;
END $$;

-- Who asked, inside a SECURITY DEFINER function (where current_user is the
-- owner): the role of SET ROLE, else the session's user. For audit columns.
CREATE FUNCTION ct4._actor() RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN current_setting('role') = 'none' THEN session_user
                ELSE current_setting('role')::name END
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4.grant_access(name, text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._actor()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._owner_only_rows()', 'EXECUTE');
