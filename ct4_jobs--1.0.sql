-- ct4_jobs 1.0: schema/*.sql assembled by make (frozen as ct4_jobs--1.0.sql when released)
\echo Use "CREATE EXTENSION ct4_jobs" to load this file. \quit
-- Schemas (SPEC 2). PUBLIC gets nothing: identity data is personal data.
CREATE SCHEMA raw;
CREATE SCHEMA canon;
CREATE SCHEMA ops;
CREATE SCHEMA ct4;
REVOKE ALL ON SCHEMA raw, canon, ops, ct4 FROM PUBLIC;
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
-- Inputs the jobs read (SPEC 2.1). Written by the user's ingestion.
CREATE TABLE raw.module_ct_cabinet_leads (
    lead_id        bigint PRIMARY KEY,
    lead_date      date,            -- NULL in bad data: reported by the jobs, never claimed
    full_name      text,
    phone          text,
    license_number text,
    plate          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX module_ct_cabinet_leads_lead_date_idx
    ON raw.module_ct_cabinet_leads (lead_date, lead_id);

CREATE TABLE raw.drivers (
    driver_id      text PRIMARY KEY,
    full_name      text,
    phone          text,
    license_number text,
    plate          text,
    hired_at       date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.summary_daily (
    driver_id              text    NOT NULL,
    trip_date              date    NOT NULL,
    count_orders_completed integer NOT NULL CHECK (count_orders_completed >= 0),
    PRIMARY KEY (driver_id, trip_date)
);

CREATE TABLE raw.claim_payments (
    payment_id      bigint PRIMARY KEY,
    driver_id       text          NOT NULL,
    milestone_value integer       NOT NULL,
    lead_date       date          NOT NULL,
    amount          numeric(12,2) NOT NULL,
    paid_at         timestamptz   NOT NULL
);
CREATE INDEX claim_payments_claim_idx
    ON raw.claim_payments (driver_id, milestone_value, lead_date);

SELECT pg_catalog.pg_extension_config_dump('raw.module_ct_cabinet_leads', '');
SELECT pg_catalog.pg_extension_config_dump('raw.drivers', '');
SELECT pg_catalog.pg_extension_config_dump('raw.summary_daily', '');
SELECT pg_catalog.pg_extension_config_dump('raw.claim_payments', '');
-- Settings, milestones and run history (SPEC 2.3, 5). Every job writes one
-- ct4.job_runs row per call; the identity job's runs are also shown as
-- canon.ingestion_runs.

-- Config tables ship default rows AND are dumped by pg_dump. On restore the
-- extension script inserts the defaults first and pg_restore then COPYs the
-- dumped rows; this trigger makes such an insert replace the row with the
-- same key instead of failing, so edited defaults survive dump/restore.
-- TG_ARGV[0] names the key column.
CREATE FUNCTION ct4._config_row_replaces() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('DELETE FROM %I.%I t WHERE t.%I = ($1).%I',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[0])
      USING NEW;
    RETURN NEW;
END $$;

-- Settings are validated when written (SPEC 6): each row says its type and
-- range, and a trigger refuses a value outside them with 22023 naming the
-- setting and what is allowed, so a run never meets a malformed setting.
-- A new setting is one row with its rules. value_type: integer, numeric
-- (min_value..max_value, inclusive), interval (the same, as intervals),
-- boolean, timezone (a zone name PostgreSQL knows), text (non-empty). The operator changes `value` only.
CREATE TABLE ct4.settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    description text,
    value_type  text NOT NULL CHECK (value_type IN ('integer', 'numeric', 'interval', 'boolean', 'timezone', 'text')),
    min_value   text,
    max_value   text
);
INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value) VALUES
    ('window_days',         '14',   'Length of a lead''s claim window in days: lead_date <= trip_date < lead_date + window_days', 'integer', '1', '365'),
    ('score_license',       '4',    'Score added when the normalized license numbers are equal', 'numeric', '0', '100'),
    ('score_phone',         '2',    'Score added when the normalized phones are equal', 'numeric', '0', '100'),
    ('score_plate',         '1',    'Score added when the normalized plates are equal', 'numeric', '0', '100'),
    ('score_name',          '1',    'Score added when the names agree: similarity >= name_similarity_min and the tokens pair up (name_token_similarity_min)', 'numeric', '0', '100'),
    ('name_similarity_min', '0.85', 'Jaro-Winkler similarity of normalized names that counts as agreeing', 'numeric', '0', '1'),
    ('name_token_similarity_min', '0.90', 'Jaro-Winkler of two name tokens that makes them counterparts: a name agrees only when every token of the name with fewer tokens has its own counterpart in the other (else name_conflict)', 'numeric', '0', '1'),
    ('link_threshold',      '3',    'Minimum score of the unique best candidate for a link', 'numeric', '1', '100');

-- What a setting allows, in words: 'an integer from 1 to 365'.
CREATE FUNCTION ct4._setting_allowed(s ct4.settings) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE s.value_type
               WHEN 'integer' THEN 'an integer'
               WHEN 'numeric' THEN 'a number'
               WHEN 'interval' THEN 'an interval'
               WHEN 'boolean' THEN 'true or false'
               WHEN 'timezone' THEN 'a time zone name (pg_timezone_names)'
               ELSE 'a non-empty text' END
        || CASE WHEN s.value_type IN ('integer', 'numeric', 'interval') THEN
               coalesce(' from ' || s.min_value, '') || coalesce(CASE WHEN s.min_value IS NULL THEN ' up ' ELSE ' ' END
                                                                 || 'to ' || s.max_value, '')
           ELSE '' END
$$;

-- Whether the row's value is of its type and within its range.
CREATE FUNCTION ct4._setting_valid(s ct4.settings) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CASE s.value_type
        WHEN 'integer', 'numeric' THEN
            IF s.value_type = 'integer' THEN PERFORM s.value::integer; END IF;
            -- NaN and infinities are no setting (NaN sorts above every number).
            RETURN s.value::numeric NOT IN ('NaN', 'Infinity', '-Infinity')
               AND (s.min_value IS NULL OR s.value::numeric >= s.min_value::numeric)
               AND (s.max_value IS NULL OR s.value::numeric <= s.max_value::numeric);
        WHEN 'interval' THEN
            RETURN (s.min_value IS NULL OR s.value::interval >= s.min_value::interval)
               AND (s.max_value IS NULL OR s.value::interval <= s.max_value::interval);
        WHEN 'boolean' THEN
            PERFORM s.value::boolean;
            RETURN true;
        WHEN 'timezone' THEN
            PERFORM now() AT TIME ZONE s.value;
            RETURN true;
        ELSE
            RETURN length(btrim(s.value)) > 0;
    END CASE;
EXCEPTION WHEN data_exception OR invalid_parameter_value THEN
    RETURN false;   -- not of its type (invalid text representation, out of range, unknown zone)
END $$;

CREATE FUNCTION ct4._settings_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.value_type IS NULL THEN
        RAISE EXCEPTION 'setting "%" has no value_type: it is not a setting of the extension', NEW.name
            USING ERRCODE = '22023',
                  HINT = 'The settings: SELECT name FROM ct4.settings. A new setting is one row with its rules: '
                         'INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value).';
    END IF;
    IF NOT ct4._setting_valid(NEW) THEN
        RAISE EXCEPTION 'setting "%" must be % (got %)', NEW.name, ct4._setting_allowed(NEW),
            coalesce(quote_literal(NEW.value), 'NULL')
            USING ERRCODE = '22023', DETAIL = coalesce(NEW.description, ''),
                  HINT = format('UPDATE ct4.settings SET value = ... WHERE name = %L, with %s.',
                                NEW.name, ct4._setting_allowed(NEW));
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE ct4.milestones (
    milestone_value integer PRIMARY KEY CHECK (milestone_value > 0),
    trips_required  integer NOT NULL CHECK (trips_required > 0),
    amount          numeric(12,2) NOT NULL CHECK (amount >= 0)
);
INSERT INTO ct4.milestones VALUES (1, 1, 25.00), (5, 5, 35.00), (25, 25, 100.00);

CREATE TRIGGER settings_replace BEFORE INSERT ON ct4.settings
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('name');
CREATE TRIGGER settings_valid BEFORE INSERT OR UPDATE ON ct4.settings
    FOR EACH ROW EXECUTE FUNCTION ct4._settings_check();
CREATE TRIGGER milestones_replace BEFORE INSERT ON ct4.milestones
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('milestone_value');

CREATE TABLE ct4.job_runs (
    run_id        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    job_name      text        NOT NULL,
    status        text        NOT NULL
        CHECK (status IN ('RUNNING', 'SUCCESS', 'DRY_RUN', 'SKIPPED_LOCKED', 'FAILED', 'CRASHED')),
    attempt       integer     NOT NULL DEFAULT 1,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    stats         jsonb       NOT NULL DEFAULT '{}',
    args          jsonb       NOT NULL DEFAULT '{}',
    sqlstate      text,
    error_message text,
    backend_pid   integer     NOT NULL DEFAULT pg_backend_pid(),
    source_tables text[]      NOT NULL DEFAULT '{}',
    retry_of      bigint      REFERENCES ct4.job_runs (run_id) ON DELETE SET NULL
);
CREATE INDEX job_runs_job_started_idx ON ct4.job_runs (job_name, started_at DESC);
CREATE INDEX job_runs_running_idx ON ct4.job_runs (status) WHERE status = 'RUNNING';

-- Counters of finished runs by job and final status, kept as runs finish
-- (SPEC 6: counters never decrease): pruning ct4.job_runs leaves them, so
-- ct4_job_runs_total never goes down and Prometheus sees no false reset. A
-- run counts when its row leaves RUNNING (every run is recorded RUNNING
-- first); rows written as already finished (a restore's COPY, a test's
-- crafted history) do not count, so a restore keeps the dumped counters.
CREATE TABLE ct4.run_counters (
    job_name         text   NOT NULL,
    status           text   NOT NULL,
    runs             bigint NOT NULL DEFAULT 0 CHECK (runs >= 0),
    duration_seconds double precision NOT NULL DEFAULT 0,   -- sum of finished_at - started_at
    PRIMARY KEY (job_name, status)
);
CREATE FUNCTION ct4._run_counters_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO ct4.run_counters AS c (job_name, status, runs, duration_seconds)
    SELECT n.job_name, n.status, count(*),
           coalesce(sum(extract(epoch FROM n.finished_at - n.started_at)), 0)
      FROM new_rows n JOIN old_rows o ON o.run_id = n.run_id
     WHERE o.status = 'RUNNING' AND n.status <> 'RUNNING'
     GROUP BY n.job_name, n.status
    ON CONFLICT (job_name, status) DO UPDATE
       SET runs = c.runs + excluded.runs, duration_seconds = c.duration_seconds + excluded.duration_seconds;
    RETURN NULL;
END $$;
CREATE TRIGGER job_runs_count AFTER UPDATE ON ct4.job_runs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._run_counters_add();

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._config_row_replaces()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._run_counters_add()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._settings_check()', 'EXECUTE'),
    -- the operator's UPDATE runs the trigger, which calls these as the operator
    ('reader', 'routine', 'ct4._setting_allowed(ct4.settings)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._setting_valid(ct4.settings)', 'EXECUTE'),
    -- The operator edits settings' values and milestones (validated when
    -- written); a setting's type and range are the extension's.
    ('operator', 'table', 'ct4.settings', 'UPDATE (value)'),
    ('operator', 'table', 'ct4.milestones', 'INSERT, UPDATE, DELETE');

SELECT pg_catalog.pg_extension_config_dump('ct4.settings', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.milestones', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.job_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.run_counters', '');
-- Canonical identity (SPEC 2.2). Written by the jobs only; the C0 rules are
-- enforced by keys here and by the matcher (no job updates or deletes a link).

CREATE TABLE canon.persons (
    person_key     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by_run bigint
);

CREATE TABLE canon.identity_links (
    source_table text        NOT NULL CHECK (source_table IN ('module_ct_cabinet_leads', 'drivers')),
    source_pk    text        NOT NULL,
    person_key   bigint      NOT NULL REFERENCES canon.persons,
    match_rule   text        NOT NULL,
    match_score  real,
    evidence     jsonb       NOT NULL,
    linked_at    timestamptz NOT NULL,
    run_id       bigint      NOT NULL,
    PRIMARY KEY (source_table, source_pk)
);
-- A person's rows: its leads here, its driver in the index below. Two
-- partial indexes instead of one on (person_key, source_table): every query
-- asks for one kind, and a driver link goes into one person index, not two.
CREATE INDEX identity_links_person_leads_idx ON canon.identity_links (person_key)
    WHERE source_table = 'module_ct_cabinet_leads';
-- C0 rule 3: a person has at most one linked driver.
CREATE UNIQUE INDEX identity_links_one_driver_per_person
    ON canon.identity_links (person_key) WHERE source_table = 'drivers';

-- The normalized match keys are not copied here: they are indexed where the
-- data lives, by expression indexes on raw.module_ct_cabinet_leads and
-- raw.drivers (schema/100_identity.sql), and a person's keys are those of the
-- raw rows linked to it (SPEC 2.2 leaves the choice to the project).

CREATE TABLE canon.identity_unmatched (
    source_table  text   NOT NULL,
    source_pk     text   NOT NULL,
    reason_code   text   NOT NULL CHECK (reason_code IN (
        'NO_CANDIDATES', 'AMBIGUOUS', 'WEAK_MATCH', 'INVALID_DATA', 'BLOCKED',
        'DRIVER_AMBIGUOUS', 'DRIVER_WEAK_MATCH', 'DRIVER_CONFLICT', 'DRIVER_NO_CANDIDATES',
        'DRIVER_BLOCKED')),
    details       jsonb  NOT NULL,
    snapshot_date date   NOT NULL,
    run_id        bigint NOT NULL,
    PRIMARY KEY (source_table, source_pk, snapshot_date)
);

-- Audit trail of ct4.unlink(): the removed link and why. person_rows_left:
-- the rows still linked to the person afterwards (0: the person is left
-- with no row; it stays, as the audit trail and the ledger name it).
CREATE TABLE canon.identity_link_removals (
    removal_id       bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_table     text        NOT NULL,
    source_pk        text        NOT NULL,
    removed_link     jsonb       NOT NULL,
    reason           text        NOT NULL CHECK (length(btrim(reason)) > 0),
    removed_by       name        NOT NULL DEFAULT current_user,
    removed_at       timestamptz NOT NULL DEFAULT now(),
    person_rows_left integer
);

-- C0 rule 2: a correction sticks. ct4.unlink blocks the (row, person) pair:
-- no job links that row to that person again until ct4.unblock lifts the
-- block. Blocks are never deleted: a lifted block keeps who lifted it and
-- when, so the table is the audit trail of both operations.
CREATE TABLE canon.identity_blocks (
    block_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_table text        NOT NULL CHECK (source_table IN ('module_ct_cabinet_leads', 'drivers')),
    source_pk    text        NOT NULL,
    person_key   bigint      NOT NULL,
    removal_id   bigint REFERENCES canon.identity_link_removals,
    reason       text        NOT NULL,
    blocked_by   name        NOT NULL DEFAULT current_user,
    blocked_at   timestamptz NOT NULL DEFAULT now(),
    lifted_by    name,
    lifted_at    timestamptz,
    CHECK ((lifted_by IS NULL) = (lifted_at IS NULL))
);
-- One active block per pair; the jobs read a row's active blocks (leads) or
-- a person's (drivers).
CREATE UNIQUE INDEX identity_blocks_active_idx ON canon.identity_blocks (source_table, source_pk, person_key)
    WHERE lifted_at IS NULL;
CREATE INDEX identity_blocks_active_person_idx ON canon.identity_blocks (person_key)
    WHERE lifted_at IS NULL AND source_table = 'drivers';

CREATE VIEW canon.ingestion_runs AS
SELECT r.run_id, r.job_name, r.status, r.source_tables, r.stats,
       r.started_at AS created_at, r.finished_at
  FROM ct4.job_runs r
 WHERE r.job_name = 'reconcile_leads_pipeline';

SELECT pg_catalog.pg_extension_config_dump('canon.persons', '');
SELECT pg_catalog.pg_extension_config_dump('canon.persons_person_key_seq', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_links', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_unmatched', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_link_removals', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_link_removals_removal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_blocks', '');
SELECT pg_catalog.pg_extension_config_dump('canon.identity_blocks_block_id_seq', '');
-- The claims ledger (SPEC 2.3): one row per filed claim, never deleted by a job.
CREATE TABLE ops.cabinet_claims_14d (
    claim_id        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    driver_id       text          NOT NULL,
    person_key      bigint        NOT NULL,
    lead_id         bigint        NOT NULL,
    lead_date       date          NOT NULL,
    milestone_value integer       NOT NULL,
    amount          numeric(12,2) NOT NULL,
    trips_in_window integer       NOT NULL,
    achieved_date   date          NOT NULL,
    window_end      date          NOT NULL,
    evidence        jsonb         NOT NULL,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    run_id          bigint        NOT NULL,
    UNIQUE (driver_id, milestone_value)
);
CREATE INDEX cabinet_claims_14d_lead_idx ON ops.cabinet_claims_14d (lead_date, lead_id);

-- Materialized views the claims job refreshes after filing (SPEC 4.3).
CREATE TABLE ct4.refresh_views (
    view_name    text PRIMARY KEY,      -- schema-qualified name of a materialized view
    refresh_concurrently boolean NOT NULL DEFAULT false,
    description  text
);

SELECT pg_catalog.pg_extension_config_dump('ops.cabinet_claims_14d', '');
SELECT pg_catalog.pg_extension_config_dump('ops.cabinet_claims_14d_claim_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.refresh_views', '');
-- Operational views of the funnel (SPEC 3). Plain views, correct on their
-- own before any job runs; every one is set-based (joins and window
-- functions, no per-row subqueries) so that it scales to millions of leads.
-- The decisions where SPEC is silent are in docs/data_model.md.
--
-- Building blocks (internal, prefixed with _):
--   ops._lead_driver  one row per lead whose person has a driver
--   ops._lead_window  one row per lead with a driver: trips in its window and
--                     the milestones achieved (parallel arrays)
--   ops._lead_gaps    one row per achieved (lead, milestone) with its claim
--                     status, plus one row with milestone_value NULL for a
--                     lead that achieved nothing (it carries trips_in_window),
--                     so that the limbo view needs a single pass over trips.
-- The window function partitions by every lead column and _lead_window
-- groups by them, so a filter on lead_id, lead_date or driver_id is pushed
-- down to the join with raw.summary_daily.

-- window_days setting (SPEC 2.3), read once per query (an InitPlan).
CREATE FUNCTION ops._window_days() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT s.value::integer FROM ct4.settings s WHERE s.name = 'window_days'), 14)
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'routine', 'ops._window_days()', 'EXECUTE');   -- the views call it with the reader's rights

CREATE VIEW ops._lead_driver AS
SELECT l.lead_id, l.lead_date, ll.person_key, dl.source_pk AS driver_id
  FROM raw.module_ct_cabinet_leads l
  JOIN canon.identity_links ll
    ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
  JOIN canon.identity_links dl
    ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key;

-- The achieved day of a milestone is the one trip day where the cumulative
-- count crosses trips_required (cum >= required > cum - that day's count).
CREATE VIEW ops._lead_window AS
WITH days AS (
    SELECT ld.lead_id, ld.lead_date, ld.person_key, ld.driver_id,
           s.trip_date, s.count_orders_completed,
           sum(s.count_orders_completed)
               OVER (PARTITION BY ld.lead_id, ld.lead_date, ld.driver_id, ld.person_key
                     ORDER BY s.trip_date) AS cum_orders
      FROM ops._lead_driver ld
      LEFT JOIN raw.summary_daily s
        ON s.driver_id = ld.driver_id
       AND s.trip_date >= ld.lead_date
       AND s.trip_date < ld.lead_date + (SELECT ops._window_days())
)
SELECT d.lead_id, d.lead_date, d.person_key, d.driver_id,
       d.lead_date AS window_start,
       d.lead_date + (SELECT ops._window_days()) - 1 AS window_end,
       -- a day crossing two milestones appears twice: max, not sum;
       -- NULL when the lead has no window (NULL lead_date)
       CASE WHEN d.lead_date IS NOT NULL THEN coalesce(max(d.cum_orders), 0)::integer END
           AS trips_in_window,
       array_agg(m.milestone_value) FILTER (WHERE m.milestone_value IS NOT NULL) AS achieved_milestones,
       array_agg(d.trip_date) FILTER (WHERE m.milestone_value IS NOT NULL) AS achieved_dates
  FROM days d
  LEFT JOIN ct4.milestones m
    ON d.cum_orders >= m.trips_required
   AND d.cum_orders - d.count_orders_completed < m.trips_required
 GROUP BY d.lead_id, d.lead_date, d.driver_id, d.person_key;

-- One row per achieved (driver, milestone, lead).
CREATE VIEW ops.v_cabinet_milestones_achieved_from_payment_calc AS
SELECT w.driver_id, w.person_key, w.lead_id, w.lead_date, a.milestone_value,
       m.trips_required, m.amount, w.trips_in_window, a.achieved_date,
       w.window_start, w.window_end
  FROM ops._lead_window w
  CROSS JOIN LATERAL unnest(w.achieved_milestones, w.achieved_dates) AS a(milestone_value, achieved_date)
  JOIN ct4.milestones m ON m.milestone_value = a.milestone_value;

-- One row per lead with a driver (NULL lead_date included: it has no window,
-- so window_* and trips_in_window are NULL and nothing is achieved).
-- Per milestone: achieved_m<N> / achieved_date_m<N> for the default
-- milestones 1, 5 and 25, and milestones_achieved (jsonb value -> date) for
-- every milestone of ct4.milestones, so edited milestones are shown too.
CREATE VIEW ops.v_payment_calculation AS
SELECT w.lead_id, w.lead_date, w.person_key, w.driver_id, w.window_start, w.window_end,
       w.trips_in_window,
       a.m1 IS NOT NULL AS achieved_m1, a.m1 AS achieved_date_m1,
       a.m5 IS NOT NULL AS achieved_m5, a.m5 AS achieved_date_m5,
       a.m25 IS NOT NULL AS achieved_m25, a.m25 AS achieved_date_m25,
       coalesce(a.milestones_achieved, '{}'::jsonb) AS milestones_achieved
  FROM ops._lead_window w
  LEFT JOIN LATERAL (
      SELECT min(u.d) FILTER (WHERE u.m = 1) AS m1,
             min(u.d) FILTER (WHERE u.m = 5) AS m5,
             min(u.d) FILTER (WHERE u.m = 25) AS m25,
             jsonb_object_agg(u.m::text, u.d) AS milestones_achieved
        FROM unnest(w.achieved_milestones, w.achieved_dates) AS u(m, d)
  ) a ON true;

-- One row per ledger claim with what raw.claim_payments paid for it,
-- matched on (driver_id, milestone_value, lead_date). PAID when the payments
-- cover the claim's amount; a partial payment is still PENDING.
CREATE VIEW ops.v_claims_payment_status_cabinet AS
WITH paid AS (
    SELECT p.driver_id, p.milestone_value, p.lead_date,
           sum(p.amount) AS paid_amount, count(*)::integer AS payments, max(p.paid_at) AS last_paid_at
      FROM raw.claim_payments p
     GROUP BY p.driver_id, p.milestone_value, p.lead_date
)
SELECT c.claim_id, c.driver_id, c.person_key, c.lead_id, c.lead_date, c.milestone_value,
       c.amount, c.trips_in_window, c.achieved_date, c.window_end, c.evidence, c.created_at,
       c.run_id,
       coalesce(p.paid_amount, 0)::numeric(12,2) AS paid_amount,
       coalesce(p.payments, 0) AS payments,
       p.last_paid_at,
       CASE WHEN coalesce(p.paid_amount, 0) >= c.amount THEN 'PAID' ELSE 'PENDING' END AS payment_status
  FROM ops.cabinet_claims_14d c
  LEFT JOIN paid p
    ON p.driver_id = c.driver_id AND p.milestone_value = c.milestone_value
   AND p.lead_date = c.lead_date;

-- One row per achieved (lead, milestone) with the ledger claim of its
-- (driver, milestone) if any (the ledger holds at most one), plus one row
-- with milestone_value NULL per lead that achieved nothing. Leads of a driver
-- are ordered by (lead_date, lead_id). claim_status / gap_reason:
--   EXISTS  CLAIM_FILED                 the claim is filed for this lead
--   EXISTS  CLAIMED_UNDER_EARLIER_LEAD  filed for an earlier lead of the driver
--   MISSING CLAIMED_UNDER_LATER_LEAD    filed for a later lead (this earlier lead
--           was linked after the claim was filed): SPEC 3 puts this lead in
--           TRIPS_NO_CLAIM (no claim for it, none under an earlier lead), and
--           the claims job reports it INVALID: the ledger's one claim per
--           (driver, milestone) is taken and no job rewrites the ledger
--   MISSING MILESTONE_ACHIEVED_NO_CLAIM this lead is the earliest one whose window
--           achieved it and no claim exists: the claims job files it
--   MISSING EARLIER_LEAD_UNCLAIMED      an earlier lead of the driver achieved it
--           too and is unclaimed as well: the claim belongs to that lead; this
--           row turns into CLAIMED_UNDER_EARLIER_LEAD once that one is filed
CREATE VIEW ops._lead_gaps AS
WITH achieved AS (
    SELECT w.driver_id, w.person_key, w.lead_id, w.lead_date, a.milestone_value,
           w.trips_in_window, a.achieved_date, w.window_end
      FROM ops._lead_window w
      LEFT JOIN LATERAL unnest(w.achieved_milestones, w.achieved_dates)
           AS a(milestone_value, achieved_date) ON true
), ranked AS (
    SELECT a.*,
           row_number() OVER (PARTITION BY a.driver_id, a.milestone_value
                              ORDER BY a.lead_date, a.lead_id) AS lead_rank
      FROM achieved a
)
SELECT r.driver_id, r.person_key, r.lead_id, r.lead_date, r.milestone_value, m.amount,
       r.trips_in_window, r.achieved_date, r.window_end,
       c.claim_id, c.lead_id AS claim_lead_id,
       CASE WHEN r.milestone_value IS NULL THEN NULL
            WHEN c.claim_id IS NULL THEN 'MISSING'
            WHEN (c.lead_date, c.lead_id) > (r.lead_date, r.lead_id) THEN 'MISSING'
            ELSE 'EXISTS' END AS claim_status,
       CASE
           WHEN r.milestone_value IS NULL THEN NULL
           WHEN c.claim_id IS NOT NULL AND c.lead_id = r.lead_id THEN 'CLAIM_FILED'
           WHEN c.claim_id IS NOT NULL AND (c.lead_date, c.lead_id) < (r.lead_date, r.lead_id)
               THEN 'CLAIMED_UNDER_EARLIER_LEAD'
           WHEN c.claim_id IS NOT NULL THEN 'CLAIMED_UNDER_LATER_LEAD'
           WHEN r.lead_rank = 1 THEN 'MILESTONE_ACHIEVED_NO_CLAIM'
           ELSE 'EARLIER_LEAD_UNCLAIMED'
       END AS gap_reason
  FROM ranked r
  LEFT JOIN ct4.milestones m ON m.milestone_value = r.milestone_value
  LEFT JOIN ops.cabinet_claims_14d c
    ON c.driver_id = r.driver_id AND c.milestone_value = r.milestone_value;

-- One row per achieved milestone (driver, lead, milestone); see _lead_gaps.
CREATE VIEW ops.v_cabinet_claims_gap_14d AS
SELECT g.driver_id, g.person_key, g.lead_id, g.lead_date, g.milestone_value, g.amount,
       g.trips_in_window, g.achieved_date, g.window_end, g.claim_id, g.claim_lead_id,
       g.claim_status, g.gap_reason
  FROM ops._lead_gaps g
 WHERE g.milestone_value IS NOT NULL;

-- One row per lead, at the first stage of the funnel where it is stuck:
--   NO_IDENTITY    the lead is not linked to a person
--   NO_DRIVER      its person has no linked driver
--   NO_TRIPS_14D   no milestone achieved in its window (also: NULL lead_date,
--                  which has no window)
--   TRIPS_NO_CLAIM one of its achieved milestones is MISSING in the gap view
--   OK             every achieved milestone is claimed (for it or another lead)
-- trips_in_window is NULL when the lead has no window (no driver or no date).
CREATE VIEW ops.v_cabinet_leads_limbo AS
WITH gaps AS (
    SELECT g.lead_id, max(g.trips_in_window) AS trips_in_window,
           count(g.milestone_value)::integer AS milestones_achieved,
           count(*) FILTER (WHERE g.claim_status = 'MISSING')::integer AS claims_missing
      FROM ops._lead_gaps g
     GROUP BY g.lead_id
)
SELECT l.lead_id, l.lead_date, ll.person_key, dl.source_pk AS driver_id,
       CASE WHEN dl.source_pk IS NOT NULL AND l.lead_date IS NOT NULL
            THEN coalesce(g.trips_in_window, 0) END AS trips_in_window,
       coalesce(g.milestones_achieved, 0) AS milestones_achieved,
       coalesce(g.claims_missing, 0) AS claims_missing,
       CASE
           WHEN ll.person_key IS NULL THEN 'NO_IDENTITY'
           WHEN dl.source_pk IS NULL THEN 'NO_DRIVER'
           WHEN coalesce(g.milestones_achieved, 0) = 0 THEN 'NO_TRIPS_14D'
           WHEN g.claims_missing > 0 THEN 'TRIPS_NO_CLAIM'
           ELSE 'OK'
       END AS limbo_stage
  FROM raw.module_ct_cabinet_leads l
  LEFT JOIN canon.identity_links ll
    ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
  LEFT JOIN canon.identity_links dl
    ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
  LEFT JOIN gaps g ON g.lead_id = l.lead_id;

-- One row per ISO week (Monday) of lead_date. Leads with a NULL lead_date
-- belong to no week and are not counted here (see v_cabinet_leads_limbo).
CREATE VIEW ops.v_cabinet_14d_funnel_audit_weekly AS
SELECT date_trunc('week', v.lead_date)::date AS week_start,
       count(*)::integer AS leads_total,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_IDENTITY')::integer    AS limbo_no_identity,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_DRIVER')::integer      AS limbo_no_driver,
       count(*) FILTER (WHERE v.limbo_stage = 'NO_TRIPS_14D')::integer   AS limbo_no_trips_14d,
       count(*) FILTER (WHERE v.limbo_stage = 'TRIPS_NO_CLAIM')::integer AS limbo_trips_no_claim,
       count(*) FILTER (WHERE v.limbo_stage = 'OK')::integer             AS limbo_ok
  FROM ops.v_cabinet_leads_limbo v
 WHERE v.lead_date IS NOT NULL
 GROUP BY 1;
-- Indexes for the funnel views (schema/050_ops_views.sql).
-- Identity links store a lead's key as text (source_pk = lead_id::text), so a
-- look-up from a link to its lead (e.g. the views filtered by driver_id or
-- person_key) needs the lead's key as text too.
CREATE INDEX module_ct_cabinet_leads_lead_id_text_idx
    ON raw.module_ct_cabinet_leads ((lead_id::text));
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
-- ct4.generate_demo_data(leads, seed, replace): realistic, deterministic demo
-- data in raw.* at any scale (docs/demo_data.md).
--
-- Determinism: every value is a function of (row number, seed, current_date)
-- through hashint8extended, never random(), so the rows do not depend on the
-- plan, parallelism or insertion order: the same arguments on the same day
-- give byte-identical tables. Lead dates are relative to current_date (the
-- last ~120 days) so that the daily jobs always find recent work.
--
-- Model: lead i belongs to a "person seed" p (p = i, or an earlier lead's
-- number for a second sign-up of the same person). A person's attributes
-- (name, phone, licence, plate, whether and how it drives) are functions of
-- p; each source row (lead or driver) writes them in its own messy format.
-- Persons with is_driver get a raw.drivers row 'drv_<p>'; n/20 more drivers
-- never signed up through the cabinet.
--
-- The helpers are single-expression SQL functions without SET, so that the
-- planner inlines them into the INSERT ... SELECT (no per-row call cost).
-- OFFSET 0 keeps a subquery's computed columns as plain values: without it
-- the planner pastes the whole hash expression into every use (and refuses
-- to inline a helper whose argument is such an expensive expression).

-- Uniform hash in [0, 1) of (n, k) under seed; k < 64 names the purpose.
CREATE FUNCTION ct4._demo_u(n bigint, k integer, seed integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.hashint8extended($1 * 64 + $2, $3) & 2147483647)::double precision / 2147483648.0
$$;

-- Hash in [0, m).
CREATE FUNCTION ct4._demo_h(n bigint, k integer, seed integer, m integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((pg_catalog.hashint8extended($1 * 64 + $2, $3) & 2147483647) % $4)::integer
$$;

-- Lead dates grow with the lead number over 120 days up to yesterday, +-1 day.
CREATE FUNCTION ct4._demo_date(i bigint, n bigint, seed integer) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT current_date - 120 + ((($1 - 1) * 118) / greatest($2, 1))::integer
           + ct4._demo_h($1, 1, $3, 3)
$$;

-- The person seed of lead i: 8 % of leads (not the first) are a second
-- sign-up of a person who signed up up to ~10 days (n/12 leads) earlier.
CREATE FUNCTION ct4._demo_person_of(i bigint, n bigint, seed integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN $1 > 1 AND ct4._demo_u($1, 2, $3) < 0.08
                THEN greatest(1, $1 - 1 - floor(ct4._demo_u($1, 3, $3) * greatest($2 / 12, 1))::bigint)
                ELSE $1 END
$$;

-- A person's identity. 1 % share the phone and family name of person p-1
-- (relatives: ambiguous look-alikes). Phones, licences and plates are random,
-- so chance collisions happen as in real data.
CREATE FUNCTION ct4._demo_person(p bigint, seed integer)
RETURNS TABLE(first_name text, last1 text, last2 text, phone9 text, license text, plate text,
              is_driver boolean, foreign_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['José','María','Jesús','Ángel','Rocío','Sofía','Iñigo','Martín','Lucía','Raúl',
                  'Verónica','Andrés','Nicolás','Inés','Joaquín','Mónica','Óscar','Ramón','Begoña','Héctor',
                  'Carlos','Luis','Ana','Juan','Pedro','Rosa','Miguel','Carmen','Jorge','Diana'])
               [1 + ct4._demo_h(p, 10, seed, 30)],
           (ARRAY['Pérez','Gómez','Núñez','Rodríguez','Fernández','López','Martínez','Sánchez','Ramírez','Torres',
                  'Flores','Rivera','Gutiérrez','Chávez','Quispe','Mamani','Huamán','Castañeda','Peña','Ibáñez',
                  'Muñoz','Díaz','Vásquez','Rojas','Mendoza','Cruz','Morales','Ortiz','Silva','Vargas'])
               [1 + ct4._demo_h(f.family, 11, seed, 30)],
           (ARRAY['Pérez','Gómez','Núñez','Rodríguez','Fernández','López','Martínez','Sánchez','Ramírez','Torres',
                  'Flores','Rivera','Gutiérrez','Chávez','Quispe','Mamani','Huamán','Castañeda','Peña','Ibáñez',
                  'Muñoz','Díaz','Vásquez','Rojas','Mendoza','Cruz','Morales','Ortiz','Silva','Vargas'])
               [1 + ct4._demo_h(p, 12, seed, 30)],
           '9' || lpad(ct4._demo_h(f.family, 13, seed, 100000000)::text, 8, '0'),
           chr(65 + ct4._demo_h(p, 14, seed, 26)) || lpad(ct4._demo_h(p, 15, seed, 100000000)::text, 8, '0'),
           chr(65 + ct4._demo_h(p, 16, seed, 26)) || chr(65 + ct4._demo_h(p, 17, seed, 26))
               || chr(65 + ct4._demo_h(p, 18, seed, 26)) || lpad(ct4._demo_h(p, 19, seed, 1000)::text, 3, '0'),
           ct4._demo_u(p, 20, seed) < 0.62,
           -- 0.5 % non-Latin or decorated names
           CASE WHEN ct4._demo_u(p, 21, seed) < 0.005
                THEN (ARRAY['Дмитрий Иванов','Ольга Смирнова','王 伟','Zoë Brontë','Łukasz Wójcik',
                            'Γιώργος Παπαδόπουλος','Ngọc Trần','Ana 😀 Flores'])[1 + ct4._demo_h(p, 22, seed, 8)]
           END
      FROM (SELECT CASE WHEN p > 1 AND ct4._demo_u(p, 23, seed) < 0.01 THEN p - 1 ELSE p END AS family) f
$$;

-- Name as one source row writes it: accents or not, upper/lower case, family
-- names first, hyphens and double spaces, a dropped letter (typo, 1 in 11).
CREATE FUNCTION ct4._demo_fmt_name(first text, last1 text, last2 text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $4 % 11
        WHEN 1 THEN upper(translate($2 || ' ' || $3 || ' ' || $1, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        WHEN 2 THEN lower(translate($1 || ' ' || $2, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        WHEN 3 THEN $1 || '  ' || $2 || '-' || $3
        WHEN 4 THEN upper($2) || ', ' || $1
        WHEN 5 THEN $1 || ' ' || overlay($2 placing '' from 2 for 1) || ' ' || $3
        WHEN 6 THEN upper(translate($2 || ' ' || $1, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        ELSE $1 || ' ' || $2 || ' ' || $3
    END
$$;

-- Phone as written: '+51 987 654 321', '987654321', '0051987654321',
-- '(51) 987-654-321', '51987654321'.
CREATE FUNCTION ct4._demo_fmt_phone(phone9 text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN '+51 ' || substr($1, 1, 3) || ' ' || substr($1, 4, 3) || ' ' || substr($1, 7, 3)
        WHEN 1 THEN $1
        WHEN 2 THEN '0051' || $1
        WHEN 3 THEN '(51) ' || substr($1, 1, 3) || '-' || substr($1, 4, 3) || '-' || substr($1, 7, 3)
        ELSE '51' || $1
    END
$$;

-- Licence / plate as written: separators, lower case, O for 0 and I for 1.
CREATE FUNCTION ct4._demo_fmt_license(lic text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN $1
        WHEN 1 THEN substr($1, 1, 1) || '-' || substr($1, 2, 4) || ' ' || substr($1, 6)
        WHEN 2 THEN lower($1)
        ELSE translate($1, '01', 'OI')
    END
$$;

CREATE FUNCTION ct4._demo_fmt_plate(plate text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN substr($1, 1, 3) || '-' || substr($1, 4)
        WHEN 1 THEN lower(substr($1, 1, 3) || '-' || substr($1, 4))
        WHEN 2 THEN substr($1, 1, 3) || ' ' || substr($1, 4)
        ELSE translate($1, '01', 'OI')
    END
$$;

-- A timestamp on day d at a hashed time of day (UTC).
CREATE FUNCTION ct4._demo_ts(d date, n bigint, k integer, seed integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ($1 + make_interval(secs => ct4._demo_h($2, $3, $4, 86400)))::timestamp AT TIME ZONE 'UTC'
$$;

CREATE FUNCTION ct4.generate_demo_data(leads integer, seed integer DEFAULT 42,
                                       replace boolean DEFAULT false)
RETURNS TABLE(lead_rows bigint, driver_rows bigint, trip_rows bigint, payment_rows bigint,
              first_lead_date date, last_lead_date date, duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n      constant bigint := generate_demo_data.leads;
    s      constant integer := generate_demo_data.seed;
    t0     constant timestamptz := clock_timestamp();
    wdays  integer;
BEGIN
    IF n IS NULL OR n < 0 OR n > 100000000 THEN
        RAISE EXCEPTION 'leads must be between 0 and 100000000 (got %)', coalesce(n::text, 'NULL')
            USING ERRCODE = '22023';
    ELSIF s IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = '22023';
    ELSIF generate_demo_data.replace IS NULL THEN
        RAISE EXCEPTION 'replace must not be NULL' USING ERRCODE = '22023';
    END IF;

    IF generate_demo_data.replace THEN
        TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments;
        IF EXISTS (SELECT FROM canon.identity_links) OR EXISTS (SELECT FROM ops.cabinet_claims_14d) THEN
            RAISE NOTICE 'raw.* replaced; canon.* and ops.cabinet_claims_14d still hold rows derived from the old data'
                USING HINT = 'TRUNCATE canon.persons, canon.identity_links, canon.identity_unmatched, ops.cabinet_claims_14d RESTART IDENTITY CASCADE to start over.';
        END IF;
    ELSIF EXISTS (SELECT FROM raw.module_ct_cabinet_leads) OR EXISTS (SELECT FROM raw.drivers)
       OR EXISTS (SELECT FROM raw.summary_daily) OR EXISTS (SELECT FROM raw.claim_payments) THEN
        RAISE EXCEPTION 'raw tables are not empty: demo data is generated into empty raw.* tables only'
            USING ERRCODE = '55000',
                  HINT = 'Call ct4.generate_demo_data(leads, seed, replace => true) to TRUNCATE raw.* first.';
    END IF;
    wdays := coalesce((SELECT st.value::integer FROM ct4.settings st WHERE st.name = 'window_days'), 14);

    -- Leads. Each writes its person's data in its own format, with gaps:
    -- 1 % NULL date, 2 % no name, 5 % no phone, 2 % an 8-digit phone,
    -- 35 % no licence, 50 % no plate, 0.5 % junk rows ('Test', '123').
    INSERT INTO raw.module_ct_cabinet_leads
        (lead_id, lead_date, full_name, phone, license_number, plate, created_at, updated_at)
    SELECT g.i,
           CASE WHEN ct4._demo_u(g.i, 30, s) >= 0.01 THEN g.d END,
           CASE WHEN junk THEN 'Test'
                WHEN ct4._demo_u(g.i, 31, s) < 0.02 THEN NULL
                WHEN per.foreign_name IS NOT NULL THEN per.foreign_name
                ELSE ct4._demo_fmt_name(per.first_name, per.last1, per.last2, ct4._demo_h(g.i, 32, s, 11)) END,
           CASE WHEN junk THEN '123'
                WHEN ct4._demo_u(g.i, 33, s) < 0.05 THEN NULL
                WHEN ct4._demo_u(g.i, 33, s) < 0.07 THEN substr(per.phone9, 2)
                ELSE ct4._demo_fmt_phone(per.phone9, ct4._demo_h(g.i, 34, s, 5)) END,
           CASE WHEN junk OR ct4._demo_u(g.i, 35, s) < 0.35 THEN NULL
                ELSE ct4._demo_fmt_license(per.license, ct4._demo_h(g.i, 36, s, 4)) END,
           CASE WHEN junk OR ct4._demo_u(g.i, 37, s) < 0.50 THEN NULL
                ELSE ct4._demo_fmt_plate(per.plate, ct4._demo_h(g.i, 38, s, 4)) END,
           ct4._demo_ts(g.d, g.i, 39, s), ct4._demo_ts(g.d, g.i, 39, s)
      FROM (SELECT i, ct4._demo_date(i, n, s) AS d, ct4._demo_person_of(i, n, s) AS p,
                   ct4._demo_u(i, 40, s) < 0.005 AS junk
              FROM generate_series(1::bigint, n) AS i OFFSET 0) g
      CROSS JOIN LATERAL (SELECT * FROM ct4._demo_person(g.p, s) OFFSET 0) per;

    -- Drivers: persons of the leads that drive, plus n/20 who never signed up
    -- (person seeds above n). first_date = the person's first sign-up day.
    CREATE TEMP TABLE _demo_drivers ON COMMIT DROP AS
    SELECT q.p, 'drv_' || lpad(q.p::text, 9, '0') AS driver_id,
           ct4._demo_date((q.p - 1) % greatest(n, 1) + 1, n, s) AS first_date
      FROM (SELECT DISTINCT ct4._demo_person_of(i, n, s) AS p FROM generate_series(1::bigint, n) AS i
            UNION ALL
            SELECT p FROM generate_series(n + 1, n + n / 20) AS p) q
      CROSS JOIN LATERAL ct4._demo_person(q.p, s) per
     WHERE per.is_driver OR q.p > n
     ORDER BY q.p;  -- insertion in key order keeps the B-tree inserts cheap

    INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate, hired_at, created_at, updated_at)
    SELECT d.driver_id,
           CASE WHEN ct4._demo_u(d.p, 41, s) < 0.01 THEN NULL
                WHEN per.foreign_name IS NOT NULL THEN per.foreign_name
                ELSE ct4._demo_fmt_name(per.first_name, per.last1, per.last2, ct4._demo_h(d.p, 42, s, 11)) END,
           CASE WHEN ct4._demo_u(d.p, 43, s) < 0.03 THEN NULL
                ELSE ct4._demo_fmt_phone(per.phone9, ct4._demo_h(d.p, 44, s, 5)) END,
           CASE WHEN ct4._demo_u(d.p, 45, s) < 0.02 THEN NULL
                ELSE ct4._demo_fmt_license(per.license, ct4._demo_h(d.p, 46, s, 4)) END,
           CASE WHEN ct4._demo_u(d.p, 47, s) < 0.10 THEN NULL
                ELSE ct4._demo_fmt_plate(per.plate, ct4._demo_h(d.p, 48, s, 4)) END,
           CASE WHEN ct4._demo_u(d.p, 49, s) >= 0.03 THEN d.first_date + ct4._demo_h(d.p, 50, s, 5) END,
           ct4._demo_ts(d.first_date, d.p, 51, s), ct4._demo_ts(d.first_date, d.p, 51, s)
      FROM _demo_drivers d
      CROSS JOIN LATERAL (SELECT * FROM ct4._demo_person(d.p, s) OFFSET 0) per;

    -- Trips, by driver profile (offsets from the person's first sign-up day):
    -- 15 % never drive; 2 % drive first on day 13 (last day of the window),
    -- 2 % first on day 14 (first day outside); 6 % start after day 15;
    -- the rest start on day 0..4 and drive for 1..120 days, on a share of
    -- 30..90 % of the days, 1..12 trips a day. No trips today or later.
    INSERT INTO raw.summary_daily (driver_id, trip_date, count_orders_completed)
    SELECT d.driver_id, d.first_date + pr.start_day + k, 1 + ct4._demo_h(d.p * 256 + k, 52, s, pr.max_per_day)
      FROM _demo_drivers d
      CROSS JOIN LATERAL (
          SELECT CASE WHEN u < 0.15 THEN 0
                      WHEN u < 0.19 THEN 1 + ct4._demo_h(d.p, 53, s, 20)
                      ELSE 1 + ct4._demo_h(d.p, 53, s, 120) END AS days,
                 CASE WHEN u < 0.17 THEN 13
                      WHEN u < 0.19 THEN wdays
                      WHEN u < 0.25 THEN 15 + ct4._demo_h(d.p, 54, s, 30)
                      ELSE ct4._demo_h(d.p, 54, s, 5) END AS start_day,
                 CASE WHEN u < 0.19 THEN 1.0 ELSE 0.3 + 0.6 * ct4._demo_u(d.p, 55, s) END AS share,
                 1 + ct4._demo_h(d.p, 56, s, 12) AS max_per_day
            FROM (SELECT ct4._demo_u(d.p, 57, s) AS u OFFSET 0) x
          OFFSET 0
      ) pr
      CROSS JOIN LATERAL generate_series(0, pr.days - 1) AS k
     WHERE (k = 0 OR ct4._demo_u(d.p * 256 + k, 58, s) < pr.share)
       AND d.first_date + pr.start_day + k < current_date;

    -- Payments for about half of what would be claims: the person's first
    -- lead, when its own driver reached the milestone in the window and the
    -- window closed 1..30 days ago; 3 % are partial payments.
    INSERT INTO raw.claim_payments (payment_id, driver_id, milestone_value, lead_date, amount, paid_at)
    SELECT w.lead_id * 100 + m.milestone_value, w.driver_id, m.milestone_value, w.lead_date,
           CASE WHEN ct4._demo_u(w.lead_id * 100 + m.milestone_value, 59, s) < 0.03
                THEN round(m.amount / 2, 2) ELSE m.amount END,
           ct4._demo_ts(w.lead_date + wdays + ct4._demo_h(w.lead_id, 60, s, 30), w.lead_id, 61, s)
      FROM (SELECT l.lead_id, l.lead_date, d.driver_id, sum(t.count_orders_completed) AS trips
              FROM raw.module_ct_cabinet_leads l
              JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
              JOIN raw.summary_daily t
                ON t.driver_id = d.driver_id AND t.trip_date >= l.lead_date
               AND t.trip_date < l.lead_date + wdays
             WHERE ct4._demo_u(l.lead_id, 62, s) < 0.5
               AND ct4._demo_person_of(l.lead_id, n, s) = l.lead_id
             GROUP BY l.lead_id, l.lead_date, d.driver_id) w
      JOIN ct4.milestones m ON w.trips >= m.trips_required
     WHERE w.lead_date + wdays + ct4._demo_h(w.lead_id, 60, s, 30) < current_date
     ORDER BY 1;

    DROP TABLE _demo_drivers;
    ANALYZE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments;

    RETURN QUERY
    SELECT (SELECT count(*) FROM raw.module_ct_cabinet_leads),
           (SELECT count(*) FROM raw.drivers),
           (SELECT count(*) FROM raw.summary_daily),
           (SELECT count(*) FROM raw.claim_payments),
           (SELECT min(l.lead_date) FROM raw.module_ct_cabinet_leads l),
           (SELECT max(l.lead_date) FROM raw.module_ct_cabinet_leads l),
           round(extract(epoch FROM clock_timestamp() - t0) * 1000)::double precision;
END
$fn$;
COMMENT ON FUNCTION ct4.generate_demo_data(integer, integer, boolean) IS
    'Fills empty raw.* tables (or replaces them when replace) with deterministic, messy demo data for `leads` sign-ups';
-- The helpers are inlined into generate_demo_data, whose search_path is
-- pinned; nobody is granted them.
INSERT INTO ct4.access_grants (tier, kind, object, privileges)
SELECT 'owner', 'routine', f, 'EXECUTE' FROM unnest(ARRAY[
    'ct4._demo_u(bigint, integer, integer)', 'ct4._demo_h(bigint, integer, integer, integer)',
    'ct4._demo_date(bigint, bigint, integer)', 'ct4._demo_person_of(bigint, bigint, integer)',
    'ct4._demo_person(bigint, integer)', 'ct4._demo_fmt_name(text, text, text, integer)',
    'ct4._demo_fmt_phone(text, integer)', 'ct4._demo_fmt_license(text, integer)',
    'ct4._demo_fmt_plate(text, integer)', 'ct4._demo_ts(date, bigint, integer, integer)',
    'ct4.generate_demo_data(integer, integer, boolean)']) f;
-- Identity job (SPEC 4.1, 4.2): ct4.reconcile_leads_pipeline, ct4.unlink and
-- what makes the job incremental. See docs/identity.md.

-- Candidates are found by normalized key without scanning the raw tables:
-- expression indexes on the SQL normalizers (schema/060_normalize.sql), the
-- same C++ code the job normalizes with. They are the only copy of the keys:
-- ingestion maintains them with the rows, so the job writes no key of its
-- own, and a person's keys are always those of its linked rows as they are
-- now. left() keeps a garbage 10 kB license from failing the user's insert
-- (index entry size); the job treats codes over 32 characters as invalid.
-- COLLATE "C": keys are only ever compared for equality, which is byte
-- equality under any deterministic collation, and "C" compares bytes without
-- the locale's strcoll (look-ups ~35 % cheaper under C.UTF-8). A query
-- uses these indexes when it compares with COLLATE "C" too.
CREATE INDEX drivers_norm_phone_idx ON raw.drivers (ct4.normalize_phone(phone) COLLATE "C");
CREATE INDEX drivers_norm_license_idx
    ON raw.drivers (left(ct4.normalize_license(license_number), 64) COLLATE "C");
CREATE INDEX drivers_norm_plate_idx ON raw.drivers (left(ct4.normalize_plate(plate), 64) COLLATE "C");
CREATE INDEX leads_norm_phone_idx ON raw.module_ct_cabinet_leads (ct4.normalize_phone(phone) COLLATE "C");
CREATE INDEX leads_norm_license_idx
    ON raw.module_ct_cabinet_leads (left(ct4.normalize_license(license_number), 64) COLLATE "C");
CREATE INDEX leads_norm_plate_idx
    ON raw.module_ct_cabinet_leads (left(ct4.normalize_plate(plate), 64) COLLATE "C");

-- What a pending lead's outcome depends on: its own row, the persons and
-- drivers that share a key with it, its links and blocks, and the settings.
-- A change to any of them makes the lead due (SPEC 4.1); a lead that is not
-- due takes no place in a run. Most changes mark exactly the leads they
-- concern (ct4._identity_mark_inputs); what is too broad for that (a
-- settings change, a bulk load of drivers, TRUNCATE) moves this epoch, and
-- every lead decided at an older epoch is due again. A row, not a sequence:
-- it changes in the writer's transaction.
CREATE TABLE canon.identity_epoch (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch bigint  NOT NULL
);

-- The leads still pending in the identity funnel, kept by triggers on the raw
-- leads (a new or changed lead is `changed`) and by the job, which deletes the
-- row of a lead that is done (linked, and its person has a driver).
--   stage: NEW (never decided) | NO_IDENTITY | NO_DRIVER (its last outcome's
--     stage; a changed unlinked lead is NEW again, a linked one keeps NO_DRIVER)
--   outcome: last reason code (AMBIGUOUS, DRIVER_CONFLICT, ...)
--   changed: its own row changed (or it was never decided; ct4.unlink and
--     ct4.unblock set it too): a run takes these first, oldest first
--   inputs_changed: something it depends on changed since it was decided;
--     due too, as is a lead decided at an epoch older than the current one:
--     a run takes these next, least recently decided first
--   checked_run, checked_epoch: the run that decided it last, and the epoch
--     it decided at
--   version: moved by every change made by someone else than the job (the
--     triggers, ct4.unlink, ct4.unblock). A run records its outcome only over
--     the version it read, so a change committed while it decided is never
--     overwritten: the lead stays due and the next run decides it again.
CREATE TABLE canon.identity_lead_state (
    lead_id        bigint  PRIMARY KEY,
    lead_date      date,
    stage          text    NOT NULL CHECK (stage IN ('NEW', 'NO_IDENTITY', 'NO_DRIVER')),
    outcome        text,
    changed        boolean NOT NULL DEFAULT true,
    inputs_changed boolean NOT NULL DEFAULT false,
    checked_run    bigint,
    checked_epoch  bigint,
    version        bigint  NOT NULL DEFAULT 0
);
-- The three queues a run reads (each in the order it takes them), so that the
-- work of a run is what is due, never the pending leads that are not.
CREATE INDEX identity_lead_state_changed_idx ON canon.identity_lead_state (lead_date, lead_id)
    WHERE changed;
CREATE INDEX identity_lead_state_inputs_idx ON canon.identity_lead_state (checked_run, lead_date, lead_id)
    WHERE inputs_changed AND NOT changed;
CREATE INDEX identity_lead_state_epoch_idx
    ON canon.identity_lead_state (checked_epoch, checked_run, lead_date, lead_id) WHERE NOT changed;

CREATE FUNCTION ct4._identity_epoch_bump() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1;
$$;

-- Marks the pending leads whose inputs a change touched: the leads with one
-- of the given search keys (phones, licenses, plates: normalized as the
-- expression indexes above have them) or a key of a row of `persons` (whose
-- rows changed: their candidates' scores move), and the leads of `persons`
-- and of every person holding a row with one of the given keys (their driver
-- step's candidates changed). Leads in `except_leads` are left alone (the
-- calling run decides them itself). Locks the rows in lead_id order, as the
-- job writes them, so two markers and a run never deadlock over them.
-- Returns how many leads were marked.
CREATE FUNCTION ct4._identity_mark_inputs(phones text[], licenses text[], plates text[],
                                          persons bigint[], except_leads bigint[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rows_keys record;
    n bigint;
BEGIN
    -- The keys of every row linked to `persons`, added to the given ones for
    -- the leads that share them.
    SELECT coalesce(array_agg(DISTINCT k.ph) FILTER (WHERE k.ph IS NOT NULL), '{}') AS ph,
           coalesce(array_agg(DISTINCT k.li) FILTER (WHERE k.li IS NOT NULL), '{}') AS li,
           coalesce(array_agg(DISTINCT k.pl) FILTER (WHERE k.pl IS NOT NULL), '{}') AS pl
      INTO rows_keys
      FROM (SELECT ct4.normalize_phone(l.phone) AS ph, left(ct4.normalize_license(l.license_number), 64) AS li,
                   left(ct4.normalize_plate(l.plate), 64) AS pl
              FROM canon.identity_links il
              JOIN raw.module_ct_cabinet_leads l ON l.lead_id = il.source_pk::bigint
             WHERE il.source_table = 'module_ct_cabinet_leads' AND il.person_key = ANY (persons)
            UNION ALL
            SELECT ct4.normalize_phone(d.phone), left(ct4.normalize_license(d.license_number), 64),
                   left(ct4.normalize_plate(d.plate), 64)
              FROM canon.identity_links il
              JOIN raw.drivers d ON d.driver_id = il.source_pk
             WHERE il.source_table = 'drivers' AND il.person_key = ANY (persons)) k;
    WITH sharing AS (
        SELECT l.lead_id FROM raw.module_ct_cabinet_leads l
         WHERE (ct4.normalize_phone(l.phone) COLLATE "C") = ANY (phones || rows_keys.ph)
            OR (left(ct4.normalize_license(l.license_number), 64) COLLATE "C") = ANY (licenses || rows_keys.li)
            OR (left(ct4.normalize_plate(l.plate), 64) COLLATE "C") = ANY (plates || rows_keys.pl)),
    holders AS (
        SELECT il.person_key FROM raw.module_ct_cabinet_leads l
          JOIN canon.identity_links il
            ON il.source_table = 'module_ct_cabinet_leads' AND il.source_pk = l.lead_id::text
         WHERE (ct4.normalize_phone(l.phone) COLLATE "C") = ANY (phones)
            OR (left(ct4.normalize_license(l.license_number), 64) COLLATE "C") = ANY (licenses)
            OR (left(ct4.normalize_plate(l.plate), 64) COLLATE "C") = ANY (plates)
        UNION
        SELECT il.person_key FROM raw.drivers d
          JOIN canon.identity_links il ON il.source_table = 'drivers' AND il.source_pk = d.driver_id
         WHERE (ct4.normalize_phone(d.phone) COLLATE "C") = ANY (phones)
            OR (left(ct4.normalize_license(d.license_number), 64) COLLATE "C") = ANY (licenses)
            OR (left(ct4.normalize_plate(d.plate), 64) COLLATE "C") = ANY (plates)
        UNION
        SELECT unnest(persons)),
    targets AS (
        SELECT lead_id FROM sharing
        UNION
        SELECT il.source_pk::bigint FROM holders h
          JOIN canon.identity_links il
            ON il.source_table = 'module_ct_cabinet_leads' AND il.person_key = h.person_key),
    locked AS (
        SELECT s.lead_id FROM canon.identity_lead_state s
         WHERE s.lead_id IN (SELECT t.lead_id FROM targets t)
           AND NOT s.lead_id = ANY (except_leads)
         ORDER BY s.lead_id
           FOR UPDATE OF s)
    UPDATE canon.identity_lead_state s SET inputs_changed = true, version = s.version + 1
      FROM locked k WHERE s.lead_id = k.lead_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Settings: every pending lead is due again (scores, threshold).
CREATE FUNCTION ct4._identity_settings_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM ct4._identity_epoch_bump();
    RETURN NULL;
END $$;
CREATE TRIGGER settings_identity_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ct4.settings
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_settings_changed();

-- Drivers inserted, changed in a field the matching reads, or deleted: the
-- leads that share a key with them (old or new) and the persons they are
-- linked to are marked. A statement of more than this many drivers moves
-- the epoch instead (a bulk load makes every pending lead due, without a
-- key look-up per driver in the loading statement).
-- A row's normalized search keys and name, as the job and the expression
-- indexes have them: what a change must touch to matter to the matching.
CREATE FUNCTION ct4._identity_row_keys(phone text, license text, plate text, full_name text,
                                       OUT ph text, OUT li text, OUT pl text, OUT nm text)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4.normalize_phone(phone), left(ct4.normalize_license(license), 64),
           left(ct4.normalize_plate(plate), 64), ct4.normalize_name(full_name)
$$;

CREATE FUNCTION ct4._identity_bulk_rows() RETURNS bigint
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT 10000::bigint $$;

-- `n` source rows changed, with these keys (old and new; NULLs allowed) and
-- these persons: mark the leads concerned, or move the epoch when there are
-- more rows than ct4._identity_bulk_rows().
CREATE FUNCTION ct4._identity_rows_changed(n bigint, phones text[], licenses text[], plates text[],
                                           persons bigint[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF n > ct4._identity_bulk_rows() THEN
        PERFORM ct4._identity_epoch_bump();
    ELSE
        PERFORM ct4._identity_mark_inputs(array_remove(phones, NULL), array_remove(licenses, NULL),
                                          array_remove(plates, NULL), persons, '{}');
    END IF;
END $$;

CREATE FUNCTION ct4._identity_drivers_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;   -- n: changed rows; ids, ph, li, pl: their ids and keys (old and new)
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM ct4._identity_epoch_bump();
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM canon.identity_lead_state) THEN
        RETURN NULL;   -- no pending lead: nothing to mark
    END IF;
    -- Separate statements: each trigger has only its own transition tables.
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) AS n, array_agg(x.driver_id) AS ids,
               array_agg(ct4.normalize_phone(x.phone)) AS ph,
               array_agg(left(ct4.normalize_license(x.license_number), 64)) AS li,
               array_agg(left(ct4.normalize_plate(x.plate), 64)) AS pl
          INTO c FROM new_rows x;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT count(*) AS n, array_agg(x.driver_id) AS ids,
               array_agg(ct4.normalize_phone(x.phone)) AS ph,
               array_agg(left(ct4.normalize_license(x.license_number), 64)) AS li,
               array_agg(left(ct4.normalize_plate(x.plate), 64)) AS pl
          INTO c FROM old_rows x;
    ELSE
        -- Only rows whose normalized keys or name changed (or whose id did).
        SELECT count(*) AS n, array_agg(x.driver_id) AS ids, array_agg(x.ph) AS ph,
               array_agg(x.li) AS li, array_agg(x.pl) AS pl
          INTO c
          FROM (SELECT o.driver_id, ok.ph, ok.li, ok.pl
                  FROM old_rows o LEFT JOIN new_rows n ON n.driver_id = o.driver_id,
                       LATERAL ct4._identity_row_keys(o.phone, o.license_number, o.plate, o.full_name) ok,
                       LATERAL ct4._identity_row_keys(n.phone, n.license_number, n.plate, n.full_name) nk
                 WHERE n.driver_id IS NULL OR ok IS DISTINCT FROM nk
                UNION ALL
                SELECT n.driver_id, nk.ph, nk.li, nk.pl
                  FROM new_rows n LEFT JOIN old_rows o ON o.driver_id = n.driver_id,
                       LATERAL ct4._identity_row_keys(o.phone, o.license_number, o.plate, o.full_name) ok,
                       LATERAL ct4._identity_row_keys(n.phone, n.license_number, n.plate, n.full_name) nk
                 WHERE o.driver_id IS NULL OR ok IS DISTINCT FROM nk) x;
    END IF;
    IF c.n = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM ct4._identity_rows_changed(c.n, c.ph, c.li, c.pl,
        ARRAY(SELECT il.person_key FROM canon.identity_links il
               WHERE il.source_table = 'drivers' AND il.source_pk = ANY (c.ids)));
    RETURN NULL;
END $$;

CREATE TRIGGER drivers_identity_ins AFTER INSERT ON raw.drivers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_drivers_changed();
CREATE TRIGGER drivers_identity_upd AFTER UPDATE ON raw.drivers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_drivers_changed();
CREATE TRIGGER drivers_identity_del AFTER DELETE ON raw.drivers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_drivers_changed();
CREATE TRIGGER drivers_identity_trunc AFTER TRUNCATE ON raw.drivers
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_drivers_changed();

-- New or changed leads are `changed` (an unlinked one is NEW again, a linked
-- one keeps its stage); deleted leads leave the state table. A change to a
-- linked lead changes its person's keys: the leads that share them and the
-- person's other leads are marked too.
CREATE FUNCTION ct4._identity_leads_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;   -- the linked leads among the changed ones: n, persons and keys (old and new)
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM canon.identity_lead_state;
        RETURN NULL;
    END IF;
    -- Separate statements: a DELETE trigger has no new_rows to plan against.
    IF TG_OP = 'DELETE' THEN
        DELETE FROM canon.identity_lead_state s
         WHERE s.lead_id IN (SELECT o.lead_id FROM old_rows o);
        SELECT count(*) AS n, array_agg(il.person_key) AS persons,
               array_agg(ct4.normalize_phone(x.phone)) AS ph,
               array_agg(left(ct4.normalize_license(x.license_number), 64)) AS li,
               array_agg(left(ct4.normalize_plate(x.plate), 64)) AS pl
          INTO c FROM old_rows x
          JOIN canon.identity_links il
            ON il.source_table = 'module_ct_cabinet_leads' AND il.source_pk = x.lead_id::text;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM canon.identity_lead_state s
         WHERE s.lead_id IN (SELECT o.lead_id FROM old_rows o)
           AND s.lead_id NOT IN (SELECT n.lead_id FROM new_rows n);
        -- Linked leads whose normalized keys or name changed: old and new keys.
        SELECT count(*) AS n, array_agg(il.person_key) AS persons, array_agg(x.ph) AS ph,
               array_agg(x.li) AS li, array_agg(x.pl) AS pl
          INTO c
          FROM (SELECT o.lead_id, ok.ph, ok.li, ok.pl FROM old_rows o
                  JOIN new_rows n ON n.lead_id = o.lead_id,
                       LATERAL ct4._identity_row_keys(o.phone, o.license_number, o.plate, o.full_name) ok,
                       LATERAL ct4._identity_row_keys(n.phone, n.license_number, n.plate, n.full_name) nk
                 WHERE ok IS DISTINCT FROM nk
                UNION ALL
                SELECT n.lead_id, nk.ph, nk.li, nk.pl FROM new_rows n
                  JOIN old_rows o ON o.lead_id = n.lead_id,
                       LATERAL ct4._identity_row_keys(o.phone, o.license_number, o.plate, o.full_name) ok,
                       LATERAL ct4._identity_row_keys(n.phone, n.license_number, n.plate, n.full_name) nk
                 WHERE ok IS DISTINCT FROM nk) x
          JOIN canon.identity_links il
            ON il.source_table = 'module_ct_cabinet_leads' AND il.source_pk = x.lead_id::text;
    ELSE
        -- A new lead is linked only when its id was linked before (a
        -- deleted and re-inserted lead: links are never removed by a job).
        SELECT count(*) AS n, array_agg(il.person_key) AS persons,
               array_agg(ct4.normalize_phone(x.phone)) AS ph,
               array_agg(left(ct4.normalize_license(x.license_number), 64)) AS li,
               array_agg(left(ct4.normalize_plate(x.plate), 64)) AS pl
          INTO c FROM new_rows x
          JOIN canon.identity_links il
            ON il.source_table = 'module_ct_cabinet_leads' AND il.source_pk = x.lead_id::text;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT n.lead_id, n.lead_date, 'NEW' FROM new_rows n ORDER BY n.lead_id
            ON CONFLICT (lead_id) DO UPDATE
           SET lead_date = EXCLUDED.lead_date,
               stage = CASE WHEN s.stage = 'NO_DRIVER' THEN s.stage ELSE 'NEW' END,
               changed = true, version = s.version + 1;
    END IF;
    IF c.n > 0 THEN
        PERFORM ct4._identity_rows_changed(c.n, c.ph, c.li, c.pl, c.persons);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_identity_state_ins AFTER INSERT ON raw.module_ct_cabinet_leads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_leads_changed();
CREATE TRIGGER leads_identity_state_upd AFTER UPDATE ON raw.module_ct_cabinet_leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_leads_changed();
CREATE TRIGGER leads_identity_state_del AFTER DELETE ON raw.module_ct_cabinet_leads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_leads_changed();
CREATE TRIGGER leads_identity_state_trunc AFTER TRUNCATE ON raw.module_ct_cabinet_leads
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_leads_changed();

CREATE FUNCTION ct4.reconcile_leads_pipeline(
    days_back      integer DEFAULT 30,
    row_limit      integer DEFAULT 2000,
    process_recent boolean DEFAULT true,
    process_limbo  boolean DEFAULT true,
    limbo_stages   text[]  DEFAULT '{NO_IDENTITY,NO_DRIVER,TRIPS_NO_CLAIM}',
    dry_run        boolean DEFAULT false)
RETURNS TABLE(run_id bigint, status text, processed integer, newly_linked integer,
              newly_driver_mapped integer, still_no_candidates integer, conflicts integer,
              errors integer, duration_ms double precision)
AS 'MODULE_PATHNAME', 'ct4_reconcile_leads_pipeline'
LANGUAGE C VOLATILE ROWS 1 SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ct4.reconcile_leads_pipeline(integer, integer, boolean, boolean, text[], boolean) IS
    'Identity matching: links leads to persons and persons to drivers (SPEC 4.1)';

-- A correction concerning one source row and one person (ct4.unlink,
-- ct4.unblock): the row is changed, so the next run decides it again (a lead:
-- its own state row; a driver: the leads of the person, whose driver step
-- it was), and the leads whose inputs the row and the person are part of are
-- marked.
CREATE FUNCTION ct4._identity_row_changed(source_table text, source_pk text, person_key bigint)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
BEGIN
    IF _identity_row_changed.source_table = 'module_ct_cabinet_leads' THEN
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT rl.lead_id, rl.lead_date,
               CASE WHEN EXISTS (SELECT 1 FROM canon.identity_links il
                                  WHERE il.source_table = 'module_ct_cabinet_leads'
                                    AND il.source_pk = rl.lead_id::text) THEN 'NO_DRIVER' ELSE 'NEW' END
          FROM raw.module_ct_cabinet_leads rl
         WHERE rl.lead_id::text = _identity_row_changed.source_pk
            ON CONFLICT (lead_id) DO UPDATE
           SET stage = EXCLUDED.stage, changed = true, version = s.version + 1;
        SELECT ct4.normalize_phone(l.phone) AS ph, left(ct4.normalize_license(l.license_number), 64) AS li,
               left(ct4.normalize_plate(l.plate), 64) AS pl
          INTO k FROM raw.module_ct_cabinet_leads l WHERE l.lead_id::text = _identity_row_changed.source_pk;
    ELSE
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT rl.lead_id, rl.lead_date, 'NO_DRIVER'
          FROM canon.identity_links il
          JOIN raw.module_ct_cabinet_leads rl ON rl.lead_id = il.source_pk::bigint
         WHERE il.person_key = _identity_row_changed.person_key
           AND il.source_table = 'module_ct_cabinet_leads'
         ORDER BY rl.lead_id
            ON CONFLICT (lead_id) DO UPDATE SET stage = 'NO_DRIVER', changed = true, version = s.version + 1;
        SELECT ct4.normalize_phone(d.phone) AS ph, left(ct4.normalize_license(d.license_number), 64) AS li,
               left(ct4.normalize_plate(d.plate), 64) AS pl
          INTO k FROM raw.drivers d WHERE d.driver_id = _identity_row_changed.source_pk;
    END IF;
    PERFORM ct4._identity_mark_inputs(array_remove(ARRAY[k.ph], NULL), array_remove(ARRAY[k.li], NULL),
                                      array_remove(ARRAY[k.pl], NULL), ARRAY[_identity_row_changed.person_key],
                                      '{}');
END $$;

CREATE FUNCTION ct4._identity_check_row(source_table text, source_pk text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF source_table IS NULL THEN
        RAISE EXCEPTION 'source_table must not be NULL' USING ERRCODE = '22023';
    ELSIF source_table NOT IN ('module_ct_cabinet_leads', 'drivers') THEN
        RAISE EXCEPTION 'source_table must be module_ct_cabinet_leads or drivers (got %)', source_table
            USING ERRCODE = '22023';
    ELSIF source_pk IS NULL THEN
        RAISE EXCEPTION 'source_pk must not be NULL' USING ERRCODE = '22023';
    END IF;
END $$;

-- The one audited way to undo a link (C0 rule 2). Waits for a running
-- identity job, removes the link, keeps the removed link and the reason in
-- canon.identity_link_removals, blocks the (row, person) pair so that no job
-- links them again (canon.identity_blocks, until ct4.unblock), and returns
-- the removal row. When the person is left with no linked row, the row says
-- so (person_rows_left 0) and a NOTICE names the person. SECURITY DEFINER:
-- the operator writes no canon table itself (SPEC 6); the audit rows name
-- ct4._actor(), the role that asked (current_user is the owner here).
CREATE FUNCTION ct4.unlink(source_table text, source_pk text, reason text)
RETURNS canon.identity_link_removals
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    l canon.identity_links;
    r canon.identity_link_removals;
    left_rows integer;
BEGIN
    PERFORM ct4._identity_check_row(unlink.source_table, unlink.source_pk);
    IF unlink.reason IS NULL OR btrim(unlink.reason) = '' THEN
        RAISE EXCEPTION 'reason must not be empty' USING ERRCODE = '22023';
    END IF;
    -- The identity job's lock (ct4._job_lock), waited for: never interleave with a run.
    PERFORM ct4._job_lock('reconcile_leads_pipeline', true);

    DELETE FROM canon.identity_links il
     WHERE il.source_table = unlink.source_table AND il.source_pk = unlink.source_pk
    RETURNING il.* INTO l;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no identity link for %.%', unlink.source_table, unlink.source_pk
            USING ERRCODE = 'P0002';
    END IF;
    SELECT count(*) INTO left_rows FROM canon.identity_links il WHERE il.person_key = l.person_key;
    INSERT INTO canon.identity_link_removals (source_table, source_pk, removed_link, reason, person_rows_left,
                                              removed_by)
    VALUES (unlink.source_table, unlink.source_pk, to_jsonb(l), unlink.reason, left_rows, ct4._actor())
    RETURNING * INTO r;
    INSERT INTO canon.identity_blocks (source_table, source_pk, person_key, removal_id, reason, blocked_by)
    VALUES (unlink.source_table, unlink.source_pk, l.person_key, r.removal_id, unlink.reason, ct4._actor())
        ON CONFLICT (source_table, source_pk, person_key) WHERE lifted_at IS NULL DO NOTHING;
    IF left_rows = 0 THEN
        RAISE NOTICE 'person % has no linked row left', l.person_key
            USING DETAIL = 'It stays in canon.persons (the removal and the ledger name it); no job links to a person without rows.';
    END IF;
    PERFORM ct4._identity_row_changed(unlink.source_table, unlink.source_pk, l.person_key);
    RETURN r;
END $$;
COMMENT ON FUNCTION ct4.unlink(text, text, text) IS
    'Removes one identity link and blocks the pair, audited in canon.identity_link_removals and canon.identity_blocks (C0 rule 2)';

-- Lifts the active blocks of a source row (C0 rule 2): they stay in
-- canon.identity_blocks with who lifted them and when; the row is changed,
-- so the next run decides it again. Returns the lifted blocks.
CREATE FUNCTION ct4.unblock(source_table text, source_pk text)
RETURNS SETOF canon.identity_blocks
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b canon.identity_blocks;
BEGIN
    PERFORM ct4._identity_check_row(unblock.source_table, unblock.source_pk);
    PERFORM ct4._job_lock('reconcile_leads_pipeline', true);   -- as ct4.unlink
    FOR b IN
        UPDATE canon.identity_blocks x SET lifted_by = ct4._actor(), lifted_at = now()
         WHERE x.source_table = unblock.source_table AND x.source_pk = unblock.source_pk
           AND x.lifted_at IS NULL
        RETURNING x.*
    LOOP
        PERFORM ct4._identity_row_changed(b.source_table, b.source_pk, b.person_key);
        RETURN NEXT b;
    END LOOP;
    IF b.block_id IS NULL THEN
        RAISE EXCEPTION 'no active block for %.%', unblock.source_table, unblock.source_pk
            USING ERRCODE = 'P0002', HINT = 'canon.identity_blocks lists the blocks; ct4.unlink makes them.';
    END IF;
END $$;
COMMENT ON FUNCTION ct4.unblock(text, text) IS
    'Lifts the blocks ct4.unlink put on a source row, audited in canon.identity_blocks (C0 rule 2)';

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('operator', 'routine', 'ct4.reconcile_leads_pipeline(integer, integer, boolean, boolean, text[], boolean)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.unlink(text, text, text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.unblock(text, text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_epoch_bump()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_mark_inputs(text[], text[], text[], bigint[], bigint[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_settings_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_bulk_rows()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_row_keys(text, text, text, text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_rows_changed(bigint, text[], text[], text[], bigint[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_drivers_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_leads_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_row_changed(text, text, bigint)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._identity_check_row(text, text)', 'EXECUTE');

-- A cache like identity_lead_state: the triggers on raw.drivers and
-- ct4.settings recreate it while pg_restore loads those tables.
SELECT pg_catalog.pg_extension_config_dump('canon.identity_epoch', 'WHERE false');
-- A cache the triggers rebuild when pg_restore loads raw leads (every lead
-- becomes NEW and is re-evaluated once): dump no rows, so restores never clash.
SELECT pg_catalog.pg_extension_config_dump('canon.identity_lead_state', 'WHERE false');
-- The claims job (SPEC 4.3) and its report. C++ in src/claims/, rules in
-- src/core/claims_rules.*; decisions and reasons are documented in docs/claims.md.

-- Refreshes every materialized view registered in ct4.refresh_views; a name
-- that is not a materialized view, or a refresh that fails, is a WARNING and
-- is skipped (one bad row never aborts the run). Returns how many refreshed.
CREATE FUNCTION ct4._refresh_registered_views() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v record;
    target text;
    n integer := 0;
BEGIN
    FOR v IN SELECT r.view_name, r.refresh_concurrently FROM ct4.refresh_views r ORDER BY r.view_name LOOP
        SELECT format('%I.%I', ns.nspname, c.relname) INTO target
          FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
         WHERE c.oid = to_regclass(v.view_name) AND c.relkind = 'm';
        IF target IS NULL THEN
            RAISE WARNING 'ct4.refresh_views: "%" is not a materialized view; skipped', v.view_name;
            CONTINUE;
        END IF;
        BEGIN
            EXECUTE 'REFRESH MATERIALIZED VIEW ' || CASE WHEN v.refresh_concurrently THEN 'CONCURRENTLY ' ELSE '' END || target;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'ct4.refresh_views: refreshing % failed: % (%)', target, SQLERRM, SQLSTATE;
        END;
    END LOOP;
    RETURN n;
END $$;

-- Not STRICT: a NULL argument is rejected with 22023 naming it.
CREATE FUNCTION ct4.reconcile_claims_14d(
    days_back integer DEFAULT 21, row_limit integer DEFAULT 1000,
    only_gaps boolean DEFAULT true, dry_run boolean DEFAULT false)
RETURNS TABLE(run_id bigint, status text, processed integer, gaps_found integer,
              claims_should_exist integer, claims_already_exist integer,
              invalid_conditions integer, claims_created integer, refreshed_views integer,
              duration_ms double precision)
AS 'MODULE_PATHNAME', 'ct4_reconcile_claims_14d'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION ct4.claims_gap_report(days_back integer DEFAULT 21, row_limit integer DEFAULT 1000)
RETURNS TABLE(driver_id text, lead_id bigint, lead_date date, milestone_value integer,
              decision text, reason text)
AS 'MODULE_PATHNAME', 'ct4_claims_gap_report' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

-- The materialized views the job refreshes are the owner's to register: the
-- job refreshes them with the owner's rights (SPEC 6).
CREATE TRIGGER refresh_views_owner_only BEFORE INSERT OR UPDATE ON ct4.refresh_views
    FOR EACH ROW EXECUTE FUNCTION ct4._owner_only_rows();

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._refresh_registered_views()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.reconcile_claims_14d(integer, integer, boolean, boolean)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.claims_gap_report(integer, integer)', 'EXECUTE');
-- Incremental state of the claims job (docs/claims.md "Incremental state").
-- A cache rebuilt from raw data: the job may drop it at any time (and does
-- when window_days or the milestones change), so it is dumped without rows.

-- What the cached facts were computed with; no row = nothing is cached.
--   covered_from: every driver with a dated lead on or after it has a
--   ops.claims_driver_state row (or a dirty mark), and every lead dated on or
--   after it (or undated) that fails a lead-level condition is in
--   ops.claims_invalid_leads (or has a dirty mark).
CREATE TABLE ops.claims_cache_meta (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    window_days  integer NOT NULL,
    milestones   text    NOT NULL,   -- 'value:trips,...' of ct4.milestones
    covered_from date    NOT NULL
);

-- Per driver: its leads and the trips of their windows (encoded by
-- src/core/claims_cache_codec.cpp) and its ledger rows, kept exact by the
-- ledger trigger below: claims = [claim_id, milestone_value, lead_id,
-- lead_date - 2000-01-01, ...] ordered by claim_id.
--   reported: [lead_id, milestone_value, ...] of the driver's INVALID
--   (CLAIMED_UNDER_LATER_LEAD) rows a run already counted; emptied whenever
--   the state is recomputed or the ledger rows are updated or deleted, so a
--   gap whose inputs did not change is counted once (SPEC 4.3 amended).
CREATE TABLE ops.claims_driver_state (
    driver_id      text   PRIMARY KEY,
    person_key     bigint NOT NULL,
    last_lead_date date   NOT NULL,   -- latest dated lead: in scope when >= cutoff
    facts          bytea  NOT NULL,
    claims         bigint[] NOT NULL DEFAULT '{}',
    reported       bigint[] NOT NULL DEFAULT '{}'
);
CREATE INDEX claims_driver_state_last_lead_idx ON ops.claims_driver_state (last_lead_date);

-- Leads that fail a lead-level condition (LEAD_DATE_NULL, NO_IDENTITY,
-- NO_DRIVER); valid leads have no row. reported: a run already counted the
-- lead's INVALID row; the row is replaced whenever the lead is recomputed
-- (a dirty mark), so an unchanged invalid lead is counted once.
CREATE TABLE ops.claims_invalid_leads (
    lead_id    bigint PRIMARY KEY,
    lead_date  date,
    person_key bigint,
    driver_id  text,
    reported   boolean NOT NULL DEFAULT false
);
CREATE INDEX claims_invalid_leads_date_idx ON ops.claims_invalid_leads (lead_date);

-- Dirty marks set by the triggers; `mark` changes on every marking statement
-- (one sequence value per statement), so the job deletes only the marks it
-- has seen (a concurrent change stays marked).
CREATE SEQUENCE ops.claims_dirty_mark_seq;
CREATE TABLE ops.claims_dirty_drivers (
    driver_id text   PRIMARY KEY,
    mark      bigint NOT NULL
);
CREATE TABLE ops.claims_dirty_leads (
    lead_id bigint PRIMARY KEY,
    mark    bigint NOT NULL
);

CREATE FUNCTION ct4._claims_cache_invalidate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM ops.claims_cache_meta;
    RETURN NULL;
END $$;

-- Empties the cache before a rebuild. SECURITY DEFINER: TRUNCATE needs a
-- privilege the README's operator role (which runs the job) does not have.
CREATE FUNCTION ct4._claims_cache_reset() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    TRUNCATE ops.claims_driver_state, ops.claims_invalid_leads, ops.claims_dirty_drivers,
             ops.claims_dirty_leads, ops.claims_cache_meta;
$$;

CREATE FUNCTION ct4._claims_mark_drivers(ids text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO ops.claims_dirty_drivers AS d (driver_id, mark)
    SELECT u.x, m.v
      FROM (SELECT DISTINCT x FROM unnest(ids) x WHERE x IS NOT NULL) u,
           (SELECT nextval('ops.claims_dirty_mark_seq') AS v) m
        ON CONFLICT (driver_id) DO UPDATE SET mark = EXCLUDED.mark;
$$;

CREATE FUNCTION ct4._claims_mark_leads(ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO ops.claims_dirty_leads AS d (lead_id, mark)
    SELECT u.x, m.v
      FROM (SELECT DISTINCT x FROM unnest(ids) x WHERE x IS NOT NULL) u,
           (SELECT nextval('ops.claims_dirty_mark_seq') AS v) m
        ON CONFLICT (lead_id) DO UPDATE SET mark = EXCLUDED.mark;
$$;

-- The lock between writers and a rebuilding claims run: a table that is
-- only ever locked, never written. Writers (the triggers, as the owner)
-- take ROW SHARE, a rebuild EXCLUSIVE (they conflict; writers do not
-- conflict with each other). Not an advisory key: any connected role can
-- hold one of those and block every writer (SPEC 6); locking this table in
-- a mode that conflicts needs a write privilege on it, which no role is
-- granted (a reader's SELECT allows only ACCESS SHARE, which conflicts
-- with neither).
CREATE TABLE ops.claims_cache_lock ();
SELECT pg_catalog.pg_extension_config_dump('ops.claims_cache_lock', 'WHERE false');

-- Whether the triggers below must mark what changed. Without a cache there
-- is nothing to keep exact (the next claims run rebuilds it from the raw
-- tables), so bulk loads and first identity runs skip the marks. The shared
-- lock pairs with the exclusive one the claims job holds while it rebuilds
-- (claims_cache.cpp): a writer that saw no cache is seen by the rebuild, and
-- a writer that comes during the rebuild waits and then sees the cache.
-- Only READ COMMITTED re-reads the meta row after the wait; any other
-- isolation level always marks.
CREATE FUNCTION ct4._claims_cache_active() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN true;
    END IF;
    LOCK TABLE ops.claims_cache_lock IN ROW SHARE MODE;
    RETURN EXISTS (SELECT 1 FROM ops.claims_cache_meta);   -- a new snapshot: after the wait
END $$;

-- The other side of that lock, taken by a rebuilding claims run until it commits.
CREATE FUNCTION ct4._claims_cache_lock_for_rebuild() RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    LOCK TABLE ops.claims_cache_lock IN EXCLUSIVE MODE;
$$;

-- Trips changed: their drivers.
CREATE FUNCTION ct4._claims_trips_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ops.claims_cache_meta;
        RETURN NULL;
    END IF;
    IF NOT ct4._claims_cache_active() THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM ct4._claims_mark_drivers(ARRAY(SELECT DISTINCT o.driver_id FROM old_rows o));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM ct4._claims_mark_drivers(ARRAY(SELECT DISTINCT n.driver_id FROM new_rows n));
    END IF;
    RETURN NULL;
END $$;

-- Leads changed: the leads, and the driver of each one's person now.
CREATE FUNCTION ct4._claims_leads_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ops.claims_cache_meta;
        RETURN NULL;
    END IF;
    IF NOT ct4._claims_cache_active() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY(SELECT n.lead_id FROM new_rows n);
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT o.lead_id FROM old_rows o);
    ELSE
        ids := ARRAY(SELECT o.lead_id FROM old_rows o UNION SELECT n.lead_id FROM new_rows n);
    END IF;
    PERFORM ct4._claims_mark_leads(ids);
    PERFORM ct4._claims_mark_drivers(ARRAY(
        SELECT dl.source_pk FROM unnest(ids) i(lead_id)
          JOIN canon.identity_links ll
            ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = i.lead_id::text
          JOIN canon.identity_links dl
            ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key));
    RETURN NULL;
END $$;

-- Links changed: lead links mark the lead and its person's driver; driver
-- links mark the driver and every lead of the person (NO_DRIVER changes).
CREATE FUNCTION ct4._claims_links_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tabs text[] := '{}';
    pks text[] := '{}';
    persons bigint[] := '{}';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ops.claims_cache_meta;
        RETURN NULL;
    END IF;
    IF NOT ct4._claims_cache_active() THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT tabs || array_agg(o.source_table), pks || array_agg(o.source_pk),
               persons || array_agg(o.person_key)
          INTO tabs, pks, persons FROM old_rows o;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        SELECT tabs || array_agg(n.source_table), pks || array_agg(n.source_pk),
               persons || array_agg(n.person_key)
          INTO tabs, pks, persons FROM new_rows n;
    END IF;
    PERFORM ct4._claims_mark_leads(ARRAY(
        SELECT c.source_pk::bigint FROM unnest(tabs, pks, persons) c(source_table, source_pk, person_key)
         WHERE c.source_table = 'module_ct_cabinet_leads' AND c.source_pk ~ '^[0-9]{1,18}$'
        UNION
        SELECT ll.source_pk::bigint FROM unnest(tabs, pks, persons) c(source_table, source_pk, person_key)
          JOIN canon.identity_links ll
            ON ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = c.person_key
         WHERE c.source_table = 'drivers' AND ll.source_pk ~ '^[0-9]{1,18}$'));
    PERFORM ct4._claims_mark_drivers(ARRAY(
        SELECT c.source_pk FROM unnest(tabs, pks, persons) c(source_table, source_pk, person_key)
         WHERE c.source_table = 'drivers'
        UNION
        SELECT dl.source_pk FROM unnest(tabs, pks, persons) c(source_table, source_pk, person_key)
          JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = c.person_key
         WHERE c.source_table = 'module_ct_cabinet_leads'));
    RETURN NULL;
END $$;

-- Ledger changed: the cached claims of the drivers concerned are rebuilt in
-- the same statement, so they always equal the ledger. Inserted rows (the
-- job's filing) are appended from the transition table; deleted or updated
-- rows make the drivers' claims be re-read from the ledger.
CREATE FUNCTION ct4._claims_ledger_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ops.claims_cache_meta;
        RETURN NULL;
    END IF;
    -- No cache (being rebuilt by the job, which holds the ledger locked and
    -- writes the claims it files into the states itself): nothing to keep.
    IF NOT EXISTS (SELECT 1 FROM ops.claims_cache_meta) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE ops.claims_driver_state s SET claims = s.claims || x.claims
          FROM (SELECT n.driver_id,
                       array_agg(u.x ORDER BY n.claim_id, u.o) AS claims
                  FROM new_rows n,
                       LATERAL unnest(ARRAY[n.claim_id, n.milestone_value::bigint, n.lead_id,
                                            (n.lead_date - DATE '2000-01-01')::bigint])
                               WITH ORDINALITY u(x, o)
                 GROUP BY n.driver_id) x
         WHERE s.driver_id = x.driver_id;
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT DISTINCT o.driver_id FROM old_rows o);
    ELSE
        ids := ARRAY(SELECT o.driver_id FROM old_rows o UNION SELECT n.driver_id FROM new_rows n);
    END IF;
    -- A corrected ledger is a changed input: the driver's INVALID rows are
    -- reported again.
    UPDATE ops.claims_driver_state s
       SET claims = ARRAY(
           SELECT x FROM ops.cabinet_claims_14d c,
                  LATERAL unnest(ARRAY[c.claim_id, c.milestone_value::bigint, c.lead_id,
                                       (c.lead_date - DATE '2000-01-01')::bigint])
                          WITH ORDINALITY u(x, o)
            WHERE c.driver_id = s.driver_id ORDER BY c.claim_id, u.o),
           reported = '{}'
     WHERE s.driver_id = ANY (ids);
    RETURN NULL;
END $$;

CREATE TRIGGER summary_daily_claims_ins AFTER INSERT ON raw.summary_daily
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_trips_changed();
CREATE TRIGGER summary_daily_claims_upd AFTER UPDATE ON raw.summary_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_trips_changed();
CREATE TRIGGER summary_daily_claims_del AFTER DELETE ON raw.summary_daily
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_trips_changed();
CREATE TRIGGER summary_daily_claims_trunc AFTER TRUNCATE ON raw.summary_daily
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_trips_changed();

CREATE TRIGGER leads_claims_ins AFTER INSERT ON raw.module_ct_cabinet_leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_leads_changed();
CREATE TRIGGER leads_claims_upd AFTER UPDATE ON raw.module_ct_cabinet_leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_leads_changed();
CREATE TRIGGER leads_claims_del AFTER DELETE ON raw.module_ct_cabinet_leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_leads_changed();
CREATE TRIGGER leads_claims_trunc AFTER TRUNCATE ON raw.module_ct_cabinet_leads
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_leads_changed();

CREATE TRIGGER links_claims_ins AFTER INSERT ON canon.identity_links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_links_changed();
CREATE TRIGGER links_claims_upd AFTER UPDATE ON canon.identity_links
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_links_changed();
CREATE TRIGGER links_claims_del AFTER DELETE ON canon.identity_links
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_links_changed();
CREATE TRIGGER links_claims_trunc AFTER TRUNCATE ON canon.identity_links
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_links_changed();

CREATE TRIGGER ledger_claims_ins AFTER INSERT ON ops.cabinet_claims_14d
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_ledger_changed();
CREATE TRIGGER ledger_claims_upd AFTER UPDATE ON ops.cabinet_claims_14d
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_ledger_changed();
CREATE TRIGGER ledger_claims_del AFTER DELETE ON ops.cabinet_claims_14d
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_ledger_changed();
CREATE TRIGGER ledger_claims_trunc AFTER TRUNCATE ON ops.cabinet_claims_14d
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_ledger_changed();

-- window_days is compared with the meta row on every run; any settings
-- change drops the cache too (cheap to rebuild for the run's scope).
CREATE TRIGGER settings_claims_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ct4.settings
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_cache_invalidate();
CREATE TRIGGER milestones_claims_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ct4.milestones
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._claims_cache_invalidate();

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._claims_cache_invalidate()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_cache_reset()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_cache_active()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_cache_lock_for_rebuild()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_mark_drivers(text[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_mark_leads(bigint[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_trips_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_leads_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_links_changed()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._claims_ledger_changed()', 'EXECUTE');

SELECT pg_catalog.pg_extension_config_dump('ops.claims_cache_meta', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ops.claims_driver_state', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ops.claims_invalid_leads', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ops.claims_dirty_drivers', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ops.claims_dirty_leads', 'WHERE false');
-- Marks only need to differ from the marks in the (empty after restore)
-- dirty tables; dumped like every sequence so restores carry it on.
SELECT pg_catalog.pg_extension_config_dump('ops.claims_dirty_mark_seq', '');
-- Job framework (SPEC 5): the job registry, per-profile schedules and limits,
-- and the state of what ct4.schedule() registered in pg_cron.

-- One row per job. `command` is admin-defined SQL that ct4.run_job EXECUTEs
-- (the job's default arguments live in it). Limits here are the defaults;
-- a schedule profile may override them (ct4.job_schedules).
CREATE TABLE ct4.jobs (
    job_name    text PRIMARY KEY CHECK (job_name ~ '^[a-z][a-z0-9_]*$' AND job_name <> 'maintenance'),
    command     text        NOT NULL CHECK (length(btrim(command)) > 0),
    description text,
    enabled     boolean     NOT NULL DEFAULT true,
    max_runtime interval    NOT NULL DEFAULT '30 minutes' CHECK (max_runtime > '0'),
    max_retries integer     NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 100),
    retry_delay interval    NOT NULL DEFAULT '10 minutes' CHECK (retry_delay >= '0'),
    -- Job chains (SPEC 10): the jobs this one runs after. The framework starts
    -- it once all of them have succeeded since its own latest run; its
    -- schedule is then a deadline (pg_cron's CALL ct4.run_job decides with
    -- ct4.run_job_if_due). Checked when written.
    run_after   text[] CHECK (cardinality(run_after) > 0)
);
INSERT INTO ct4.jobs (job_name, command, description, max_runtime, run_after) VALUES
    ('reconcile_leads_pipeline', 'SELECT * FROM ct4.reconcile_leads_pipeline(30, 2000)',
     'Identity matching: links leads to persons and persons to drivers', '10 minutes', NULL),
    ('reconcile_claims_14d', 'SELECT * FROM ct4.reconcile_claims_14d(21, 1000)',
     'Files the claims that are missing although a milestone was reached', '30 minutes', NULL),
    ('check_limbo_alerts', 'SELECT * FROM ct4.check_limbo_alerts()',
     'Compares limbo counts and job health with ct4.alert_rules, raises alerts', '5 minutes',
     '{reconcile_leads_pipeline,reconcile_claims_14d}');

-- run_after of the rows written names registered jobs and makes no cycle
-- (22023 naming the job). Only written rows are checked, after the whole
-- statement (a restore's COPY replaces default rows one by one). Deleting a
-- job others run after leaves the name: such a predecessor never succeeds,
-- so its dependents run at their deadline, and job_status shows it.
CREATE FUNCTION ct4._jobs_run_after_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT j.job_name, p.name INTO bad
      FROM ct4.jobs j CROSS JOIN LATERAL unnest(j.run_after) p(name)
     WHERE j.job_name IN (SELECT n.job_name FROM new_rows n)
       AND (p.name IS NULL OR NOT EXISTS (SELECT 1 FROM ct4.jobs k WHERE k.job_name = p.name))
     ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run_after of job "%" names %, which is not a registered job', bad.job_name,
            coalesce('"' || bad.name || '"', 'NULL')
            USING ERRCODE = '22023',
            HINT = 'run_after lists job names of ct4.jobs (SELECT job_name FROM ct4.jobs).';
    END IF;
    WITH RECURSIVE walk(start, cur, path) AS (
        SELECT j.job_name, p.name, ARRAY[j.job_name]
          FROM ct4.jobs j CROSS JOIN LATERAL unnest(j.run_after) p(name)
         WHERE j.job_name IN (SELECT n.job_name FROM new_rows n)
        UNION ALL
        SELECT w.start, p.name, w.path || w.cur
          FROM walk w JOIN ct4.jobs j ON j.job_name = w.cur
         CROSS JOIN LATERAL unnest(j.run_after) p(name)
         WHERE w.cur <> ALL (w.path))
    SELECT w.start AS job_name, array_to_string(w.path || w.cur, ' -> ') AS name INTO bad
      FROM walk w WHERE w.cur = w.start ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'run_after of job "%" makes a cycle: %', bad.job_name, bad.name
            USING ERRCODE = '22023',
            HINT = 'A job cannot run after itself, directly or through others: remove one name from run_after.';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_run_after_insert AFTER INSERT ON ct4.jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._jobs_run_after_check();
CREATE TRIGGER jobs_run_after_update AFTER UPDATE ON ct4.jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._jobs_run_after_check();

-- Schedule profiles (seed 004's per-environment settings). `maintenance`
-- is the schedule of ct4:maintenance (retries, pruning, DST re-registration).
CREATE TABLE ct4.schedule_profiles (
    profile     text PRIMARY KEY,
    maintenance text NOT NULL,
    description text
);
INSERT INTO ct4.schedule_profiles VALUES
    ('development', '*/2 * * * *',  'Hourly jobs so that results show within the hour; maintenance every 2 min'),
    ('staging',     '*/5 * * * *',  'Same cadence as production'),
    ('production',  '*/5 * * * *',  'Seed values: leads every 15 min, claims 02:30, alerts 02:35'),
    ('high_load',   '*/10 * * * *', 'Half the frequency, 5 retries');

-- Per profile and job: the schedule (in the wall-clock time of the timezone
-- given to ct4.schedule) and optional limit overrides (NULL = ct4.jobs').
CREATE TABLE ct4.job_schedules (
    profile     text NOT NULL REFERENCES ct4.schedule_profiles ON UPDATE CASCADE ON DELETE CASCADE,
    job_name    text NOT NULL REFERENCES ct4.jobs ON UPDATE CASCADE ON DELETE CASCADE,
    schedule    text NOT NULL,
    max_runtime interval CHECK (max_runtime > '0'),
    max_retries integer CHECK (max_retries BETWEEN 0 AND 100),
    retry_delay interval CHECK (retry_delay >= '0'),
    PRIMARY KEY (profile, job_name)
);
INSERT INTO ct4.job_schedules (profile, job_name, schedule, max_runtime, max_retries) VALUES
    ('development', 'reconcile_leads_pipeline', '0 * * * *',    NULL, NULL),
    ('development', 'reconcile_claims_14d',     '30 * * * *',   NULL, NULL),
    ('development', 'check_limbo_alerts',       '35 * * * *',   NULL, NULL),
    ('staging',     'reconcile_leads_pipeline', '*/15 * * * *', NULL, NULL),
    ('staging',     'reconcile_claims_14d',     '30 2 * * *',   NULL, NULL),
    ('staging',     'check_limbo_alerts',       '35 2 * * *',   NULL, NULL),
    ('production',  'reconcile_leads_pipeline', '*/15 * * * *', NULL, NULL),
    ('production',  'reconcile_claims_14d',     '30 2 * * *',   NULL, NULL),
    ('production',  'check_limbo_alerts',       '35 2 * * *',   NULL, NULL),
    ('high_load',   'reconcile_leads_pipeline', '*/30 * * * *', '25 minutes', 5),
    ('high_load',   'reconcile_claims_14d',     '30 2 * * *',   NULL, 5),
    ('high_load',   'check_limbo_alerts',       '35 2 * * *',   NULL, 5);

-- The profile and zone last given to ct4.schedule(); kept by unschedule(),
-- so that ct4.schedule() without arguments comes back as it was.
CREATE TABLE ct4.schedule_choice (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    profile   text        NOT NULL,
    timezone  text        NOT NULL,
    chosen_at timestamptz NOT NULL
);
-- A pause (SPEC 10, ct4.pause): while this row exists every ct4: pg_cron
-- entry is inactive and the framework starts nothing on its own.
CREATE TABLE ct4.pause_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    reason    text        NOT NULL,
    since     timestamptz NOT NULL,
    paused_by name        NOT NULL
);

-- What ct4.schedule() registered: the active profile and zone, the zone's
-- UTC offset when the cron lines were computed (ct4.maintenance re-registers
-- when it changes: DST), and each pg_cron entry.
CREATE TABLE ct4.schedule_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    profile      text        NOT NULL,
    timezone     text        NOT NULL,
    utc_offset   integer     NOT NULL,   -- seconds, local = UTC + offset
    scheduled_at timestamptz NOT NULL
);
CREATE TABLE ct4.scheduled_jobs (
    jobname        text PRIMARY KEY,      -- pg_cron entry name: ct4:<job_name> | ct4:maintenance
    job_name       text,                  -- NULL for ct4:maintenance
    local_schedule text        NOT NULL,
    utc_schedule   text        NOT NULL,
    command        text        NOT NULL,
    registered_at  timestamptz NOT NULL
);

-- A job's command runs with the rights of the extension's owner (ct4.run_job,
-- pg_cron), so only the owner registers jobs or changes a command (SPEC 6).
-- Operators change the limits (column grants below) and enable, disable,
-- schedule and pause through SECURITY DEFINER functions.
CREATE TRIGGER jobs_owner_only BEFORE INSERT OR UPDATE ON ct4.jobs
    FOR EACH ROW EXECUTE FUNCTION ct4._owner_only_rows('command', 'job_name');

-- The job lock (SPEC 4, amended): a run holds its job's row here FOR UPDATE
-- until it commits; a second run finds it locked and is SKIPPED_LOCKED. Only
-- the owner can lock these rows (no role is granted UPDATE on the table),
-- so no unprivileged role can stop a job, unlike an advisory lock, which
-- any connected role can take. A table of its own, not the ct4.jobs row: an
-- operator's enable_job, disable_job or limit change must not wait for a
-- run. One row per job, made when the job is registered (ct4._job_lock
-- makes a missing one).
CREATE TABLE ct4.job_locks (
    job_name text PRIMARY KEY
);
SELECT pg_catalog.pg_extension_config_dump('ct4.job_locks', 'WHERE false');
CREATE FUNCTION ct4._job_locks_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO ct4.job_locks (job_name) SELECT n.job_name FROM new_rows n
        ON CONFLICT (job_name) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_lock_rows AFTER INSERT ON ct4.jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ct4._job_locks_add();
INSERT INTO ct4.job_locks SELECT job_name FROM ct4.jobs;

-- Takes the lock of `job` until the end of the transaction. p_wait = false:
-- returns false at once when another transaction holds it (SKIP LOCKED, so
-- no error and no subtransaction); true: waits for it (ct4.unlink).
CREATE FUNCTION ct4._job_lock(p_job text, p_wait boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ct4.job_locks l WHERE l.job_name = p_job) THEN
        INSERT INTO ct4.job_locks (job_name) VALUES (p_job) ON CONFLICT (job_name) DO NOTHING;
    END IF;
    IF p_wait THEN
        PERFORM 1 FROM ct4.job_locks l WHERE l.job_name = p_job FOR UPDATE;
    ELSE
        PERFORM 1 FROM ct4.job_locks l WHERE l.job_name = p_job FOR UPDATE SKIP LOCKED;
    END IF;
    RETURN FOUND;
END $$;

-- Config tables with default rows are dumped; a restore replaces the default
-- row of the same key (see ct4._config_row_replaces).
CREATE TRIGGER jobs_replace BEFORE INSERT ON ct4.jobs
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('job_name');
CREATE TRIGGER schedule_profiles_replace BEFORE INSERT ON ct4.schedule_profiles
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('profile');

CREATE FUNCTION ct4._job_schedules_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM ct4.job_schedules s WHERE s.profile = NEW.profile AND s.job_name = NEW.job_name;
    RETURN NEW;
END $$;
CREATE TRIGGER job_schedules_replace BEFORE INSERT ON ct4.job_schedules
    FOR EACH ROW EXECUTE FUNCTION ct4._job_schedules_replace();

SELECT pg_catalog.pg_extension_config_dump('ct4.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.job_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_state', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.scheduled_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.schedule_choice', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.pause_state', '');

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._job_schedules_replace()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._job_locks_add()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._job_lock(text, boolean)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._job_limits(text)', 'EXECUTE'),   -- job_status (waiting_for): reads what the reader may read
    ('owner', 'routine', 'ct4._jobs_run_after_check()', 'EXECUTE'),
    -- Limits, profiles and per-profile schedules are the operator's to edit
    -- (a schedule names a registered job: no SQL of the operator's runs).
    -- run_after only orders registered jobs: no SQL of the operator's runs.
    ('operator', 'table', 'ct4.jobs', 'UPDATE (description, max_runtime, max_retries, retry_delay, run_after)'),
    ('operator', 'table', 'ct4.schedule_profiles', 'INSERT, UPDATE, DELETE'),
    ('operator', 'table', 'ct4.job_schedules', 'INSERT, UPDATE, DELETE');

INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value) VALUES
    ('history_keep', '30 days', 'How long ct4.maintenance keeps finished runs and resolved alerts (ct4.prune_history)',
     'interval', '0 seconds', '100 years'),
    ('external_scheduler', 'false', 'true when an external scheduler (system cron, Kubernetes CronJob, ...) calls ct4.run_job and ct4.maintenance instead of pg_cron: health() then needs no pg_cron and chained jobs start after their predecessors',
     'boolean', NULL, NULL);

-- The limits in force for a job: the active profile's overrides, else the job's.
CREATE FUNCTION ct4._job_limits(p_job text,
    OUT max_runtime interval, OUT max_retries integer, OUT retry_delay interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(s.max_runtime, j.max_runtime), coalesce(s.max_retries, j.max_retries),
           coalesce(s.retry_delay, j.retry_delay)
      FROM ct4.jobs j
      LEFT JOIN ct4.schedule_state st ON true
      LEFT JOIN ct4.job_schedules s ON s.profile = st.profile AND s.job_name = j.job_name
     WHERE j.job_name = p_job
$$;
-- Running jobs (SPEC 5): ct4.run_job, crash detection, retries, pruning.

-- Runs `command` (admin-defined SQL) and cancels it with SQLSTATE 57014 when
-- it runs longer than max_runtime (C++: a statement-timeout timer around SPI).
CREATE FUNCTION ct4._exec_with_timeout(command text, max_runtime interval) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ct4_exec_with_timeout' LANGUAGE C VOLATILE;

-- Whether the backend that wrote a RUNNING row is still the one alive with
-- that pid (a pid reused by a newer backend does not count). SECURITY
-- DEFINER: other users' backend_start is hidden from a reader, who must see
-- what a superuser sees. On a hot standby the primary's backends are not
-- visible: a RUNNING row is taken as alive (the primary reaps it).
CREATE FUNCTION ct4._backend_alive(pid integer, since timestamptz) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_is_in_recovery()
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity($1) a
                    WHERE a.pid = $1 AND (a.backend_start IS NULL OR a.backend_start <= $2))
$$;

-- Marks RUNNING rows whose backend is gone as CRASHED; returns how many.
-- Called by whatever reads the history (job_status, health, metrics,
-- run_job, maintenance, the alert job). Does nothing in a read-only
-- transaction (job_status still shows CRASHED, computed on the fly).
-- SECURITY DEFINER: a read-only role reading job_status must be able to
-- record what it saw; this only turns dead RUNNING rows into CRASHED.
CREATE FUNCTION ct4._reap_crashed() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE n integer;
BEGIN
    IF current_setting('transaction_read_only')::boolean THEN RETURN 0; END IF;
    PERFORM pg_stat_clear_snapshot();   -- see backends started since this transaction began
    UPDATE ct4.job_runs r
       SET status = 'CRASHED', finished_at = clock_timestamp(),
           error_message = format('backend %s ended while the run was RUNNING', r.backend_pid)
     WHERE r.status = 'RUNNING' AND NOT ct4._backend_alive(r.backend_pid, r.started_at);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The status a reader must see: RUNNING only while its backend lives.
CREATE FUNCTION ct4._live_status(status text, pid integer, started_at timestamptz) RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN $1 = 'RUNNING' AND NOT ct4._backend_alive($2, $3) THEN 'CRASHED' ELSE $1 END
$$;

-- One run of a job, in three steps so that its record survives whatever
-- happens to its work (SPEC 5) and no caller borrows more than running the
-- job (SPEC 6):
--   ct4._run_start  records the run (RUNNING); the caller commits;
--   ct4._run_exec   takes the job lock (held by another run: SKIPPED_LOCKED),
--                   runs the job's command under max_runtime and records
--                   SUCCESS, or FAILED with SQLSTATE and message; the caller
--                   commits;
--   ct4._run_job    the procedure that calls both and commits in between.
-- The two functions are SECURITY DEFINER: the command, which only the
-- extension's owner may write (ct4.jobs trigger), runs with the owner's
-- rights whoever calls run_job, and is read by _run_exec itself, never
-- passed in. A procedure that commits can be neither SECURITY DEFINER nor
-- carry a SET clause, so _run_job pins search_path for each of its
-- transactions and names everything schema-qualified.
CREATE FUNCTION ct4._run_start(p_job text, p_attempt integer, p_retry_of bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j   ct4.jobs;
    rid bigint;
BEGIN
    IF p_job IS NULL THEN
        RAISE EXCEPTION 'job_name must not be NULL' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO j FROM ct4.jobs WHERE job_name = p_job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job_name "%" is not a registered job', p_job USING ERRCODE = '22023',
            HINT = 'Registered jobs: SELECT job_name FROM ct4.jobs.';
    END IF;
    PERFORM ct4._reap_crashed();
    INSERT INTO ct4.job_runs (job_name, status, attempt, retry_of, args)
    VALUES (p_job, 'RUNNING', coalesce(p_attempt, 1), p_retry_of, jsonb_build_object('command', j.command))
    RETURNING run_id INTO rid;
    RETURN rid;
END $$;

-- Runs the RUNNING run `rid` of this backend (see above). Returns its final
-- status and, when it FAILED, the error to raise again.
CREATE FUNCTION ct4._run_exec(rid bigint,
    OUT status text, OUT err_sqlstate text, OUT err_message text, OUT err_detail text, OUT stats jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r   ct4.job_runs;
    cmd text;
    lim record;
    t0  timestamptz;
BEGIN
    SELECT * INTO r FROM ct4.job_runs jr
     WHERE jr.run_id = rid AND jr.status = 'RUNNING' AND jr.backend_pid = pg_backend_pid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % is not a RUNNING run of this session', rid USING ERRCODE = '22023';
    END IF;
    IF NOT ct4._job_lock(r.job_name, false) THEN
        UPDATE ct4.job_runs SET status = 'SKIPPED_LOCKED', finished_at = clock_timestamp()
         WHERE run_id = rid;
        status := 'SKIPPED_LOCKED';
        RETURN;
    END IF;
    -- Read under the lock: the command in force when the run starts.
    SELECT j.command INTO cmd FROM ct4.jobs j WHERE j.job_name = r.job_name;
    SELECT * INTO lim FROM ct4._job_limits(r.job_name);
    PERFORM set_config('ct4.run_id', rid::text, true);   -- JobRun adopts this row
    t0 := clock_timestamp();
    BEGIN
        IF cmd IS NULL THEN
            RAISE EXCEPTION 'job "%" was removed from ct4.jobs', r.job_name USING ERRCODE = '22023';
        END IF;
        PERFORM ct4._exec_with_timeout(cmd, lim.max_runtime);
        -- Jobs built on JobRun finished the row themselves; plain SQL did not.
        UPDATE ct4.job_runs jr
           SET status = 'SUCCESS', finished_at = clock_timestamp(),
               stats = jr.stats || jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE jr.run_id = rid AND jr.status = 'RUNNING';
    EXCEPTION WHEN query_canceled OR OTHERS THEN
        GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL;
        -- The block's work (and the job's writes to its row) rolled back.
        UPDATE ct4.job_runs jr
           SET status = 'FAILED', finished_at = clock_timestamp(), sqlstate = err_sqlstate,
               error_message = err_message || coalesce(E'\n' || nullif(err_detail, ''), ''),
               stats = jsonb_build_object('duration_ms',
                   round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 3))
         WHERE jr.run_id = rid;
    END;
    PERFORM set_config('ct4.run_id', '', true);
    SELECT jr.status, jr.stats INTO status, stats FROM ct4.job_runs jr WHERE jr.run_id = rid;
END $$;

-- The NOTICE line of a finished run: 'ct4 run 42 of job x: SUCCESS (processed 10,
-- newly_linked 3, ..., duration_ms 12.5)'.
CREATE FUNCTION ct4._run_summary(rid bigint, job text, status text, stats jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('ct4 run %s of job %s: %s', rid, job, status)
        || CASE WHEN status = 'SKIPPED_LOCKED' THEN ' (another run holds the job''s lock; nothing was done)'
                ELSE coalesce(' (' || (SELECT string_agg(e.key || ' ' || e.value, ', ' ORDER BY e.ord)
                                         FROM jsonb_each_text(stats) WITH ORDINALITY e(key, value, ord)) || ')', '')
           END
$$;

-- Job chains (SPEC 10). Whether an external scheduler is the design
-- (setting external_scheduler); read without a cast, so that a malformed
-- value cannot break what reads it.
CREATE FUNCTION ct4._external_scheduler() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT lower(btrim(s.value)) IN ('true', 't', 'on', 'yes', 'y', '1')
                       FROM ct4.settings s WHERE s.name = 'external_scheduler'), false)
$$;

-- Per predecessor of a job with run_after: its latest finished run (SUCCESS,
-- FAILED or CRASHED: not SKIPPED_LOCKED, DRY_RUN or RUNNING), whether it is a
-- SUCCESS newer than the job's own latest run (ready), and whether the
-- predecessor is done for this cycle: ready, or failed for good (its latest
-- run failed with no retry left, after the job's own latest run). An
-- unknown predecessor (a removed job) is never done.
CREATE FUNCTION ct4._chain_state(p_job text)
RETURNS TABLE(predecessor text, last_status text, finished_at timestamptz, enabled boolean, ready boolean,
              done boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.name, l.status, l.finished_at, k.enabled,
           coalesce(l.status = 'SUCCESS' AND l.finished_at > coalesce(me.started_at, '-infinity'), false),
           coalesce(l.finished_at > coalesce(me.started_at, '-infinity')
                    AND (l.status = 'SUCCESS' OR l.attempt > lim.max_retries), false)
      FROM ct4.jobs j
     CROSS JOIN LATERAL unnest(j.run_after) WITH ORDINALITY p(name, ord)
      LEFT JOIN ct4.jobs k ON k.job_name = p.name
      LEFT JOIN LATERAL ct4._job_limits(p.name) lim ON true
      LEFT JOIN LATERAL (SELECT r.started_at FROM ct4.job_runs r
                          WHERE r.job_name = j.job_name AND r.status NOT IN ('SKIPPED_LOCKED', 'DRY_RUN')
                          ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) me ON true
      LEFT JOIN LATERAL (SELECT r.status, r.finished_at, r.attempt FROM ct4.job_runs r
                          WHERE r.job_name = p.name AND r.status IN ('SUCCESS', 'FAILED', 'CRASHED')
                          ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
     WHERE j.job_name = p_job
     ORDER BY p.ord
$$;

-- The jobs the framework starts now: enabled, with run_after, every
-- predecessor done (succeeded, or failed for good), not running, when the framework schedules (a pg_cron
-- schedule is registered, or an external scheduler is the design) and is
-- not paused. By hand, nothing starts on its own.
CREATE FUNCTION ct4._chain_due() RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT j.job_name FROM ct4.jobs j
     WHERE j.run_after IS NOT NULL AND j.enabled
       AND NOT EXISTS (SELECT 1 FROM ct4.pause_state)
       AND (EXISTS (SELECT 1 FROM ct4.schedule_state) OR ct4._external_scheduler())
       AND NOT EXISTS (SELECT 1 FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'RUNNING'
                          AND ct4._backend_alive(r.backend_pid, r.started_at))
       AND (SELECT bool_and(c.done) FROM ct4._chain_state(j.job_name) c)
     ORDER BY j.job_name
$$;

-- Why a chained job's deadline (its own schedule: pg_cron firing its entry
-- CALL ct4.run_job) does not run it at as_of: it already ran in the
-- second half of the interval that ends at the fire being served (the chain
-- started it shortly before its deadline). A run earlier than that, e.g.
-- yesterday's late chained run, does not count. NULL: run it (no run_after,
-- not scheduled, or not run lately).
CREATE FUNCTION ct4._deadline_skip(p_job text, as_of timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('it already ran at %s, shortly before this deadline (%s)', me.started_at, t.cur)
      FROM ct4.scheduled_jobs s
      JOIN ct4.jobs j ON j.job_name = s.job_name AND j.run_after IS NOT NULL
     CROSS JOIN LATERAL (SELECT ct4.cron_prev(s.utc_schedule, as_of + interval '1 second') AS cur) t
     CROSS JOIN LATERAL (SELECT ct4.cron_prev(s.utc_schedule, t.cur) AS prev) p
     CROSS JOIN LATERAL (SELECT max(r.started_at) AS started_at FROM ct4.job_runs r
                          WHERE r.job_name = p_job AND r.status NOT IN ('SKIPPED_LOCKED', 'DRY_RUN')) me
     WHERE s.job_name = p_job AND me.started_at > t.cur - (t.cur - p.prev) / 2
$$;

-- Starts the chained jobs that are due (each in its own transactions,
-- errors as WARNINGs), after the commit of the run that made them due.
CREATE PROCEDURE ct4._run_chain()
LANGUAGE plpgsql AS $$
DECLARE
    due text[];
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    due := ARRAY(SELECT ct4._chain_due());
    FOR i IN 1 .. coalesce(array_length(due, 1), 0) LOOP
        RAISE NOTICE 'ct4: starting job % (every job it runs after has succeeded)', due[i];
        CALL ct4._run_job(due[i], 1, NULL);
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
END $$;

-- p_raise: after the FAILED record is committed, raise the job's error again
-- (ct4.run_job does, so psql and pg_cron see the failure; maintenance's retry
-- loop does not, so one failure does not stop the other retries: a WARNING).
CREATE PROCEDURE ct4._run_job(p_job text, p_attempt integer, p_retry_of bigint,
                              p_raise boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
    r   record;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    rid := ct4._run_start(p_job, p_attempt, p_retry_of);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    SELECT * INTO r FROM ct4._run_exec(rid);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- What happened, for the caller (psql prints only CALL): status and counters.
    RAISE NOTICE '%', ct4._run_summary(rid, p_job, r.status, r.stats);
    CALL ct4._run_chain();   -- the jobs that run after this one (it succeeded or failed for good)
    IF r.err_sqlstate IS NULL THEN
        RETURN;
    END IF;
    IF NOT p_raise THEN
        RAISE WARNING 'ct4 run % of job % FAILED (SQLSTATE %): %', rid, p_job, r.err_sqlstate, r.err_message;
        RETURN;
    END IF;
    RAISE EXCEPTION 'ct4 run % of job % FAILED: %', rid, p_job, r.err_message
        USING ERRCODE = r.err_sqlstate,
              DETAIL = concat('attempt ', p_attempt, ' of the job''s command', E'\n' || nullif(r.err_detail, '')),
              HINT = concat('The run is recorded in ct4.job_runs (run_id ', rid,
                            '); ct4.maintenance retries it after the job''s retry_delay.');
END $$;

-- Whether this session is pg_cron running an entry's command: a pg_cron 1.4
-- background worker (cron.use_background_workers = on) has backend_type
-- 'pg_cron'; a libpq connection (off) has application_name 'pg_cron', its
-- fallback_application_name. A session that sets application_name to
-- 'pg_cron' is taken for pg_cron: all it gains is the deadline check below.
CREATE FUNCTION ct4._called_by_pg_cron() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.current_setting('application_name') = 'pg_cron'
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a
                    WHERE a.backend_type = 'pg_cron')
$$;

-- Every ct4:<job> pg_cron entry runs CALL ct4.run_job('<job>') (SPEC 5).
-- By hand it always runs; pg_cron's call is the job's schedule, which for a
-- job with run_after is a deadline (SPEC 10): run_job_if_due decides.
CREATE PROCEDURE ct4.run_job(job_name text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF ct4._called_by_pg_cron() THEN
        CALL ct4.run_job_if_due(job_name, pg_catalog.now());
        RETURN;
    END IF;
    CALL ct4._run_job(job_name, 1, NULL, true);
END $$;

-- What pg_cron's fire of a job's entry does (a job with run_after: its
-- deadline, SPEC 10): runs it like run_job unless it already ran in this
-- cycle (then a NOTICE says so); when its predecessors have not all
-- succeeded, a NOTICE says which. Without run_after it is run_job.
-- `now` drives time in tests.
CREATE PROCEDURE ct4.run_job_if_due(job_name text, now timestamptz DEFAULT now())
LANGUAGE plpgsql AS $$
DECLARE
    why     text;
    waiting text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    why := ct4._deadline_skip(job_name, now);
    IF why IS NOT NULL THEN
        RAISE NOTICE 'ct4: job % not run at its deadline: %', job_name, why;
        RETURN;
    END IF;
    SELECT string_agg(format('%s (%s)', c.predecessor,
                             CASE WHEN c.enabled IS NULL THEN 'not a registered job'
                                  WHEN NOT c.enabled THEN 'disabled'
                                  WHEN c.last_status IS NULL THEN 'never ran'
                                  WHEN c.last_status = 'SUCCESS' THEN 'no success since this job''s last run'
                                  WHEN c.last_status IN ('FAILED', 'CRASHED') THEN 'last run ' || c.last_status || ', a retry pending'
                                  ELSE 'last run ' || c.last_status END), ', ')
      INTO waiting FROM ct4._chain_state(job_name) c WHERE NOT c.done;
    IF waiting IS NOT NULL THEN
        RAISE NOTICE 'ct4: job % runs at its deadline although it waits for: %', job_name, waiting;
    END IF;
    CALL ct4._run_job(job_name, 1, NULL, true);
END $$;

-- Deletes finished runs that started before as_of - keep, and resolved
-- alerts raised before it; each job's latest run and latest success stay
-- (ct4.job_status needs them). Returns the number of runs deleted.
CREATE FUNCTION ct4._prune_history(keep interval, as_of timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE n bigint;
BEGIN
    IF keep IS NULL OR keep < '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval (got %)', keep USING ERRCODE = '22023';
    END IF;
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = '22023';
    END IF;
    DELETE FROM ct4.job_runs r
     WHERE r.started_at < as_of - keep AND r.status <> 'RUNNING'
       AND r.run_id NOT IN (SELECT DISTINCT ON (job_name) run_id FROM ct4.job_runs
                             ORDER BY job_name, started_at DESC, run_id DESC)
       AND r.run_id NOT IN (SELECT DISTINCT ON (job_name) run_id FROM ct4.job_runs
                             WHERE status = 'SUCCESS'
                             ORDER BY job_name, started_at DESC, run_id DESC);
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM ct4.alert_events e WHERE e.resolved_at IS NOT NULL AND e.raised_at < as_of - keep;
    RETURN n;
END $$;

CREATE FUNCTION ct4.prune_history(keep interval DEFAULT '30 days') RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._prune_history(keep, now())
$$;

-- Failed or crashed runs due for a retry at as_of: the job's latest run (runs
-- skipped on the lock do not count) failed, retry_delay has passed since, and
-- fewer than max_retries retries were made (attempt 1 is the first run).
CREATE FUNCTION ct4._due_retries(as_of timestamptz)
RETURNS TABLE(job_name text, run_id bigint, attempt integer)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.job_name, l.run_id, l.attempt + 1
      FROM ct4.jobs j
      CROSS JOIN LATERAL ct4._job_limits(j.job_name) lim
      JOIN LATERAL (SELECT r.* FROM ct4.job_runs r
                     WHERE r.job_name = j.job_name AND r.status <> 'SKIPPED_LOCKED'
                     ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
     WHERE j.enabled
       AND l.status IN ('FAILED', 'CRASHED')
       AND l.attempt <= lim.max_retries
       AND coalesce(l.finished_at, l.started_at) + lim.retry_delay <= as_of
     ORDER BY l.job_name
$$;

-- The first step of ct4.maintenance: marks crashed runs, re-registers the
-- schedule when the zone's UTC offset changed (DST), returns the due retries.
CREATE FUNCTION ct4._maintenance_begin(as_of timestamptz)
RETURNS TABLE(job_name text, run_id bigint, attempt integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'now must not be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM ct4._reap_crashed();
    PERFORM ct4._schedule_dst_check(as_of);
    IF EXISTS (SELECT 1 FROM ct4.pause_state) THEN
        RETURN;   -- paused: the framework starts nothing on its own
    END IF;
    RETURN QUERY SELECT * FROM ct4._due_retries(as_of);
END $$;

-- The last step: prunes history older than the setting history_keep.
CREATE FUNCTION ct4._maintenance_end(as_of timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._prune_history(coalesce((SELECT s.value::interval FROM ct4.settings s
                                         WHERE s.name = 'history_keep'), '30 days'), as_of)
$$;

-- Every 5 minutes from pg_cron (ct4:maintenance): marks crashed runs,
-- re-registers the schedule when the zone's UTC offset changed (DST), runs
-- the due retries (each in its own transactions), prunes history. `now`
-- drives time in tests. Like _run_job it commits, so it pins search_path
-- for each of its transactions; the work is in SECURITY DEFINER functions.
CREATE PROCEDURE ct4.maintenance(now timestamptz DEFAULT now())
LANGUAGE plpgsql AS $$
DECLARE
    jobs     text[];
    runs     bigint[];
    attempts integer[];
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    SELECT array_agg(d.job_name ORDER BY d.job_name), array_agg(d.run_id ORDER BY d.job_name),
           array_agg(d.attempt ORDER BY d.job_name)
      INTO jobs, runs, attempts FROM ct4._maintenance_begin(now) d;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    FOR i IN 1 .. coalesce(array_length(jobs, 1), 0) LOOP
        RAISE NOTICE 'ct4 maintenance: retrying job % (run % failed), attempt %', jobs[i], runs[i], attempts[i];
        CALL ct4._run_job(jobs[i], attempts[i], runs[i]);
    END LOOP;
    CALL ct4._run_chain();   -- chained jobs whose predecessors succeeded (at the latest here)
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    PERFORM ct4._maintenance_end(now);
    COMMIT;
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._exec_with_timeout(text, interval)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._backend_alive(integer, timestamptz)', 'EXECUTE'),   -- job_status
    ('reader', 'routine', 'ct4._reap_crashed()', 'EXECUTE'),                       -- job_status
    ('reader', 'routine', 'ct4._live_status(text, integer, timestamptz)', 'EXECUTE'), -- job_status
    ('operator', 'routine', 'ct4._run_start(text, integer, bigint)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_exec(bigint)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_summary(bigint, text, text, jsonb)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_job(text, integer, bigint, boolean)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._called_by_pg_cron()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.run_job(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.run_job_if_due(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._external_scheduler()', 'EXECUTE'),            -- health
    ('reader', 'routine', 'ct4._chain_state(text)', 'EXECUTE'),               -- job_status
    ('operator', 'routine', 'ct4._chain_due()', 'EXECUTE'),
    ('operator', 'routine', 'ct4._deadline_skip(text, timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._run_chain()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._prune_history(interval, timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.prune_history(interval)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._due_retries(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._maintenance_begin(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._maintenance_end(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.maintenance(timestamptz)', 'EXECUTE');
-- Scheduling on pg_cron 1.4 (SPEC 5). pg_cron lives in one database only
-- (cron.database_name) and ct4_jobs installs in any, so nothing here depends
-- on it at install time: it is detected at run time and every cron.* call is
-- dynamic, parameterized SQL.

-- The cron evaluator (C++ over src/core/cron.cpp).
CREATE FUNCTION ct4.cron_next(expr text, after timestamptz DEFAULT now()) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'ct4_cron_next' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_prev(expr text, before timestamptz DEFAULT now()) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'ct4_cron_prev' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_interval(expr text, after timestamptz DEFAULT now()) RETURNS interval
    AS 'MODULE_PATHNAME', 'ct4_cron_interval' LANGUAGE C STABLE STRICT;
CREATE FUNCTION ct4.cron_local_to_utc(expr text, utc_offset_seconds integer) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_cron_local_to_utc' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION ct4.cron_error(expr text) RETURNS text
    AS 'MODULE_PATHNAME', 'ct4_cron_error' LANGUAGE C IMMUTABLE STRICT;

-- Schedules are validated when written (SPEC 6): a cron line pg_cron 1.4
-- would refuse, or that never does what it says ('61 * * * *', '5-1 * * *
-- *'), is 22023 naming the row and saying what is allowed. TG_ARGV[0]: the
-- column; the row is named by job_name/profile.
CREATE FUNCTION ct4._schedule_row_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expr text := to_jsonb(NEW) ->> TG_ARGV[0];
    err  text := ct4.cron_error(expr);
BEGIN
    IF err IS NOT NULL THEN
        RAISE EXCEPTION '%.% of %: % is not a valid schedule: %', TG_TABLE_NAME, TG_ARGV[0],
            concat_ws(' ', 'profile ' || (to_jsonb(NEW) ->> 'profile'), 'job ' || (to_jsonb(NEW) ->> 'job_name')),
            quote_literal(expr), err
            USING ERRCODE = '22023',
            HINT = 'Allowed: five fields "minute hour day-of-month month day-of-week" (minute 0-59, hour 0-23, '
                   'day 1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat), each *, n, a-b, */n, a-b/n or a '
                   'comma list of them; or @hourly, @daily, @weekly, @monthly, @yearly. Times are wall-clock '
                   'times of the zone given to ct4.schedule().';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER job_schedules_valid BEFORE INSERT OR UPDATE OF schedule ON ct4.job_schedules
    FOR EACH ROW EXECUTE FUNCTION ct4._schedule_row_check('schedule');
CREATE TRIGGER schedule_profiles_valid BEFORE INSERT OR UPDATE OF maintenance ON ct4.schedule_profiles
    FOR EACH ROW EXECUTE FUNCTION ct4._schedule_row_check('maintenance');

-- UTC offset in seconds of `timezone` at `at` (local = UTC + offset).
-- An unknown zone is 22023 naming the argument.
CREATE FUNCTION ct4._zone_offset(timezone text, at timestamptz) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF timezone IS NULL THEN
        RAISE EXCEPTION 'timezone must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = timezone)
       AND NOT EXISTS (SELECT 1 FROM pg_timezone_abbrevs WHERE abbrev = upper(timezone)) THEN
        RAISE EXCEPTION 'timezone "%" is not a known time zone', timezone USING ERRCODE = '22023',
            HINT = 'Use a name from pg_timezone_names, e.g. ''America/Lima''.';
    END IF;
    RETURN extract(epoch FROM (at AT TIME ZONE timezone) - (at AT TIME ZONE 'UTC'))::integer;
END $$;

-- What ct4.schedule(profile, timezone) registers at as_of: one entry per
-- enabled job plus ct4:maintenance, local times converted to pg_cron's GMT
-- with the zone's offset in force at as_of. Needs no pg_cron.
CREATE FUNCTION ct4.schedule_plan(profile text DEFAULT 'production', timezone text DEFAULT 'UTC',
                                  as_of timestamptz DEFAULT now())
RETURNS TABLE(jobname text, job_name text, local_schedule text, utc_schedule text, command text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE off integer;
BEGIN
    IF profile IS NULL THEN
        RAISE EXCEPTION 'profile must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ct4.schedule_profiles p WHERE p.profile = schedule_plan.profile) THEN
        RAISE EXCEPTION 'profile "%" is not a schedule profile', profile USING ERRCODE = '22023',
            HINT = 'Profiles: SELECT profile FROM ct4.schedule_profiles (development, staging, production, high_load).';
    END IF;
    off := ct4._zone_offset(timezone, as_of);
    RETURN QUERY
    -- The same command for every job (SPEC 5); for a job with run_after,
    -- run_job knows pg_cron's call and treats it as a deadline.
    SELECT 'ct4:' || s.job_name, s.job_name, s.schedule, ct4.cron_local_to_utc(s.schedule, off),
           format('CALL ct4.run_job(%L)', s.job_name)
      FROM ct4.job_schedules s JOIN ct4.jobs j ON j.job_name = s.job_name
     WHERE s.profile = schedule_plan.profile AND j.enabled
    UNION ALL
    SELECT 'ct4:maintenance', NULL, p.maintenance, ct4.cron_local_to_utc(p.maintenance, off),
           'CALL ct4.maintenance()'
      FROM ct4.schedule_profiles p WHERE p.profile = schedule_plan.profile
     ORDER BY 1;
END $$;

-- Whether pg_cron is usable here; else a clear error (SQLSTATE 55000).
CREATE FUNCTION ct4._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
       OR to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
            DETAIL = format('cron.database_name is %s. pg_cron 1.4 schedules jobs only in that database.',
                            coalesce(quote_literal(current_setting('cron.database_name', true)), 'not set')),
            HINT = 'Install ct4_jobs in the database named by cron.database_name and run CREATE EXTENSION pg_cron there '
                   '(pg_cron must be in shared_preload_libraries). Without pg_cron, run jobs with CALL ct4.run_job(...).';
    END IF;
END $$;

-- Makes pg_cron's ct4:* entries equal to schedule_plan(profile, timezone,
-- as_of): adds and updates what differs, removes ct4:* entries not in the
-- plan (disabled jobs). Idempotent. Returns the plan. Runs as the
-- extension's owner (every caller is SECURITY DEFINER), so the entries
-- belong to the owner whoever schedules: pg_cron runs them as the owner,
-- and an operator's schedule() or pause() acts on those same entries.
CREATE FUNCTION ct4._sync_schedule(p_profile text, p_timezone text, as_of timestamptz)
RETURNS TABLE(jobname text, local_schedule text, utc_schedule text, command text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e      record;
    jid    bigint;
    -- Paused: the entries are registered (so that a schedule, enable_job or
    -- disable_job during the pause is recorded) but inactive until resume.
    active boolean := NOT EXISTS (SELECT 1 FROM ct4.pause_state);
BEGIN
    PERFORM ct4._require_pg_cron();
    CREATE TEMP TABLE IF NOT EXISTS _ct4_plan (LIKE ct4.scheduled_jobs) ON COMMIT DROP;
    TRUNCATE _ct4_plan;
    INSERT INTO _ct4_plan (jobname, job_name, local_schedule, utc_schedule, command, registered_at)
    SELECT p.jobname, p.job_name, p.local_schedule, p.utc_schedule, p.command, as_of
      FROM ct4.schedule_plan(p_profile, p_timezone, as_of) p;

    -- Entries of ours that the plan no longer has, and ct4:* entries of any
    -- other user (copies: pg_cron runs an entry as its user): by id, since
    -- pg_cron 1.4 unschedules by name only the caller's own entry.
    FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%''
                         AND (jobname <> ALL ($1) OR username <> current_user)'
               USING (SELECT array_agg(p.jobname) FROM _ct4_plan p) LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING e.jobid;
    END LOOP;
    -- New or changed entries (cron.schedule updates an entry of the same name).
    FOR e IN EXECUTE
        'SELECT p.jobname, p.utc_schedule, p.command FROM pg_temp._ct4_plan p
          WHERE NOT EXISTS (SELECT 1 FROM cron.job c WHERE c.jobname = p.jobname AND c.schedule = p.utc_schedule
                               AND c.command = p.command AND c.active = $1 AND c.database = current_database())'
        USING active LOOP
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jid USING e.jobname, e.utc_schedule, e.command;
        EXECUTE 'SELECT cron.alter_job($1, active => $2)' USING jid, active;   -- an update keeps 'active'
    END LOOP;

    -- Keep registered_at of entries that stayed (the job stayed scheduled).
    DELETE FROM ct4.scheduled_jobs s WHERE s.jobname NOT IN (SELECT p.jobname FROM _ct4_plan p);
    INSERT INTO ct4.scheduled_jobs AS s
    SELECT * FROM _ct4_plan
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey DO UPDATE
       SET local_schedule = excluded.local_schedule, utc_schedule = excluded.utc_schedule,
           command = excluded.command, job_name = excluded.job_name;
    INSERT INTO ct4.schedule_choice (profile, timezone, chosen_at) VALUES (p_profile, p_timezone, as_of)
    ON CONFLICT (singleton) DO UPDATE SET profile = excluded.profile, timezone = excluded.timezone,
                                          chosen_at = excluded.chosen_at;
    INSERT INTO ct4.schedule_state (profile, timezone, utc_offset, scheduled_at)
    VALUES (p_profile, p_timezone, ct4._zone_offset(p_timezone, as_of), as_of)
    ON CONFLICT (singleton) DO UPDATE
       SET profile = excluded.profile, timezone = excluded.timezone, utc_offset = excluded.utc_offset,
           scheduled_at = CASE WHEN ct4.schedule_state.profile = excluded.profile
                                AND ct4.schedule_state.timezone = excluded.timezone
                               THEN ct4.schedule_state.scheduled_at ELSE excluded.scheduled_at END;
    RETURN QUERY SELECT p.jobname, p.local_schedule, p.utc_schedule, p.command FROM _ct4_plan p ORDER BY 1;
END $$;

-- The operator's entry points below are SECURITY DEFINER: pg_cron's schema
-- is the owner's, and the entries must be the owner's (see _sync_schedule).
-- NULL profile or timezone: the one last given (ct4.schedule_choice, kept
-- by unschedule), else 'production' / 'UTC' (SPEC 5).
CREATE FUNCTION ct4.schedule(profile text DEFAULT NULL, timezone text DEFAULT NULL)
RETURNS TABLE(jobname text, local_schedule text, utc_schedule text, command text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.* FROM (SELECT coalesce(schedule.profile, (SELECT c.profile FROM ct4.schedule_choice c), 'production') AS p,
                            coalesce(schedule.timezone, (SELECT c.timezone FROM ct4.schedule_choice c), 'UTC') AS tz) a
     CROSS JOIN LATERAL ct4._sync_schedule(a.p, a.tz, now()) s
$$;

-- Removes every ct4:* pg_cron entry; returns how many. The profile and zone
-- stay in ct4.schedule_choice for the next ct4.schedule().
CREATE FUNCTION ct4.unschedule() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    n integer := 0;
BEGIN
    PERFORM ct4._require_pg_cron();
    FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%''' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING e.jobid;
        n := n + 1;
    END LOOP;
    DELETE FROM ct4.scheduled_jobs;
    DELETE FROM ct4.schedule_state;
    RETURN n;
END $$;

-- Called by ct4.maintenance: when the active zone's UTC offset at as_of
-- differs from the one the entries were computed with (a DST change),
-- recomputes and re-registers them. Returns true when it did.
CREATE FUNCTION ct4._schedule_dst_check(as_of timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE st ct4.schedule_state;
BEGIN
    SELECT * INTO st FROM ct4.schedule_state;
    IF NOT FOUND OR ct4._zone_offset(st.timezone, as_of) = st.utc_offset
       OR to_regnamespace('cron') IS NULL THEN
        RETURN false;
    END IF;
    RAISE NOTICE 'ct4: UTC offset of % changed from % s to % s; re-registering the schedule',
        st.timezone, st.utc_offset, ct4._zone_offset(st.timezone, as_of);
    PERFORM ct4._sync_schedule(st.profile, st.timezone, as_of);
    RETURN true;
END $$;

-- Re-applies the active schedule after enable/disable (no-op when nothing is
-- scheduled or pg_cron is absent here).
CREATE FUNCTION ct4._resync_schedule() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE st ct4.schedule_state;
BEGIN
    SELECT * INTO st FROM ct4.schedule_state;
    IF FOUND AND to_regnamespace('cron') IS NOT NULL THEN
        PERFORM ct4._sync_schedule(st.profile, st.timezone, now());
    END IF;
END $$;

CREATE FUNCTION ct4._set_enabled(p_job text, p_enabled boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_job IS NULL THEN
        RAISE EXCEPTION 'name must not be NULL' USING ERRCODE = '22023';
    END IF;
    UPDATE ct4.jobs SET enabled = p_enabled WHERE job_name = p_job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name "%" is not a registered job', p_job USING ERRCODE = '22023',
            HINT = 'Registered jobs: SELECT job_name FROM ct4.jobs.';
    END IF;
    PERFORM ct4._resync_schedule();
    RETURN p_enabled;
END $$;

-- Disabling removes the job's pg_cron entry (and stops its retries); it
-- still runs by hand. Enabling registers it again with the active profile.
CREATE FUNCTION ct4.enable_job(name text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._set_enabled(name, true)
$$;
CREATE FUNCTION ct4.disable_job(name text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._set_enabled(name, false)
$$;

-- Pausing (SPEC 10; seed 004's backup: stop tasks, pg_dump, start tasks).
-- ct4.pause(reason) stops every ct4: pg_cron entry (inactive, kept as it
-- is) and the framework starts nothing on its own (no retries, no chained
-- starts) until ct4.resume(), which registers the entries again from the
-- recorded profile and zone: they come back as they were, with what
-- schedule(), enable_job() and disable_job() changed meanwhile. A second
-- pause keeps the first reason. Both return the number of entries stopped
-- or running again. Without pg_cron (an external scheduler) the pause is
-- recorded and shown by health(); stopping the external scheduler is its own.
CREATE FUNCTION ct4.pause(reason text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p ct4.pause_state;
    e record;
    n integer := 0;
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'reason must say why the schedules are paused (got %)', coalesce(quote_literal(reason), 'NULL')
            USING ERRCODE = '22023', HINT = 'For example: SELECT ct4.pause(''pg_dump before the upgrade'');';
    END IF;
    SELECT * INTO p FROM ct4.pause_state;
    IF FOUND THEN
        RAISE NOTICE 'ct4: already paused since % by %: % (the first reason is kept)', p.since, p.paused_by, p.reason
            USING HINT = 'SELECT ct4.resume() ends the pause.';
    ELSE
        INSERT INTO ct4.pause_state (reason, since, paused_by) VALUES (reason, now(), ct4._actor());
    END IF;
    IF to_regclass('cron.job') IS NOT NULL THEN
        FOR e IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''ct4:%'' AND active ORDER BY jobid' LOOP
            EXECUTE 'SELECT cron.alter_job($1, active => false)' USING e.jobid;
            n := n + 1;
        END LOOP;
    END IF;
    RETURN n;
END $$;

CREATE FUNCTION ct4.resume() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p  ct4.pause_state;
    st ct4.schedule_state;
    n  integer := 0;
BEGIN
    DELETE FROM ct4.pause_state RETURNING * INTO p;
    IF NOT FOUND THEN
        RAISE NOTICE 'ct4: not paused, nothing to resume';
        RETURN 0;
    END IF;
    SELECT * INTO st FROM ct4.schedule_state;
    IF FOUND AND to_regclass('cron.job') IS NOT NULL THEN
        PERFORM ct4._sync_schedule(st.profile, st.timezone, now());
        EXECUTE 'SELECT count(*) FROM cron.job WHERE jobname LIKE ''ct4:%'' AND active' INTO n;
    END IF;
    RAISE NOTICE 'ct4: resumed after % (paused since % by %: %)', now() - p.since, p.since, p.paused_by, p.reason;
    RETURN n;
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('operator', 'routine', 'ct4.pause(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.resume()', 'EXECUTE');

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'routine', 'ct4.cron_next(text, timestamptz)', 'EXECUTE'),   -- job_status
    ('reader', 'routine', 'ct4.cron_interval(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_prev(text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_local_to_utc(text, integer)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.cron_error(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._schedule_row_check()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.schedule_plan(text, text, timestamptz)', 'EXECUTE'),
    ('reader', 'routine', 'ct4._zone_offset(text, timestamptz)', 'EXECUTE'),   -- schedule_plan
    ('owner', 'routine', 'ct4._require_pg_cron()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._sync_schedule(text, text, timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._schedule_dst_check(timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._resync_schedule()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._set_enabled(text, boolean)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.schedule(text, text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.unschedule()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.enable_job(text)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.disable_job(text)', 'EXECUTE');
-- Limbo and job-health alerts (SPEC 4.4). The rules are data; the evaluator
-- is C++ (src/framework/limbo_alerts.cpp). An alert fires when its metric is
-- above the rule's threshold.
CREATE TABLE ct4.alert_rules (
    rule_code   text PRIMARY KEY,
    description text    NOT NULL,
    threshold   numeric NOT NULL,
    severity    text    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    enabled     boolean NOT NULL DEFAULT true,
    params      jsonb   NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object')
);
INSERT INTO ct4.alert_rules (rule_code, description, threshold, severity, params) VALUES
    ('NO_IDENTITY_RECENT', 'Leads with lead_date in the last params.days days stuck at NO_IDENTITY',
     50, 'warning', '{"days": 7}'),
    ('TRIPS_NO_CLAIM', 'Leads older than params.min_age_days days at TRIPS_NO_CLAIM (a milestone without its claim)',
     0, 'critical', '{"min_age_days": 1}'),
    ('NO_IDENTITY_WOW_GROWTH', 'Week-over-week growth in percent of NO_IDENTITY leads (last complete ISO week vs the week before)',
     20, 'warning', '{}'),
    ('JOB_STALE', 'A job scheduled for longer than threshold x its interval (at least params.min_window_hours) without a successful run in that time',
     2, 'critical', '{"min_window_hours": 2}'),
    ('JOB_FAILED', 'The last finished run of a job FAILED or CRASHED (metric: consecutive failures)',
     0, 'warning', '{}');

-- Every alert raised, with the run that raised it and its evidence. An
-- evaluation resolves the alerts of the previous one, so the open alerts
-- are those of the latest evaluation.
CREATE TABLE ct4.alert_events (
    event_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_id       bigint      NOT NULL,
    rule_code    text        NOT NULL,
    severity     text        NOT NULL,
    metric_value numeric,
    threshold    numeric,
    message      text        NOT NULL,
    details      jsonb       NOT NULL,
    raised_at    timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE INDEX alert_events_open_idx ON ct4.alert_events (raised_at) WHERE resolved_at IS NULL;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('operator', 'table', 'ct4.alert_rules', 'INSERT, UPDATE, DELETE');

CREATE TRIGGER alert_rules_replace BEFORE INSERT ON ct4.alert_rules
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('rule_code');
SELECT pg_catalog.pg_extension_config_dump('ct4.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.alert_events', '');
SELECT pg_catalog.pg_extension_config_dump('ct4.alert_events_event_id_seq', '');

-- The alert job. Records its run like the other jobs (lock included).
-- SECURITY DEFINER like every job: it writes ct4 tables an operator does not.
CREATE FUNCTION ct4.check_limbo_alerts()
RETURNS TABLE(alert_code text, severity text, metric_value numeric, threshold numeric,
              message text, details jsonb)
    AS 'MODULE_PATHNAME', 'ct4_check_limbo_alerts'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
-- The rules evaluated as of a given time, for back-checks: returns the
-- alerts that would fire and writes nothing (no run, no alert_events row,
-- no notification; the open alerts stay open). STABLE in effect, but
-- VOLATILE like the job it mirrors.
CREATE FUNCTION ct4.check_limbo_alerts_at(as_of timestamptz)
RETURNS TABLE(alert_code text, severity text, metric_value numeric, threshold numeric,
              message text, details jsonb)
    AS 'MODULE_PATHNAME', 'ct4_check_limbo_alerts_at'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
-- The job itself as of a given time: records its run and its alerts like
-- check_limbo_alerts() (time as an argument for tests). Owner only.
CREATE FUNCTION ct4._check_limbo_alerts_record(as_of timestamptz)
RETURNS TABLE(alert_code text, severity text, metric_value numeric, threshold numeric,
              message text, details jsonb)
    AS 'MODULE_PATHNAME', 'ct4_check_limbo_alerts_record'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The exit-code contract of the seeds: ERROR (and psql -v ON_ERROR_STOP=1
-- exits 1) when any alert fires; the alerts are in the error's DETAIL as
-- JSON. It writes nothing (check_limbo_alerts_at): the durable record is
-- made by the scheduled check_limbo_alerts job.
CREATE FUNCTION ct4._assert_no_alerts(as_of timestamptz) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    j jsonb;
BEGIN
    SELECT count(*), jsonb_agg(to_jsonb(a) ORDER BY a.severity, a.alert_code)
      INTO n, j FROM ct4.check_limbo_alerts_at(as_of) a;
    IF n > 0 THEN
        RAISE EXCEPTION 'ct4: % alert(s) fired: %', n,
            (SELECT string_agg(x->>'alert_code', ', ') FROM jsonb_array_elements(j) x)
            USING ERRCODE = 'P0001', DETAIL = jsonb_pretty(j);
    END IF;
    RETURN 'ok: no alerts';
END $$;

CREATE FUNCTION ct4.assert_no_alerts() RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._assert_no_alerts(now())
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('operator', 'routine', 'ct4.check_limbo_alerts()', 'EXECUTE'),
    ('operator', 'routine', 'ct4.check_limbo_alerts_at(timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._check_limbo_alerts_record(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4._assert_no_alerts(timestamptz)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.assert_no_alerts()', 'EXECUTE');
-- Watching the jobs (SPEC 5): ct4.job_status, ct4.health(), ct4.metrics().

-- Reading the view first marks runs whose backend died as CRASHED (in a
-- read-write transaction); its status columns are computed live anyway.
CREATE VIEW ct4.job_status AS
WITH reaped AS MATERIALIZED (SELECT ct4._reap_crashed() AS n)
SELECT j.job_name,
       j.enabled,
       s.local_schedule AS schedule,
       coalesce(run.running, false) AS running,
       last.run_id AS last_run_id,
       last.started_at AS last_started_at,
       last.status AS last_status,
       CASE WHEN last.finished_at IS NOT NULL
            THEN round((extract(epoch FROM last.finished_at - last.started_at) * 1000)::numeric, 3)::float8
       END AS last_duration_ms,
       ok.last_success_at,
       CASE WHEN j.enabled AND s.utc_schedule IS NOT NULL THEN ct4.cron_next(s.utc_schedule, now()) END
           AS next_run_at,
       coalesce(agg.total_runs, 0) AS total_runs,
       coalesce(agg.total_failures, 0) AS total_failures,
       coalesce(cf.consecutive_failures, 0) AS consecutive_failures,
       st.timezone AS schedule_timezone,
       s.utc_schedule AS schedule_utc,
       -- run_after: the predecessors that have neither succeeded nor failed for
       -- good since this job's latest run (empty: it starts now or has
       -- started); NULL without run_after
       CASE WHEN j.run_after IS NOT NULL THEN
           ARRAY(SELECT c.predecessor FROM ct4._chain_state(j.job_name) c WHERE NOT c.done) END AS waiting_for
  FROM ct4.jobs j
  CROSS JOIN reaped
  LEFT JOIN ct4.schedule_state st ON true
  LEFT JOIN ct4.scheduled_jobs s ON s.job_name = j.job_name
  LEFT JOIN LATERAL (
        SELECT r.run_id, r.started_at, r.finished_at,
               ct4._live_status(r.status, r.backend_pid, r.started_at) AS status
          FROM ct4.job_runs r WHERE r.job_name = j.job_name
         ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (
        SELECT bool_or(ct4._backend_alive(r.backend_pid, r.started_at)) AS running
          FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'RUNNING') run ON true
  LEFT JOIN LATERAL (
        SELECT max(r.started_at) AS last_success_at
          FROM ct4.job_runs r WHERE r.job_name = j.job_name AND r.status = 'SUCCESS') ok ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS total_runs,
               count(*) FILTER (WHERE ct4._live_status(r.status, r.backend_pid, r.started_at)
                                      IN ('FAILED', 'CRASHED')) AS total_failures
          FROM ct4.job_runs r WHERE r.job_name = j.job_name) agg ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS consecutive_failures
          FROM ct4.job_runs r
         WHERE r.job_name = j.job_name
           AND ct4._live_status(r.status, r.backend_pid, r.started_at) IN ('FAILED', 'CRASHED')
           AND r.started_at > coalesce(ok.last_success_at, '-infinity')) cf ON true;

-- pg_cron's state: extension here, and its launcher process in the cluster.
CREATE FUNCTION ct4._pg_cron_state(OUT installed boolean, OUT scheduler_running boolean)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') AND to_regnamespace('cron') IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher')
$$;

-- healthy | degraded | unhealthy, with the reasons (see docs/operations.md):
--   unhealthy: an open critical alert; a job whose retries are used up
--              (consecutive failures > max_retries); scheduled but pg_cron's
--              scheduler is not running.
--   degraded:  pg_cron missing here or nothing scheduled (jobs run only by
--              hand); a job whose last run failed (retry pending); an open
--              warning alert.
-- health() and metrics() are SECURITY DEFINER so that a reader sees what a
-- superuser sees: other users' rows of pg_stat_activity (pg_cron's launcher,
-- the runs' backends) are hidden from an ordinary role.
CREATE FUNCTION ct4.health() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cron     record;
    bad      text[] := '{}';
    warn     text[] := '{}';
    jobs     jsonb;
    alerts   jsonb;
    r        record;
    scheduled boolean := EXISTS (SELECT 1 FROM ct4.schedule_state);
    external boolean := ct4._external_scheduler();
    pause    ct4.pause_state;
BEGIN
    SELECT * INTO pause FROM ct4.pause_state;
    SELECT * INTO cron FROM ct4._pg_cron_state();
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job_name', s.job_name, 'enabled', s.enabled, 'schedule', s.schedule,
               'running', s.running, 'last_status', s.last_status, 'last_started_at', s.last_started_at,
               'last_success_at', s.last_success_at, 'next_run_at', s.next_run_at,
               'consecutive_failures', s.consecutive_failures, 'max_retries', lim.max_retries,
               'waiting_for', s.waiting_for)
               ORDER BY s.job_name), '[]')
      INTO jobs
      FROM ct4.job_status s CROSS JOIN LATERAL ct4._job_limits(s.job_name) lim;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'event_id', e.event_id, 'rule_code', e.rule_code, 'severity', e.severity,
               'metric_value', e.metric_value, 'threshold', e.threshold, 'message', e.message,
               'raised_at', e.raised_at) ORDER BY e.event_id), '[]')
      INTO alerts FROM ct4.alert_events e WHERE e.resolved_at IS NULL;

    -- An external scheduler (setting external_scheduler) is a design, not a
    -- fault: no pg_cron or no pg_cron schedule is then fine.
    IF NOT cron.installed AND NOT external THEN
        warn := warn || format('pg_cron is not installed in database %s: jobs run only by hand '
                               '(with an external scheduler, set ct4.settings external_scheduler = true)', current_database());
    ELSIF cron.installed AND NOT scheduled AND NOT external THEN
        warn := warn || 'no schedule is registered: run SELECT ct4.schedule(...)'::text;
    ELSIF scheduled AND NOT cron.scheduler_running THEN
        bad := bad || 'jobs are scheduled but the pg_cron scheduler is not running'::text;
    END IF;
    IF pause.reason IS NOT NULL THEN
        warn := warn || format('schedules paused since %s by %s: %s (SELECT ct4.resume() resumes them)',
                               pause.since, pause.paused_by, pause.reason);
    END IF;
    FOR r IN SELECT x->>'job_name' AS job, (x->>'consecutive_failures')::int AS cf,
                    (x->>'max_retries')::int AS mr, x->>'last_status' AS ls
               FROM jsonb_array_elements(jobs) x
              WHERE (x->>'consecutive_failures')::int > 0 LOOP
        IF r.cf > r.mr THEN
            bad := bad || format('job %s failed %s times in a row (retries used up)', r.job, r.cf);
        ELSE
            warn := warn || format('job %s: last run %s (%s consecutive failure(s), retry pending)', r.job, r.ls, r.cf);
        END IF;
    END LOOP;
    FOR r IN SELECT x->>'severity' AS sev, x->>'rule_code' AS rule, x->>'message' AS msg
               FROM jsonb_array_elements(alerts) x LOOP
        IF r.sev = 'critical' THEN
            bad := bad || format('open critical alert %s: %s', r.rule, r.msg);
        ELSE
            warn := warn || format('open %s alert %s: %s', r.sev, r.rule, r.msg);
        END IF;
    END LOOP;

    RETURN jsonb_build_object(
        'status', CASE WHEN cardinality(bad) > 0 THEN 'unhealthy'
                       WHEN cardinality(warn) > 0 THEN 'degraded' ELSE 'healthy' END,
        'reasons', to_jsonb(bad || warn),
        'pg_cron', jsonb_build_object('installed', cron.installed, 'scheduler_running', cron.scheduler_running),
        'scheduler', CASE WHEN scheduled THEN 'pg_cron' WHEN external THEN 'external' ELSE 'none' END,
        'jobs', jobs,
        'open_alerts', alerts,
        'checked_at', now())
        || CASE WHEN pause.reason IS NOT NULL THEN
               jsonb_build_object('paused', jsonb_build_object('reason', pause.reason, 'since', pause.since,
                                                               'by', pause.paused_by))
           ELSE '{}' END;
END $$;

-- A Prometheus label value: backslash, double quote and newline escaped.
CREATE FUNCTION ct4._prom_label(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT '"' || replace(replace(replace(v, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"'
$$;

-- Prometheus text exposition format (version 0.0.4); every metric ct4_*.
-- Writes nothing (no temporary table, no reaping: job_status computes
-- CRASHED live), so it works in a READ ONLY transaction and on a hot
-- standby. The counters (_total, the summary) come from ct4.run_counters,
-- which pruning does not shrink. The limbo counts read the SPEC 3 views,
-- which read settings: if they fail (a malformed setting, a missing view),
-- ct4_metrics_section_ok{section="limbo"} is 0 and every other family is
-- still served.
-- JIT off: the estimates of the per-job lateral subqueries cross the JIT
-- thresholds and compiling cost most of a call (1.7 s of a 4 ms query
-- measured here; docs/operations.md "Prometheus").
CREATE FUNCTION ct4.metrics() RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    cron   record;
    out    text;
    limbo  text[] := '{}';
    lok    integer := 1;
BEGIN
    PERFORM ct4._reap_crashed();   -- nothing in a READ ONLY transaction
    SELECT * INTO cron FROM ct4._pg_cron_state();
    -- Limbo counts by stage: one pass over the view, zeros for empty stages.
    BEGIN
        IF to_regclass('ops.v_cabinet_leads_limbo') IS NULL THEN
            lok := 0;
        ELSE
            EXECUTE $q$
                WITH counts AS (SELECT l.limbo_stage, count(*) AS n
                                  FROM ops.v_cabinet_leads_limbo l GROUP BY l.limbo_stage)
                SELECT array_agg(format('ct4_limbo_leads{stage=%s} %s', ct4._prom_label(v.stage),
                                        coalesce(c.n, 0)) ORDER BY v.ord)
                  FROM (VALUES (1, 'NO_IDENTITY'), (2, 'NO_DRIVER'), (3, 'NO_TRIPS_14D'),
                               (4, 'TRIPS_NO_CLAIM'), (5, 'OK')) v(ord, stage)
                  LEFT JOIN counts c ON c.limbo_stage = v.stage
            $q$ INTO limbo;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        lok := 0;
        limbo := '{}';
        RAISE WARNING 'ct4.metrics: limbo counts skipped: %', SQLERRM
            USING HINT = 'Check ct4.settings (window_days) and the ops views; the other metrics are served.';
    END;

    WITH st AS (SELECT * FROM ct4.job_status),
    cnt AS (SELECT c.job_name, c.status, c.runs, c.duration_seconds FROM ct4.run_counters c),
    samples(family, ord, line) AS (
        SELECT 'ct4_job_runs_total', 1, format('ct4_job_runs_total{job=%s,status=%s} %s',
                   ct4._prom_label(c.job_name), ct4._prom_label(c.status), c.runs)
          FROM cnt c
        UNION ALL
        SELECT 'ct4_job_failures_total', 1, format('ct4_job_failures_total{job=%s} %s',
                   ct4._prom_label(s.job_name),
                   (SELECT coalesce(sum(c.runs), 0) FROM cnt c
                     WHERE c.job_name = s.job_name AND c.status IN ('FAILED', 'CRASHED')))
          FROM st s
        UNION ALL
        SELECT 'ct4_job_duration_seconds', x.ord, format('ct4_job_duration_seconds_%s{job=%s} %s',
                   x.k, ct4._prom_label(d.job_name), CASE x.k WHEN 'sum' THEN d.s::text ELSE d.n::text END)
          FROM (SELECT c.job_name, sum(c.runs) AS n, round(sum(c.duration_seconds)::numeric, 6) AS s
                  FROM cnt c WHERE c.status <> 'SKIPPED_LOCKED' GROUP BY c.job_name) d
          CROSS JOIN (VALUES (1, 'sum'), (2, 'count')) x(ord, k)
        UNION ALL
        SELECT 'ct4_job_last_duration_seconds', 1, format('ct4_job_last_duration_seconds{job=%s} %s',
                   ct4._prom_label(s.job_name), round((s.last_duration_ms / 1000)::numeric, 6))
          FROM st s WHERE s.last_duration_ms IS NOT NULL
        UNION ALL
        SELECT 'ct4_job_last_success_timestamp_seconds', 1, format('ct4_job_last_success_timestamp_seconds{job=%s} %s',
                   ct4._prom_label(s.job_name), round(extract(epoch FROM s.last_success_at)::numeric, 3))
          FROM st s WHERE s.last_success_at IS NOT NULL
        UNION ALL
        SELECT 'ct4_job_running', 1, format('ct4_job_running{job=%s} %s', ct4._prom_label(s.job_name), s.running::int)
          FROM st s
        UNION ALL
        SELECT 'ct4_job_consecutive_failures', 1, format('ct4_job_consecutive_failures{job=%s} %s',
                   ct4._prom_label(s.job_name), s.consecutive_failures)
          FROM st s
        UNION ALL
        SELECT 'ct4_job_enabled', 1, format('ct4_job_enabled{job=%s} %s', ct4._prom_label(s.job_name), s.enabled::int)
          FROM st s
        UNION ALL
        SELECT 'ct4_alerts_open', 1, format('ct4_alerts_open{severity=%s} %s', ct4._prom_label(v.sev),
                   (SELECT count(*) FROM ct4.alert_events e WHERE e.resolved_at IS NULL AND e.severity = v.sev))
          FROM (VALUES ('info'), ('warning'), ('critical')) v(sev)
        UNION ALL
        -- The CRM's notifications (SPEC 8): created since the install, by kind
        -- (kept in crm.notification_counts: the cleanup never lowers it), and
        -- the unread ones now.
        SELECT 'ct4_crm_notifications_created_total', 1, format('ct4_crm_notifications_created_total{kind=%s} %s',
                   ct4._prom_label(k.kind), k.created_total)
          FROM crm.notification_counts k
        UNION ALL
        SELECT 'ct4_crm_open_notifications', 1, format('ct4_crm_open_notifications{kind=%s} %s', ct4._prom_label(k.kind),
                   (SELECT count(*) FROM crm.notifications n WHERE n.kind = k.kind AND n.read_at IS NULL))
          FROM crm.notification_counts k        UNION ALL
        SELECT 'ct4_pg_cron_installed', 1, 'ct4_pg_cron_installed ' || cron.installed::int
        UNION ALL
        SELECT 'ct4_pg_cron_scheduler_running', 1, 'ct4_pg_cron_scheduler_running ' || cron.scheduler_running::int
        UNION ALL
        SELECT 'ct4_limbo_leads', 1, l FROM unnest(limbo) l
        UNION ALL
        SELECT 'ct4_metrics_section_ok', 1, format('ct4_metrics_section_ok{section=%s} %s', ct4._prom_label('limbo'), lok)
    )
    SELECT string_agg(h.head || s.lines, '' ORDER BY f.family) INTO out
      FROM (SELECT family, string_agg(line || E'\n', '' ORDER BY ord, line) AS lines
              FROM samples GROUP BY family) s
      JOIN (VALUES
        ('ct4_job_runs_total', 'counter', 'Finished runs by job and final status (kept in ct4.run_counters; pruning does not lower it).'),
        ('ct4_job_failures_total', 'counter', 'Runs that ended FAILED or CRASHED, by job.'),
        ('ct4_job_duration_seconds', 'summary', 'Wall-clock duration of finished runs (SKIPPED_LOCKED excluded), by job.'),
        ('ct4_job_last_duration_seconds', 'gauge', 'Duration of the latest finished run, by job.'),
        ('ct4_job_last_success_timestamp_seconds', 'gauge', 'Start time (Unix seconds) of the latest SUCCESS run (a dry run is not one), by job.'),
        ('ct4_job_running', 'gauge', '1 while a run of the job is in progress.'),
        ('ct4_job_consecutive_failures', 'gauge', 'Failed or crashed runs since the latest success, by job.'),
        ('ct4_job_enabled', 'gauge', '1 when the job is enabled.'),
        ('ct4_alerts_open', 'gauge', 'Alerts raised by the latest evaluation, by severity.'),
        ('ct4_crm_notifications_created_total', 'counter', 'CRM notifications created since the install, by kind.'),
        ('ct4_crm_open_notifications', 'gauge', 'CRM notifications not read yet, by kind.'),
        ('ct4_pg_cron_installed', 'gauge', '1 when pg_cron is installed in this database.'),
        ('ct4_pg_cron_scheduler_running', 'gauge', '1 when the pg_cron launcher runs in the cluster.'),
        ('ct4_limbo_leads', 'gauge', 'Leads by limbo stage (ops.v_cabinet_leads_limbo).'),
        ('ct4_metrics_section_ok', 'gauge', '0 when a section of ct4.metrics() could not be computed (see the server log WARNING).')
      ) f(family, type, help) ON f.family = s.family
     CROSS JOIN LATERAL (SELECT format(E'# HELP %s %s\n# TYPE %s %s\n', f.family, f.help, f.family, f.type) AS head) h;
    RETURN coalesce(out, '');
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._pg_cron_state()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._prom_label(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.health()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.metrics()', 'EXECUTE');
-- ct4.metrics() as rows (SPEC 11): one row per sample, parsed from the very
-- text Prometheus would read, so every reader of the rows (SQL users, the
-- postgres_exporter queries of contrib/postgres_exporter/ct4_queries.yaml)
-- gets the same names, labels and values as a scrape of ct4.metrics(),
-- whatever metrics() computes them from. `value` is the sample's float64, as
-- Prometheus parses it. SECURITY DEFINER like metrics() (a reader calls it;
-- the unescaping helper is an internal).

-- A label value of the exposition format, unescaped (\\ \" \n), in one pass
-- over its tokens, so that an escaped backslash before an n stays two
-- characters.
CREATE FUNCTION ct4._prom_unescape(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(string_agg(CASE WHEN t.m[2] IS NULL THEN t.m[1]
                                    WHEN t.m[2] = 'n' THEN E'\n'
                                    ELSE t.m[2] END, '' ORDER BY t.i), '')
      FROM regexp_matches(v, E'([^\\\\]+|\\\\(.))', 'g') WITH ORDINALITY t(m, i)
$$;

CREATE FUNCTION ct4.metric_samples(OUT metric text, OUT labels jsonb, OUT value double precision)
RETURNS SETOF record
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.m[1],
           coalesce((SELECT jsonb_object_agg(l.m[1], ct4._prom_unescape(l.m[2]))
                       FROM regexp_matches(coalesce(s.m[3], ''),
                                           E'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"', 'g') l(m)),
                    '{}'),
           s.m[4]::double precision
      FROM regexp_split_to_table(ct4.metrics(), E'\n') WITH ORDINALITY x(line, i)
     CROSS JOIN LATERAL regexp_match(x.line, E'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (\\S+)$') s(m)
     WHERE s.m IS NOT NULL
     ORDER BY x.i
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._prom_unescape(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.metric_samples()', 'EXECUTE');
-- The dashboard the seeds recommend (SPEC 12; docs/dashboard.md):
-- ct4.dashboard_html(weeks) returns one self-contained HTML5 page (inline
-- CSS and SVG, no script, no external resource). SQL and plpgsql, not C++:
-- the page is text composed from views with format() and string_agg(), and
-- every piece of it is a query; the pure parts (escaping, chart geometry)
-- are small IMMUTABLE functions that pg_regress checks on their own.
--
-- Every value read from the database goes through ct4._html() before it is
-- placed in the page; class names and colours come only from constants here.

-- Text as HTML content or a double-quoted attribute value: & < > " ' escaped.
-- NULL gives the empty string.
CREATE FUNCTION ct4._html(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(replace(replace(replace(replace(replace(v, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                                    '"', '&quot;'), '''', '&#39;'), '')
$$;

-- A number for SVG coordinates: at most 2 decimals, '.' as separator
-- (numeric's text, independent of lc_numeric).
CREATE FUNCTION ct4._svg_num(v numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT trim_scale(round(v, 2))::text
$$;

-- The stacked weekly bars: one bar per week (oldest left), one segment per
-- limbo stage in funnel order from the bottom, the week's total above its
-- bar (when there is room: up to 26 weeks), a week label every
-- ceil(n/12) weeks, a tooltip (<title>) per segment. Geometry: viewBox
-- 720 x 280, plot area x 44..712, y 20..240; heights scale to the largest
-- weekly total. Arrays are parallel, one element per week.
CREATE FUNCTION ct4._dashboard_bars(week_start date[], no_identity integer[], no_driver integer[],
                                    no_trips integer[], trips_no_claim integer[], ok integer[])
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (
        SELECT u.i, u.ws, ARRAY[u.a, u.b, u.c, u.d, u.e] AS v, u.a + u.b + u.c + u.d + u.e AS total,
               cardinality(week_start) AS n
          FROM unnest(week_start, no_identity, no_driver, no_trips, trips_no_claim, ok)
               WITH ORDINALITY u(ws, a, b, c, d, e, i)
    ), g AS (
        SELECT greatest(max(w.total), 1)::numeric AS top, max(w.n) AS n,
               668.0 / max(w.n) AS step FROM w
    ), seg AS (   -- one rect per (week, stage) with a count > 0
        SELECT w.i, s.k, s.name,
               w.v[s.k] AS count, w.ws,
               44 + (w.i - 1) * g.step + g.step * 0.14 AS x,
               greatest(g.step * 0.72, 1) AS width,
               240 - (SELECT sum(x) FROM unnest(w.v[1:s.k]) x) * 220 / g.top AS y,
               w.v[s.k] * 220 / g.top AS height
          FROM w CROSS JOIN g
         CROSS JOIN (VALUES (1, 'NO_IDENTITY'), (2, 'NO_DRIVER'), (3, 'NO_TRIPS_14D'),
                            (4, 'TRIPS_NO_CLAIM'), (5, 'OK')) s(k, name)
         WHERE w.v[s.k] > 0
    )
    SELECT '<svg class="chart" viewBox="0 0 720 280" role="img" aria-label="Leads per week by limbo stage">'
        || format('<line class="axis" x1="44" y1="240" x2="712" y2="240"/>'
                  '<line class="grid" x1="44" y1="130" x2="712" y2="130"/>'
                  '<line class="grid" x1="44" y1="20" x2="712" y2="20"/>'
                  '<text class="tick" x="40" y="244" text-anchor="end">0</text>'
                  '<text class="tick" x="40" y="134" text-anchor="end">%s</text>'
                  '<text class="tick" x="40" y="24" text-anchor="end">%s</text>',
                  ct4._svg_num(g.top / 2), ct4._svg_num(g.top))
        || coalesce((SELECT string_agg(format('<rect class="st%s" x="%s" y="%s" width="%s" height="%s">'
                                              '<title>%s %s: %s</title></rect>',
                                              seg.k, ct4._svg_num(seg.x), ct4._svg_num(seg.y),
                                              ct4._svg_num(seg.width), ct4._svg_num(seg.height),
                                              ct4._html(to_char(seg.ws, 'YYYY-MM-DD')), seg.name,
                                              ct4._html(seg.count::text)), '' ORDER BY seg.i, seg.k)
                       FROM seg), '')
        || coalesce((SELECT string_agg(format('<text class="total" x="%s" y="%s" text-anchor="middle">%s</text>',
                                              ct4._svg_num(44 + (w.i - 0.5) * g.step),
                                              ct4._svg_num(240 - w.total * 220 / g.top - 4),
                                              ct4._html(w.total::text)), '' ORDER BY w.i)
                       FROM w WHERE g.n <= 26), '')
        || coalesce((SELECT string_agg(format('<text class="tick" x="%s" y="258" text-anchor="middle">%s</text>',
                                              ct4._svg_num(44 + (w.i - 0.5) * g.step),
                                              ct4._html(to_char(w.ws, 'MM-DD'))), '' ORDER BY w.i)
                       FROM w WHERE (w.i - 1) % ceil(g.n / 12.0)::int = 0), '')
        || '</svg>'
      FROM g
$$;

-- One trend: a line over the weeks (viewBox 300 x 120, plot x 36..292,
-- y 12..96), a dot per week up to 52 weeks, the largest value on the axis.
CREATE FUNCTION ct4._dashboard_trend(label text, week_start date[], counts integer[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (
        SELECT u.i, u.ws, u.c FROM unnest(week_start, counts) WITH ORDINALITY u(ws, c, i)
    ), g AS (
        SELECT greatest(max(w.c), 1)::numeric AS top, count(*) AS n, 256.0 / count(*) AS step FROM w
    ), p AS (
        SELECT w.i, w.ws, w.c, 36 + (w.i - 0.5) * g.step AS x, 96 - w.c * 84 / g.top AS y FROM w, g
    )
    SELECT format('<svg class="trend" viewBox="0 0 300 120" role="img" aria-label="%s per week">', ct4._html(label))
        || format('<line class="axis" x1="36" y1="96" x2="292" y2="96"/>'
                  '<line class="grid" x1="36" y1="12" x2="292" y2="12"/>'
                  '<text class="tick" x="32" y="100" text-anchor="end">0</text>'
                  '<text class="tick" x="32" y="16" text-anchor="end">%s</text>', ct4._svg_num(g.top))
        || format('<polyline class="line" points="%s"/>',
                  (SELECT string_agg(ct4._svg_num(p.x) || ',' || ct4._svg_num(p.y), ' ' ORDER BY p.i) FROM p))
        || coalesce((SELECT string_agg(format('<circle class="dot" cx="%s" cy="%s" r="2.5"><title>%s: %s</title></circle>',
                                              ct4._svg_num(p.x), ct4._svg_num(p.y),
                                              ct4._html(to_char(p.ws, 'YYYY-MM-DD')), ct4._html(p.c::text)),
                                       '' ORDER BY p.i)
                       FROM p WHERE g.n <= 52), '')
        || format('<text class="tick" x="36" y="112">%s</text><text class="tick" x="292" y="112" text-anchor="end">%s</text>',
                  ct4._html(to_char(week_start[1], 'YYYY-MM-DD')),
                  ct4._html(to_char(week_start[cardinality(week_start)], 'YYYY-MM-DD')))
        || '</svg>'
      FROM g
$$;

-- A timestamp as the page shows it: UTC, to the minute; NULL as a dash.
CREATE FUNCTION ct4._dashboard_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '—')
$$;

-- The page's style sheet: readable from a 360 px phone to a laptop (tables
-- scroll sideways inside their box, charts scale with the width).
CREATE FUNCTION ct4._dashboard_css() RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT $css$
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f3f5f8}
main{max-width:1100px;margin:0 auto;padding:12px}
header h1{font-size:1.4em;margin:.4em 0 .1em}
.meta{color:#5b6b7c;margin:0 0 .8em}
section{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:12px 14px;margin:0 0 14px}
h2{font-size:1.1em;margin:0 0 .6em}
h3{font-size:1em;margin:.8em 0 .4em}
.empty{color:#5b6b7c;font-style:italic;margin:.3em 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e9ee;vertical-align:top}
th{background:#f0f2f5;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg{display:block;width:100%;height:auto}
.chart{max-width:900px;min-width:540px}
.figs{white-space:nowrap;font-size:.9em}
.axis{stroke:#8a97a6;stroke-width:1}
.grid{stroke:#e1e5ea;stroke-width:1}
.tick{font-size:10px;fill:#5b6b7c}
.total{font-size:10px;fill:#1d2733;font-weight:600}
.st1{fill:#d94f4f;background:#d94f4f}.st2{fill:#f08c3a;background:#f08c3a}.st3{fill:#e8c547;background:#e8c547}
.st4{fill:#8e5bd6;background:#8e5bd6}.st5{fill:#3fa66b;background:#3fa66b}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:.4em 0 .8em;padding:0;list-style:none;font-size:.9em}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.trends{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px}
.trends figure{margin:0;border:1px solid #e6e9ee;border-radius:6px;padding:8px}
.trends figcaption{font-weight:600}
.big{font-size:1.5em;font-weight:700}
.line{fill:none;stroke:#2f6fb5;stroke-width:2}
.dot{fill:#2f6fb5}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:.85em;font-weight:600;white-space:nowrap}
.ok{background:#dcf2e4;color:#1e6b3c}.bad{background:#fbe0e0;color:#9b1c1c}.neutral{background:#eceff3;color:#3d4a57}
.sev-critical{background:#fbe0e0;color:#9b1c1c}.sev-warning{background:#fdf0d5;color:#8a5a00}.sev-info{background:#e2edf9;color:#1f4f86}
.kv{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin:0}
.kv div{border:1px solid #e6e9ee;border-radius:6px;padding:6px 8px}
.kv dt{color:#5b6b7c;font-size:.85em}.kv dd{margin:0;font-weight:700;font-size:1.15em}
@media (max-width:600px){body{font-size:14px}main{padding:6px}section{padding:10px 8px}th,td{padding:3px 5px}}
$css$
$$;

-- The CRM's last daily report (SPEC 8.2, 4; crm.daily_reports, written by
-- the crm_daily_report job): its team figures, top performers, the day's
-- notifications and recommendations; an empty state when there is no report
-- yet. The report's JSON is read defensively (a key missing or of another
-- type shows as missing, never as an error).
CREATE FUNCTION ct4._dashboard_crm() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    day     date;
    report  jsonb;
    made_at timestamptz;
    team    jsonb;
    out     text;
BEGIN
    SELECT d.report_date, d.report, d.created_at INTO day, report, made_at
      FROM crm.daily_reports d ORDER BY d.report_date DESC LIMIT 1;
    IF day IS NULL THEN
        RETURN '<p class="empty">No daily report yet: the crm_daily_report job writes one a day.</p>';
    END IF;
    team := CASE WHEN jsonb_typeof(report -> 'team_performance') = 'object' THEN report -> 'team_performance' ELSE '{}' END;
    out := format('<p class="meta">Report of %s, made %s.</p>', ct4._html(to_char(day, 'YYYY-MM-DD')),
                  ct4._html(ct4._dashboard_time(made_at)));
    -- Team figures: the keys of SPEC 8.2 in its order, then any other key.
    out := out || '<h3>Team</h3>' || coalesce(
        '<dl class="kv">' || (SELECT string_agg(format('<div><dt>%s</dt><dd>%s</dd></div>',
                                                       ct4._html(replace(e.key, '_', ' ')),
                                                       ct4._html(coalesce(e.value #>> '{}', '—'))),
                                                '' ORDER BY coalesce(array_position(ARRAY['total_conversations',
                                                    'new_leads', 'converted_leads', 'conversion_rate',
                                                    'avg_response_time_minutes'], e.key), 99), e.key)
                                FROM jsonb_each(team) e) || '</dl>',
        '<p class="empty">No team figures in this report.</p>');
    out := out || '<h3>Top performers</h3>' || coalesce(
        '<div class="scroll"><table><thead><tr><th class="n">#</th><th>Seller</th><th class="n">Seller id</th>'
        '<th class="n">Conversions</th><th class="n">Score</th></tr></thead><tbody>'
        || (SELECT string_agg(format('<tr><td class="n">%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                                     '<td class="n">%s</td></tr>', t.i, ct4._html(t.p ->> 'seller'),
                                     ct4._html(t.p ->> 'seller_id'), ct4._html(t.p ->> 'conversions'),
                                     ct4._html(t.p ->> 'score')), '' ORDER BY t.i)
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(report -> 'top_performers') = 'array'
                                             THEN report -> 'top_performers' ELSE '[]' END)
                   WITH ORDINALITY t(p, i)
             WHERE jsonb_typeof(t.p) = 'object')
        || '</tbody></table></div>',
        '<p class="empty">No seller converted or scored that day.</p>');
    IF jsonb_typeof(report -> 'alerts_summary') = 'object' THEN
        out := out || '<h3>Notifications of the day</h3><dl class="kv">'
            || coalesce((SELECT string_agg(format('<div><dt>%s</dt><dd>%s</dd></div>',
                                                  ct4._html(replace(e.key, '_', ' ')), ct4._html(e.value #>> '{}')),
                                           '' ORDER BY e.key)
                           FROM jsonb_each(report -> 'alerts_summary') e), '')
            || '</dl>';
    END IF;
    out := out || '<h3>Recommendations</h3>' || coalesce(
        '<ul>' || (SELECT string_agg('<li>' || ct4._html(r.t #>> '{}') || '</li>', '' ORDER BY r.i)
                     FROM jsonb_array_elements(CASE WHEN jsonb_typeof(report -> 'recommendations') = 'array'
                                                    THEN report -> 'recommendations' ELSE '[]' END)
                          WITH ORDINALITY r(t, i)) || '</ul>',
        '<p class="empty">No recommendation: nothing needs attention.</p>');
    RETURN out;
END $$;

-- jit = off as in ct4.metrics(): the page's statements are small, and
-- compiling them would cost more than running them.
CREATE FUNCTION ct4.dashboard_html(weeks integer DEFAULT 12) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    ws   date[];
    ni   integer[];
    nd   integer[];
    nt   integer[];
    tnc  integer[];
    ok   integer[];
    tot  integer[];
    n    integer;
    page text;
    part text;
BEGIN
    IF weeks IS NULL OR weeks NOT BETWEEN 1 AND 520 THEN
        RAISE EXCEPTION 'weeks must be between 1 and 520 (got %)', coalesce(weeks::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'weeks is how many of the latest ISO weeks with leads the page shows, e.g. ct4.dashboard_html(12).';
    END IF;

    -- One pass over the weekly view (it evaluates the limbo view once, as
    -- ct4.metrics() does): the latest `weeks` weeks that have leads.
    SELECT array_agg(v.week_start ORDER BY v.week_start), array_agg(v.limbo_no_identity ORDER BY v.week_start),
           array_agg(v.limbo_no_driver ORDER BY v.week_start), array_agg(v.limbo_no_trips_14d ORDER BY v.week_start),
           array_agg(v.limbo_trips_no_claim ORDER BY v.week_start), array_agg(v.limbo_ok ORDER BY v.week_start),
           array_agg(v.leads_total ORDER BY v.week_start)
      INTO ws, ni, nd, nt, tnc, ok, tot
      FROM (SELECT * FROM ops.v_cabinet_14d_funnel_audit_weekly x
             ORDER BY x.week_start DESC LIMIT weeks) v;
    n := coalesce(cardinality(ws), 0);

    page := '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         || '<meta name="viewport" content="width=device-width, initial-scale=1">'
         || '<title>ct4_jobs dashboard</title><style>' || ct4._dashboard_css() || '</style></head><body><main>'
         || format('<header><h1>ct4_jobs — recruitment funnel</h1><p class="meta">Database %s · generated %s · latest %s week(s) with leads</p></header>',
                   ct4._html(current_database()), ct4._html(ct4._dashboard_time(now())), weeks);

    -- Weekly limbo distribution: bars and their numbers.
    page := page || '<section id="weekly"><h2>Leads per week by limbo stage</h2>';
    IF n = 0 THEN
        page := page || '<p class="empty">No lead with a lead_date yet: the chart appears when raw.module_ct_cabinet_leads has rows.</p>';
    ELSE
        page := page || '<div class="scroll">' || ct4._dashboard_bars(ws, ni, nd, nt, tnc, ok) || '</div>'
             || '<ul class="legend"><li><i class="st1"></i>NO_IDENTITY</li><li><i class="st2"></i>NO_DRIVER</li>'
                '<li><i class="st3"></i>NO_TRIPS_14D</li><li><i class="st4"></i>TRIPS_NO_CLAIM</li><li><i class="st5"></i>OK</li></ul>'
             || '<div class="scroll"><table><thead><tr><th>week_start</th><th class="n">leads_total</th>'
                '<th class="n">limbo_no_identity</th><th class="n">limbo_no_driver</th><th class="n">limbo_no_trips_14d</th>'
                '<th class="n">limbo_trips_no_claim</th><th class="n">limbo_ok</th></tr></thead><tbody>'
             || (SELECT string_agg(format('<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>'
                                          '<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                                          ct4._html(to_char(u.wk, 'YYYY-MM-DD')), ct4._html(u.total::text),
                                          ct4._html(u.a::text), ct4._html(u.b::text), ct4._html(u.c::text),
                                          ct4._html(u.d::text), ct4._html(u.e::text)), '' ORDER BY u.wk DESC)
                   FROM unnest(ws, tot, ni, nd, nt, tnc, ok) u(wk, total, a, b, c, d, e))
             || '</tbody></table></div>';
    END IF;
    page := page || '</section>';

    -- The three trends of seed 002, each with its latest value and change.
    page := page || '<section id="trends"><h2>Trends</h2>';
    IF n = 0 THEN
        page := page || '<p class="empty">No weekly data yet.</p>';
    ELSE
        page := page || '<div class="trends">'
             || (SELECT string_agg(format('<figure><figcaption>%s</figcaption><p><span class="big">%s</span> in week %s%s</p>%s</figure>',
                                          t.label, ct4._html(t.c[n]::text), ct4._html(to_char(ws[n], 'YYYY-MM-DD')),
                                          CASE WHEN n > 1 THEN format(' (%s vs the week before)',
                                                   ct4._html(CASE WHEN t.c[n] >= t.c[n - 1] THEN '+' ELSE '' END
                                                             || (t.c[n] - t.c[n - 1])::text)) ELSE '' END,
                                          ct4._dashboard_trend(t.label, ws, t.c)), '' ORDER BY t.k)
                   FROM (VALUES (1, 'limbo_no_identity', ni), (2, 'limbo_no_driver', nd),
                                (3, 'limbo_trips_no_claim', tnc)) t(k, label, c))
             || '</div>';
    END IF;
    page := page || '</section>';

    -- The jobs (ct4.job_status) with the figures of their last run (seed
    -- 002: processed, newly_linked, errors ...) and its error, if any.
    SELECT string_agg(format('<tr><td><strong>%s</strong><br><small>%s</small></td><td>%s</td><td>%s</td>'
                             '<td><span class="badge %s">%s</span>%s</td><td>%s</td><td class="n">%s</td>'
                             '<td>%s</td><td class="n">%s</td><td class="n">%s / %s</td><td class="figs">%s</td></tr>',
                             ct4._html(s.job_name), ct4._html(j.description),
                             CASE WHEN s.enabled THEN 'yes' ELSE 'no' END, ct4._html(coalesce(s.schedule, '—')),
                             CASE WHEN s.running THEN 'neutral' WHEN s.last_status IN ('SUCCESS', 'DRY_RUN') THEN 'ok'
                                  WHEN s.last_status IN ('FAILED', 'CRASHED') THEN 'bad' ELSE 'neutral' END,
                             ct4._html(CASE WHEN s.running THEN 'RUNNING' ELSE coalesce(s.last_status, 'never run') END),
                             CASE WHEN r.error_message IS NOT NULL
                                  THEN '<br><small>' || ct4._html(coalesce(r.sqlstate || ' ', '') || left(r.error_message, 300)) || '</small>'
                                  ELSE '' END,
                             ct4._html(ct4._dashboard_time(s.last_started_at)),
                             ct4._html(coalesce(round(s.last_duration_ms::numeric, 1)::text, '—')),
                             ct4._html(ct4._dashboard_time(s.next_run_at)),
                             ct4._html(s.total_runs::text), ct4._html(s.total_failures::text),
                             ct4._html(s.consecutive_failures::text),
                             coalesce((SELECT string_agg(ct4._html(e.key) || ' <b>' || ct4._html(e.value #>> '{}') || '</b>',
                                                         '<br>' ORDER BY e.key)
                                         FROM jsonb_each(CASE WHEN jsonb_typeof(r.stats) = 'object' THEN r.stats ELSE '{}' END) e
                                        WHERE jsonb_typeof(e.value) IN ('number', 'string', 'boolean')
                                          AND e.key NOT IN ('run_id', 'status', 'duration_ms')), '—')),
                      '' ORDER BY s.job_name)
      INTO part
      FROM ct4.job_status s
      LEFT JOIN ct4.jobs j ON j.job_name = s.job_name
      LEFT JOIN ct4.job_runs r ON r.run_id = s.last_run_id;
    page := page || '<section id="jobs"><h2>Jobs</h2>'
         || coalesce('<div class="scroll"><table><thead><tr><th>Job</th><th>Enabled</th><th>Schedule</th>'
                     '<th>Last status</th><th>Last run</th><th class="n">Duration ms</th><th>Next run</th>'
                     '<th class="n">Runs</th><th class="n">Failures / in a row</th><th>Last run figures</th></tr></thead><tbody>'
                     || part || '</tbody></table></div>',
                     '<p class="empty">No job is registered in ct4.jobs.</p>')
         || '</section>';

    -- Open alerts: those of the latest evaluation, most severe first.
    SELECT string_agg(format('<tr><td><span class="badge %s">%s</span></td><td>%s</td><td>%s</td><td class="n">%s</td>'
                             '<td class="n">%s</td><td>%s</td></tr>',
                             CASE a.severity WHEN 'critical' THEN 'sev-critical' WHEN 'warning' THEN 'sev-warning'
                                             ELSE 'sev-info' END,
                             ct4._html(a.severity), ct4._html(a.rule_code), ct4._html(a.message),
                             ct4._html(a.metric_value::text), ct4._html(a.threshold::text),
                             ct4._html(ct4._dashboard_time(a.raised_at))),
                      '' ORDER BY a.ord, a.event_id)
      INTO part
      FROM (SELECT e.*, array_position(ARRAY['critical', 'warning', 'info'], e.severity) AS ord
              FROM ct4.alert_events e WHERE e.resolved_at IS NULL) a;
    page := page || '<section id="alerts"><h2>Open alerts</h2>'
         || coalesce('<div class="scroll"><table><thead><tr><th>Severity</th><th>Rule</th><th>Message</th>'
                     '<th class="n">Value</th><th class="n">Threshold</th><th>Raised</th></tr></thead><tbody>'
                     || part || '</tbody></table></div>',
                     '<p class="empty">No open alert.</p>')
         || '</section>';

    page := page || '<section id="crm"><h2>CRM daily report</h2>' || ct4._dashboard_crm() || '</section>';
    RETURN page || '</main></body></html>' || E'\n';
END $$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._html(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._svg_num(numeric)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_bars(date[], integer[], integer[], integer[], integer[], integer[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_trend(text, date[], integer[])', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_time(timestamptz)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_css()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._dashboard_crm()', 'EXECUTE'),
    ('reader', 'routine', 'ct4.dashboard_html(integer)', 'EXECUTE');
-- The sales CRM of seed 004 (SPEC 8.1). The CRM's own ingestion writes
-- sellers, leads, conversations and messages; the four CRM jobs
-- (schema/405_crm_jobs.sql, src/crm/) write notifications, seller_metrics
-- and daily_reports. PUBLIC gets nothing: names, e-mails and message bodies
-- are personal data.
CREATE SCHEMA crm;
REVOKE ALL ON SCHEMA crm FROM PUBLIC;

CREATE TABLE crm.sellers (
    seller_id  bigint PRIMARY KEY,
    full_name  text        NOT NULL,
    email      text,
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE crm.leads (
    lead_id                bigint PRIMARY KEY,
    seller_id              bigint REFERENCES crm.sellers,
    full_name              text,
    status                 text NOT NULL
        CHECK (status IN ('new', 'contacted', 'interested', 'negotiation', 'converted', 'lost')),
    conversion_probability real CHECK (conversion_probability BETWEEN 0 AND 1),
    last_contact_time      timestamptz,
    next_follow_up         timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    converted_at           timestamptz
);
CREATE INDEX leads_seller_idx ON crm.leads (seller_id);
-- The notification check's two lead conditions read only these rows.
CREATE INDEX leads_hot_idx ON crm.leads (conversion_probability)
    WHERE status IN ('new', 'contacted');
CREATE INDEX leads_follow_up_idx ON crm.leads (next_follow_up)
    WHERE status IN ('interested', 'negotiation');
CREATE INDEX leads_created_idx ON crm.leads (created_at);
CREATE INDEX leads_converted_idx ON crm.leads (converted_at) WHERE converted_at IS NOT NULL;

CREATE TABLE crm.conversations (
    conversation_id            bigint PRIMARY KEY,
    assigned_seller_id         bigint REFERENCES crm.sellers,
    lead_id                    bigint REFERENCES crm.leads,
    status                     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'closed')),
    -- A convenience the ingestion may keep; the jobs read crm.messages.
    last_message_time          timestamptz,
    last_message_from_customer boolean,
    created_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_seller_idx ON crm.conversations (assigned_seller_id);
CREATE INDEX conversations_active_idx ON crm.conversations (conversation_id) WHERE status = 'active';

CREATE TABLE crm.messages (
    message_id      bigint PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES crm.conversations,
    from_customer   boolean     NOT NULL,
    sent_at         timestamptz NOT NULL,
    body            text
);
-- A conversation's last message as of a time: one backward index step
-- (ties of sent_at broken by message_id, SPEC 8.1).
CREATE INDEX messages_conversation_idx ON crm.messages (conversation_id, sent_at, message_id)
    INCLUDE (from_customer);
-- A day's messages (metrics, report).
CREATE INDEX messages_sent_idx ON crm.messages (sent_at) INCLUDE (conversation_id);

-- Written by the jobs. One row per condition and episode (the UNIQUE key):
-- a check every 5 minutes never repeats a notification.
CREATE TABLE crm.notifications (
    notification_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL
        CHECK (kind IN ('UNANSWERED_CONVERSATION', 'HOT_LEAD', 'FOLLOW_UP_DUE', 'SELLER_PERFORMANCE')),
    seller_id       bigint,
    subject_id      bigint      NOT NULL,
    episode         text        NOT NULL,
    message         text        NOT NULL,
    details         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    run_id          bigint      NOT NULL,
    read_at         timestamptz,
    UNIQUE (kind, subject_id, episode)
);
CREATE INDEX notifications_created_idx ON crm.notifications (created_at);
CREATE INDEX notifications_unread_idx ON crm.notifications (kind) WHERE read_at IS NULL;

CREATE TABLE crm.seller_metrics (
    seller_id                 bigint NOT NULL REFERENCES crm.sellers ON DELETE CASCADE,
    period                    date   NOT NULL,
    computed_at               timestamptz NOT NULL,
    run_id                    bigint NOT NULL,
    conversations_total       integer,
    conversations_active      integer,
    conversations_today       integer,
    unanswered                integer,
    avg_response_time_minutes double precision,
    total_chat_time_minutes   double precision,
    engagement_rate           double precision,
    leads_generated           integer,
    leads_converted           integer,
    conversion_rate           double precision,
    productivity_score        double precision,
    activity_level            text CHECK (activity_level IN ('low', 'medium', 'high')),
    rank_position             integer,
    PRIMARY KEY (seller_id, period)
);
CREATE INDEX seller_metrics_period_idx ON crm.seller_metrics (period);

CREATE TABLE crm.daily_reports (
    report_date date PRIMARY KEY,
    report      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    run_id      bigint      NOT NULL
);

-- Notifications created, by kind, since the install: kept, never counted
-- from crm.notifications (which the cleanup shrinks), so that
-- ct4_crm_notifications_created_total never decreases (SPEC 6).
CREATE TABLE crm.notification_counts (
    kind          text PRIMARY KEY,
    created_total bigint NOT NULL DEFAULT 0 CHECK (created_total >= 0)
);
INSERT INTO crm.notification_counts (kind) VALUES
    ('UNANSWERED_CONVERSATION'), ('HOT_LEAD'), ('FOLLOW_UP_DUE'), ('SELLER_PERFORMANCE');
CREATE TRIGGER notification_counts_replace BEFORE INSERT ON crm.notification_counts
    FOR EACH ROW EXECUTE FUNCTION ct4._config_row_replaces('kind');

SELECT pg_catalog.pg_extension_config_dump('crm.sellers', '');
SELECT pg_catalog.pg_extension_config_dump('crm.leads', '');
SELECT pg_catalog.pg_extension_config_dump('crm.conversations', '');
SELECT pg_catalog.pg_extension_config_dump('crm.messages', '');
SELECT pg_catalog.pg_extension_config_dump('crm.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('crm.notifications_notification_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.seller_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('crm.daily_reports', '');
SELECT pg_catalog.pg_extension_config_dump('crm.notification_counts', '');

-- Readers read the CRM; the CRM's ingestion (tier ingest) writes its four
-- input tables. The jobs' tables are written by the jobs only.
INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('reader', 'schema', 'crm', 'USAGE'),
    ('reader', 'tables_in_schema', 'crm', 'SELECT'),
    ('ingest', 'schema', 'crm', 'USAGE'),
    ('ingest', 'table', 'crm.sellers', 'SELECT, INSERT, UPDATE, DELETE'),
    ('ingest', 'table', 'crm.leads', 'SELECT, INSERT, UPDATE, DELETE'),
    ('ingest', 'table', 'crm.conversations', 'SELECT, INSERT, UPDATE, DELETE'),
    ('ingest', 'table', 'crm.messages', 'SELECT, INSERT, UPDATE, DELETE');

-- Settings (SPEC 8.1). Day boundaries, thresholds, retention, the cleanup's
-- bound per run, and the weights of the productivity score
-- (docs/crm.md "Productivity score").
INSERT INTO ct4.settings (name, value, description, value_type, min_value, max_value) VALUES
    ('crm_timezone', 'UTC', 'CRM: the time zone of "today" and "the day" (metrics period, report day, SELLER_PERFORMANCE episode); keep it the schedule''s zone',
     'timezone', NULL, NULL),
    ('crm_unanswered_hours', '1', 'CRM: a conversation whose last message is from the customer and older than this many hours is unanswered',
     'numeric', '0', '8760'),
    ('crm_hot_lead_probability', '0.8', 'CRM: a lead with conversion_probability above this is hot',
     'numeric', '0', '1'),
    ('crm_hot_lead_contact_hours', '2', 'CRM: a hot lead notifies when its last contact is older than this many hours (or never)',
     'numeric', '0', '8760'),
    ('crm_seller_unanswered_max', '5', 'CRM: a seller with more unanswered conversations than this gets a SELLER_PERFORMANCE notification',
     'integer', '0', '1000000'),
    ('crm_seller_response_minutes_max', '30', 'CRM: a seller whose average response time of the day is above this many minutes gets a SELLER_PERFORMANCE notification',
     'numeric', '0.001', '525600'),
    ('crm_notification_retention_days', '7', 'CRM: crm_cleanup deletes notifications created more than this many days before its as_of',
     'integer', '0', '36500'),
    ('crm_metrics_retention_days', '30', 'CRM: crm_cleanup deletes seller_metrics rows whose period is more than this many days before the day of its as_of',
     'integer', '0', '36500'),
    ('crm_conversation_archive_days', '7', 'CRM: crm_cleanup archives active conversations whose last message is older than this many days',
     'integer', '0', '36500'),
    ('crm_cleanup_batch', '100000', 'CRM: at most this many rows of each kind per crm_cleanup run (a function cannot commit midway; the hourly runs work off a backlog)',
     'integer', '1', '100000000'),
    ('crm_score_weight_response', '3', 'CRM productivity score: weight of the response component 1 / (1 + avg_response_time_minutes / crm_seller_response_minutes_max)',
     'numeric', '0', '1000'),
    ('crm_score_weight_engagement', '2', 'CRM productivity score: weight of engagement_rate',
     'numeric', '0', '1000'),
    ('crm_score_weight_conversion', '3', 'CRM productivity score: weight of least(conversion_rate, 1)',
     'numeric', '0', '1000'),
    ('crm_score_weight_activity', '2', 'CRM productivity score: weight of least(conversations_today / crm_score_activity_target, 1)',
     'numeric', '0', '1000'),
    ('crm_score_activity_target', '10', 'CRM productivity score: conversations in a day that count as full activity',
     'numeric', '0.001', '1000000'),
    ('crm_activity_high_min', '7', 'CRM: activity_level is high from this productivity_score on',
     'numeric', '0', '10'),
    ('crm_activity_medium_min', '4', 'CRM: activity_level is medium from this productivity_score on (low below)',
     'numeric', '0', '10'),
    ('crm_report_conversion_rate_min', '0.2', 'CRM daily report: a team conversion rate below this recommends training in closing',
     'numeric', '0', '1000');

-- Like every setting, the crm_ settings are validated when written by the
-- rules of their own rows (value_type, min_value, max_value; ct4._settings_check).
-- The four CRM jobs of seed 004 (SPEC 8.2): C++ entry points (src/crm/)
-- whose statements (src/crm/*.sql) read the definitions below, which all
-- four share: a day in crm_timezone, a conversation's last message, an
-- unanswered conversation, a hot lead, a seller reply and its response
-- time, and a seller's figures of a day. Each takes the time it sees the
-- world at (as_of): messages, leads and conversions dated after it are
-- ignored. docs/crm.md explains every definition.

-- A CRM setting's value (validated when written, schema/400_crm.sql). Not
-- inlinable (SET clause): statements call it in an uncorrelated subquery,
-- evaluated once per statement.
CREATE FUNCTION ct4._crm_setting(p_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.value FROM ct4.settings s WHERE s.name = p_name
$$;

-- The day of `at` in crm_timezone, and where a day starts.
CREATE FUNCTION ct4._crm_day(at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (at AT TIME ZONE ct4._crm_setting('crm_timezone'))::date
$$;
CREATE FUNCTION ct4._crm_day_start(day date) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT day::timestamp AT TIME ZONE ct4._crm_setting('crm_timezone')
$$;
-- The report's default day: yesterday in crm_timezone.
CREATE FUNCTION ct4._crm_yesterday() RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ct4._crm_day(now()) - 1
$$;
-- `at` minus `days` calendar days of crm_timezone (a DST day has 23 or 25 hours).
CREATE FUNCTION ct4._crm_days_before(at timestamptz, days integer) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ((at AT TIME ZONE ct4._crm_setting('crm_timezone')) - pg_catalog.make_interval(days => days))
           AT TIME ZONE ct4._crm_setting('crm_timezone')
$$;
-- An episode's timestamp text, the same in every session (SPEC 8.2):
-- UTC ISO 8601 with microseconds. Inlined into its callers (no SET clause,
-- every name qualified; they pin search_path): the check formats one per
-- condition, tens of thousands a run, and a call of a function with a SET
-- clause costs more than the formatting.
CREATE FUNCTION ct4._crm_episode(at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.to_char(pg_catalog.timezone('UTC', at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Every active conversation with its last message as of `as_of` (ties of
-- sent_at broken by message_id; NULLs: no message yet).
CREATE FUNCTION ct4._crm_last_messages(as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, lead_id bigint, created_at timestamptz,
              last_at timestamptz, last_from_customer boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.conversation_id, c.assigned_seller_id, c.lead_id, c.created_at, m.sent_at, m.from_customer
      FROM crm.conversations c
      LEFT JOIN LATERAL (SELECT x.sent_at, x.from_customer FROM crm.messages x
                          WHERE x.conversation_id = c.conversation_id AND x.sent_at <= as_of
                          ORDER BY x.sent_at DESC, x.message_id DESC LIMIT 1) m ON true
     WHERE c.status = 'active'
$$;

-- Unanswered (SPEC 8.2, 1): an active conversation with an assigned seller
-- whose last message is from the customer and older than crm_unanswered_hours.
CREATE FUNCTION ct4._crm_unanswered(as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, lead_id bigint, last_message_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.conversation_id, l.seller_id, l.lead_id, l.last_at
      FROM ct4._crm_last_messages(as_of) l
     WHERE l.seller_id IS NOT NULL AND l.last_from_customer
       AND l.last_at < as_of - (SELECT pg_catalog.make_interval(
               secs => ct4._crm_setting('crm_unanswered_hours')::float8 * 3600))
$$;

-- Hot (SPEC 8.2, 1): conversion_probability above crm_hot_lead_probability,
-- new or contacted, last contact older than crm_hot_lead_contact_hours or never.
CREATE FUNCTION ct4._crm_hot_leads(as_of timestamptz)
RETURNS TABLE(lead_id bigint, seller_id bigint, conversion_probability real, last_contact_time timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.lead_id, l.seller_id, l.conversion_probability, l.last_contact_time
      FROM crm.leads l
     WHERE l.status IN ('new', 'contacted')
       AND l.conversion_probability > (SELECT ct4._crm_setting('crm_hot_lead_probability')::real)
       AND l.created_at <= as_of
       AND (l.last_contact_time IS NULL
            OR l.last_contact_time < as_of - (SELECT pg_catalog.make_interval(
                   secs => ct4._crm_setting('crm_hot_lead_contact_hours')::float8 * 3600)))
$$;

-- The seller replies sent in [p_from, p_to) and not after as_of, each with
-- the first customer message of the run of customer messages it answers
-- (a seller message right after another seller message answers nothing and
-- is not a reply). That run may have started before p_from.
-- blk = the seller messages before a message: a run of customer messages
-- and the seller message that ends it share it.
CREATE FUNCTION ct4._crm_replies(p_from timestamptz, p_to timestamptz, as_of timestamptz)
RETURNS TABLE(conversation_id bigint, seller_id bigint, reply_at timestamptz, answered_from timestamptz,
              response_minutes double precision)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH convs AS (
        SELECT DISTINCT m.conversation_id FROM crm.messages m
         WHERE m.sent_at >= p_from AND m.sent_at < p_to AND m.sent_at <= as_of AND NOT m.from_customer),
    thread AS (
        SELECT m.conversation_id, m.sent_at, m.from_customer,
               pg_catalog.count(*) FILTER (WHERE NOT m.from_customer)
                   OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS blk
          FROM convs c JOIN crm.messages m ON m.conversation_id = c.conversation_id
         WHERE m.sent_at < p_to AND m.sent_at <= as_of),
    runs AS (
        SELECT t.conversation_id, t.blk, pg_catalog.min(t.sent_at) AS first_at
          FROM thread t WHERE t.from_customer GROUP BY 1, 2)
    SELECT t.conversation_id, c.assigned_seller_id, t.sent_at, r.first_at,
           extract(epoch FROM t.sent_at - r.first_at)::float8 / 60
      FROM thread t
      JOIN runs r ON r.conversation_id = t.conversation_id AND r.blk = t.blk
      JOIN crm.conversations c ON c.conversation_id = t.conversation_id
     WHERE NOT t.from_customer AND t.sent_at >= p_from
$$;

-- Every active seller's figures of `period` as of `as_of` (SPEC 8.2, 2),
-- with its productivity score, activity level and rank (docs/crm.md).
CREATE FUNCTION ct4._crm_seller_day(period date, as_of timestamptz)
RETURNS TABLE(seller_id bigint, conversations_total integer, conversations_active integer,
              conversations_today integer, unanswered integer, avg_response_time_minutes double precision,
              total_chat_time_minutes double precision, engagement_rate double precision,
              leads_generated integer, leads_converted integer, conversion_rate double precision,
              productivity_score double precision, activity_level text, rank_position integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH b AS (SELECT ct4._crm_day_start(period) AS d0, ct4._crm_day_start(period + 1) AS d1),
    w AS (SELECT ct4._crm_setting('crm_score_weight_response')::float8 AS wr,
                 ct4._crm_setting('crm_score_weight_engagement')::float8 AS we,
                 ct4._crm_setting('crm_score_weight_conversion')::float8 AS wc,
                 ct4._crm_setting('crm_score_weight_activity')::float8 AS wa,
                 ct4._crm_setting('crm_seller_response_minutes_max')::float8 AS rmax,
                 ct4._crm_setting('crm_score_activity_target')::float8 AS target,
                 ct4._crm_setting('crm_activity_high_min')::float8 AS high,
                 ct4._crm_setting('crm_activity_medium_min')::float8 AS medium),
    conv AS (
        SELECT c.assigned_seller_id AS sid, pg_catalog.count(*) AS total,
               pg_catalog.count(*) FILTER (WHERE c.status = 'active') AS active
          FROM crm.conversations c WHERE c.assigned_seller_id IS NOT NULL GROUP BY 1),
    -- The day's messages, each knowing whether a customer message of the
    -- day came before it in its conversation.
    daymsg AS (
        SELECT m.conversation_id, m.sent_at, m.from_customer,
               pg_catalog.bool_or(m.from_customer)
                   OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS customer_before
          FROM crm.messages m, b
         WHERE m.sent_at >= b.d0 AND m.sent_at < b.d1 AND m.sent_at <= as_of),
    dayconv AS (
        SELECT d.conversation_id,
               extract(epoch FROM pg_catalog.max(d.sent_at) - pg_catalog.min(d.sent_at))::float8 / 60 AS chat,
               pg_catalog.bool_or(d.from_customer) AS had_customer,
               pg_catalog.bool_or(NOT d.from_customer AND coalesce(d.customer_before, false)) AS engaged
          FROM daymsg d GROUP BY 1),
    today AS (
        SELECT c.assigned_seller_id AS sid, pg_catalog.count(*) AS n, pg_catalog.sum(d.chat) AS chat,
               pg_catalog.count(*) FILTER (WHERE d.had_customer) AS with_customer,
               pg_catalog.count(*) FILTER (WHERE d.had_customer AND d.engaged) AS engaged
          FROM dayconv d JOIN crm.conversations c ON c.conversation_id = d.conversation_id
         WHERE c.assigned_seller_id IS NOT NULL GROUP BY 1),
    resp AS (
        SELECT r.seller_id AS sid, pg_catalog.avg(r.response_minutes) AS avg_min
          FROM b, ct4._crm_replies(b.d0, b.d1, as_of) r WHERE r.seller_id IS NOT NULL GROUP BY 1),
    unans AS (
        SELECT u.seller_id AS sid, pg_catalog.count(*) AS n FROM ct4._crm_unanswered(as_of) u GROUP BY 1),
    leads AS (
        SELECT l.seller_id AS sid,
               pg_catalog.count(*) FILTER (WHERE l.created_at >= b.d0 AND l.created_at < b.d1
                                             AND l.created_at <= as_of) AS generated,
               pg_catalog.count(*) FILTER (WHERE l.converted_at >= b.d0 AND l.converted_at < b.d1
                                             AND l.converted_at <= as_of) AS converted
          FROM crm.leads l, b
         WHERE l.seller_id IS NOT NULL
           AND ((l.created_at >= b.d0 AND l.created_at < b.d1)
                OR (l.converted_at >= b.d0 AND l.converted_at < b.d1))
         GROUP BY 1),
    figures AS (
        SELECT s.seller_id,
               coalesce(conv.total, 0)::integer AS conversations_total,
               coalesce(conv.active, 0)::integer AS conversations_active,
               coalesce(today.n, 0)::integer AS conversations_today,
               coalesce(unans.n, 0)::integer AS unanswered,
               resp.avg_min::float8 AS avg_response_time_minutes,
               coalesce(today.chat, 0)::float8 AS total_chat_time_minutes,
               coalesce(today.engaged::float8 / NULLIF(today.with_customer, 0), 0) AS engagement_rate,
               coalesce(leads.generated, 0)::integer AS leads_generated,
               coalesce(leads.converted, 0)::integer AS leads_converted,
               coalesce(leads.converted::float8 / NULLIF(leads.generated, 0), 0) AS conversion_rate
          FROM crm.sellers s
          LEFT JOIN conv ON conv.sid = s.seller_id
          LEFT JOIN today ON today.sid = s.seller_id
          LEFT JOIN resp ON resp.sid = s.seller_id
          LEFT JOIN unans ON unans.sid = s.seller_id
          LEFT JOIN leads ON leads.sid = s.seller_id
         WHERE s.active),
    -- productivity_score (0-10): the weighted mean of four components in
    -- [0, 1], times 10 (docs/crm.md "Productivity score").
    scored AS (
        SELECT f.*,
               coalesce(10 * (w.wr * coalesce(1 / (1 + f.avg_response_time_minutes / w.rmax), 0)
                              + w.we * f.engagement_rate
                              + w.wc * LEAST(f.conversion_rate, 1)
                              + w.wa * LEAST(f.conversations_today / w.target, 1))
                        / NULLIF(w.wr + w.we + w.wc + w.wa, 0), 0) AS score
          FROM figures f, w)
    SELECT s.seller_id, s.conversations_total, s.conversations_active, s.conversations_today, s.unanswered,
           s.avg_response_time_minutes, s.total_chat_time_minutes, s.engagement_rate, s.leads_generated,
           s.leads_converted, s.conversion_rate, s.score,
           CASE WHEN s.score >= w.high THEN 'high' WHEN s.score >= w.medium THEN 'medium' ELSE 'low' END,
           (pg_catalog.rank() OVER (ORDER BY pg_catalog.round(s.score::numeric, 2) DESC))::integer
      FROM scored s, w
$$;

-- The jobs. SECURITY DEFINER like every job: they write tables an operator
-- does not. NULL or infinite arguments: 22023 naming the argument.
CREATE FUNCTION ct4.crm_check_notifications(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, unanswered_conversations integer, hot_leads integer,
              follow_up_reminders integer, performance_alerts integer, notifications_created integer,
              duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_check_notifications'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_refresh_seller_metrics(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, sellers integer, metrics_upserted integer,
              duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_refresh_seller_metrics'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_cleanup(as_of timestamptz DEFAULT now())
RETURNS TABLE(run_id bigint, status text, notifications_deleted integer, metrics_deleted integer,
              conversations_archived integer, duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_cleanup'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION ct4.crm_daily_report(for_date date DEFAULT ct4._crm_yesterday())
RETURNS TABLE(run_id bigint, status text, report_date date, conversations integer, new_leads integer,
              converted_leads integer, recommendations integer, report jsonb, duration_ms double precision)
    AS 'MODULE_PATHNAME', 'ct4_crm_daily_report'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._crm_setting(text)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_day(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_day_start(date)', 'EXECUTE'),
    -- the report's default argument is evaluated as its caller
    ('operator', 'routine', 'ct4._crm_yesterday()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_days_before(timestamp with time zone, integer)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_episode(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_last_messages(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_unanswered(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_hot_leads(timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_replies(timestamp with time zone, timestamp with time zone, timestamp with time zone)', 'EXECUTE'),
    ('owner', 'routine', 'ct4._crm_seller_day(date, timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_check_notifications(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_refresh_seller_metrics(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_cleanup(timestamp with time zone)', 'EXECUTE'),
    ('operator', 'routine', 'ct4.crm_daily_report(date)', 'EXECUTE');

-- Registered and enabled like the CT4 jobs (on an empty crm schema a run
-- is a no-op of a few milliseconds), with seed 004's intervals per profile;
-- the report at 08:00 in the schedule's timezone (keep crm_timezone the
-- same zone: the report's default day is yesterday in crm_timezone).
INSERT INTO ct4.jobs (job_name, command, description, max_runtime) VALUES
    ('crm_notification_checks', 'SELECT * FROM ct4.crm_check_notifications()',
     'CRM: notifies unanswered conversations, hot leads, due follow-ups and struggling sellers, once per episode', '5 minutes'),
    ('crm_seller_metrics', 'SELECT * FROM ct4.crm_refresh_seller_metrics()',
     'CRM: refreshes every active seller''s figures of the day (crm.seller_metrics)', '10 minutes'),
    ('crm_cleanup', 'SELECT * FROM ct4.crm_cleanup()',
     'CRM: deletes old notifications and metrics, archives inactive conversations (crm_cleanup_batch rows of each per run)', '10 minutes'),
    ('crm_daily_report', 'SELECT * FROM ct4.crm_daily_report()',
     'CRM: the CEO''s report of yesterday (crm.daily_reports)', '10 minutes');
INSERT INTO ct4.job_schedules (profile, job_name, schedule, max_retries) VALUES
    ('development', 'crm_notification_checks', '*/2 * * * *',  NULL),
    ('development', 'crm_seller_metrics',      '*/5 * * * *',  NULL),
    ('development', 'crm_cleanup',             '0 * * * *',    NULL),
    ('development', 'crm_daily_report',        '0 8 * * *',    NULL),
    ('staging',     'crm_notification_checks', '*/5 * * * *',  NULL),
    ('staging',     'crm_seller_metrics',      '*/15 * * * *', NULL),
    ('staging',     'crm_cleanup',             '0 * * * *',    NULL),
    ('staging',     'crm_daily_report',        '0 8 * * *',    NULL),
    ('production',  'crm_notification_checks', '*/5 * * * *',  NULL),
    ('production',  'crm_seller_metrics',      '*/15 * * * *', NULL),
    ('production',  'crm_cleanup',             '0 * * * *',    NULL),
    ('production',  'crm_daily_report',        '0 8 * * *',    NULL),
    ('high_load',   'crm_notification_checks', '*/10 * * * *', 5),
    ('high_load',   'crm_seller_metrics',      '*/30 * * * *', 5),
    ('high_load',   'crm_cleanup',             '0 */2 * * *',  5),
    ('high_load',   'crm_daily_report',        '0 8 * * *',    5);
-- ct4.generate_crm_demo_data(sellers, seed): a realistic, deterministic CRM
-- (docs/crm.md "Demo data") at any scale: per seller 200 conversations
-- (threads of 2 to 18 messages, about 10 on average) and 300 leads.
--
-- Determinism: every value is a function of (row number, seed, the hour of
-- the call) through ct4._demo_u / ct4._demo_h (schema/070_demo_data.sql),
-- never random(): the same arguments in the same hour give the same rows.
-- Times are relative to the hour of the call (the anchor), all before it,
-- so the jobs called now find recent work.
--
-- Threads: a conversation's first message is the customer's; each next
-- message is the customer's with probability 0.55 (so customers write in
-- bursts); the last one is the customer's in 15 % of the active
-- conversations (unanswered) and 30 % of the others. A
-- seller reply comes after the seller's own speed (fast: median ~4 min,
-- medium ~20, slow ~75); customers answer within hours. Conversations
-- last spoke over the 60 days before the anchor (3 % within its last 6
-- hours); 15 % are closed, the others active while they spoke within 7 days
-- (5 % of the older ones are still active: work for the cleanup), else
-- archived.
-- Leads: every status (new 22 %, contacted 20 %, interested 18 %,
-- negotiation 10 %, converted 15 %, lost 15 %); 8 % of new and contacted
-- leads are hot (probability above 0.8); a third of the follow-ups are due.
CREATE FUNCTION ct4.generate_crm_demo_data(sellers integer, seed integer DEFAULT 42)
RETURNS TABLE(seller_rows bigint, lead_rows bigint, conversation_rows bigint, message_rows bigint,
              duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n      constant bigint := generate_crm_demo_data.sellers;
    s      constant integer := generate_crm_demo_data.seed;
    conv   constant bigint := generate_crm_demo_data.sellers * 200::bigint;
    anchor constant timestamptz := date_trunc('hour', now());
    t0     constant timestamptz := clock_timestamp();
BEGIN
    IF n IS NULL OR n < 0 OR n > 1000000 THEN
        RAISE EXCEPTION 'sellers must be between 0 and 1000000 (got %)', coalesce(n::text, 'NULL')
            USING ERRCODE = '22023';
    ELSIF s IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM crm.sellers) OR EXISTS (SELECT FROM crm.leads)
       OR EXISTS (SELECT FROM crm.conversations) OR EXISTS (SELECT FROM crm.messages) THEN
        RAISE EXCEPTION 'crm tables are not empty: CRM demo data is generated into an empty crm schema only'
            USING ERRCODE = '55000',
                  HINT = 'TRUNCATE crm.sellers, crm.leads, crm.conversations, crm.messages, crm.notifications, crm.seller_metrics, crm.daily_reports CASCADE to start over.';
    END IF;

    INSERT INTO crm.sellers (seller_id, full_name, email, active, created_at)
    SELECT i, f.first || ' ' || f.last,
           lower(translate(f.first || '.' || f.last, 'áéíóúñÁÉÍÓÚÑ ', 'aeiounAEIOUN')) || i || '@ventas.example',
           ct4._demo_u(i, 50, s) >= 0.06, anchor - interval '400 days' + ct4._demo_h(i, 51, s, 300) * interval '1 day'
      FROM generate_series(1::bigint, n) i
     CROSS JOIN LATERAL (SELECT (ARRAY['Juan','María','Carlos','Lucía','Pedro','Ana','Jorge','Rosa','Luis','Carmen',
                                       'Diego','Valeria','Andrés','Sofía','Miguel','Elena'])[1 + ct4._demo_h(i, 52, s, 16)] AS first,
                                (ARRAY['Pérez','Gómez','López','Torres','Ramírez','Flores','Rojas','Vargas',
                                       'Castro','Mendoza','Quispe','Huamán'])[1 + ct4._demo_h(i, 53, s, 12)] AS last) f;

    -- Messages first (a thread's times are counted back from its last
    -- message); conversations and leads take their times from them.
    CREATE TEMP TABLE _crm_demo_msgs ON COMMIT DROP AS
    WITH c AS (
        SELECT c, 1 + ct4._demo_h(c, 54, s, n::integer) AS seller, 2 + ct4._demo_h(c, 55, s, 17) AS len,
               -- days since the last message: 3 % within the last 6 hours, the rest over 60 days
               CASE WHEN ct4._demo_u(c, 57, s) < 0.03 THEN ct4._demo_u(c, 58, s) / 4
                    ELSE ct4._demo_u(c, 58, s) * 60 END AS age_days
          FROM generate_series(1::bigint, conv) c WHERE n > 0 OFFSET 0),
    c2 AS (
        SELECT c.*, anchor - c.age_days * interval '1 day' AS last_at,
               CASE WHEN ct4._demo_u(c.c, 56, s) < 0.15 THEN 'closed'
                    WHEN c.age_days < 7 OR ct4._demo_u(c.c, 56, s) > 0.95 THEN 'active'
                    ELSE 'archived' END AS status,
               CASE WHEN ct4._demo_u(c.seller, 59, s) < 0.4 THEN 4.0
                    WHEN ct4._demo_u(c.seller, 59, s) < 0.8 THEN 20.0 ELSE 75.0 END AS speed
          FROM c OFFSET 0),
    m AS (
        SELECT c2.c, c2.last_at, c2.status, k,
               CASE WHEN k = 1 THEN true
                    WHEN k = c2.len THEN ct4._demo_u(c2.c, 69, s) < CASE c2.status WHEN 'active' THEN 0.15 ELSE 0.3 END
                    ELSE ct4._demo_u(c2.c * 32 + k, 60, s) < 0.55 END AS cust,
               k = 2 OR (k > 2 AND ct4._demo_u(c2.c * 32 + k - 1, 60, s) < 0.55) AS prev_cust,
               ct4._demo_u(c2.c * 32 + k, 61, s) AS u, c2.speed
          FROM c2 CROSS JOIN LATERAL generate_series(1, c2.len) k OFFSET 0),
    g AS (
        SELECT m.c, m.k, m.cust, m.last_at, m.status,
               CASE WHEN m.k = 1 THEN 0
                    WHEN m.cust AND m.prev_cust THEN 0.3 + m.u * 8                 -- a burst
                    WHEN m.cust THEN 5 + m.u * 240                                 -- the customer comes back
                    WHEN m.prev_cust THEN m.speed * (0.2 + 1.6 * m.u ^ 2)          -- a reply
                    ELSE 0.5 + m.u * 5 END AS gap_min                              -- a second seller message
          FROM m)
    SELECT g.c, g.k, g.cust, g.status,
           g.last_at - coalesce(sum(g.gap_min) OVER (PARTITION BY g.c ORDER BY g.k DESC
                                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                       * interval '1 minute' AS sent_at
      FROM g;

    INSERT INTO crm.leads (lead_id, seller_id, full_name, status, conversion_probability, last_contact_time,
                           next_follow_up, created_at, converted_at)
    SELECT l.l, l.seller, l.name, l.status,
           CASE l.status
               WHEN 'new' THEN CASE WHEN l.u1 < 0.08 THEN 0.81 + 0.18 * l.u2 ELSE 0.7 * l.u2 END
               WHEN 'contacted' THEN CASE WHEN l.u1 < 0.08 THEN 0.81 + 0.18 * l.u2 ELSE 0.75 * l.u2 END
               WHEN 'interested' THEN 0.3 + 0.5 * l.u2
               WHEN 'negotiation' THEN 0.5 + 0.45 * l.u2
               WHEN 'converted' THEN 1
               ELSE 0.2 * l.u2 END,
           CASE WHEN l.status = 'new' AND l.u3 < 0.6 THEN NULL
                ELSE greatest(l.created_at, anchor - l.u3 * interval '5 days') END,
           CASE WHEN l.status IN ('interested', 'negotiation')
                THEN anchor + (l.u3 - 0.35) * interval '2 days' END,
           l.created_at,
           CASE WHEN l.status = 'converted' THEN l.created_at + l.u2 * (anchor - l.created_at) END
      FROM (SELECT x.l, 1 + ct4._demo_h(x.l, 54, s, n::integer) AS seller,
                   'Lead ' || x.l AS name,
                   (ARRAY['new','new','new','new','contacted','contacted','contacted','contacted',
                          'interested','interested','interested','negotiation','negotiation',
                          'converted','converted','converted','lost','lost','lost','new'])[1 + ct4._demo_h(x.l, 62, s, 20)] AS status,
                   ct4._demo_u(x.l, 63, s) AS u1, ct4._demo_u(x.l, 64, s) AS u2, ct4._demo_u(x.l, 65, s) AS u3,
                   coalesce(f.first_at - ct4._demo_u(x.l, 66, s) * interval '2 hours',
                            anchor - ct4._demo_u(x.l, 66, s) * interval '45 days') AS created_at
              FROM generate_series(1::bigint, n * 300) x(l)
              LEFT JOIN (SELECT m.c, min(m.sent_at) AS first_at FROM _crm_demo_msgs m GROUP BY 1) f ON f.c = x.l
            OFFSET 0) l;

    INSERT INTO crm.conversations (conversation_id, assigned_seller_id, lead_id, status, last_message_time,
                                   last_message_from_customer, created_at)
    SELECT a.c, 1 + ct4._demo_h(a.c, 54, s, n::integer), a.c,
           a.status, a.last_at, a.last_cust, a.first_at
      FROM (SELECT m.c, min(m.status) AS status, min(m.sent_at) AS first_at, max(m.sent_at) AS last_at,
                   (array_agg(m.cust ORDER BY m.k DESC))[1] AS last_cust
              FROM _crm_demo_msgs m GROUP BY 1) a;

    INSERT INTO crm.messages (message_id, conversation_id, from_customer, sent_at, body)
    SELECT m.c * 32 + m.k, m.c, m.cust, m.sent_at,
           CASE WHEN m.cust THEN (ARRAY['Hola, quiero información del plan', '¿Cuál es el precio?', '¿Siguen ahí?',
                                        'Me interesa, ¿cómo sigo?', 'Gracias', '¿Tienen descuento?'])[1 + ct4._demo_h(m.c * 32 + m.k, 67, s, 6)]
                ELSE (ARRAY['¡Hola! Con gusto le ayudo', 'Le envío la cotización', 'El plan incluye soporte',
                            '¿Le llamo mañana?', 'Perfecto, quedo atento'])[1 + ct4._demo_h(m.c * 32 + m.k, 68, s, 5)] END
      FROM _crm_demo_msgs m;

    DROP TABLE pg_temp._crm_demo_msgs;
    ANALYZE crm.sellers, crm.leads, crm.conversations, crm.messages;
    RETURN QUERY SELECT (SELECT count(*) FROM crm.sellers), (SELECT count(*) FROM crm.leads),
                        (SELECT count(*) FROM crm.conversations), (SELECT count(*) FROM crm.messages),
                        round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 3)::float8;
END $fn$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4.generate_crm_demo_data(integer, integer)', 'EXECUTE');
-- DROP EXTENSION ct4_jobs never silently destroys data (SPEC 6; docs/operations.md
-- "Uninstalling"). The event trigger (C++, src/framework/drop_guard.cpp) reads
-- the DROP EXTENSION statement's parse tree and, when it drops ct4_jobs, calls
-- ct4._drop_guard() before anything is dropped.

-- Refuses while a table of raw, canon, ops or crm holds a row (the caches
-- registered as not dumped, 'WHERE false', do not count), unless
-- ct4.allow_drop is on in this session; then removes every ct4: pg_cron
-- entry (they would fail every run once the extension is gone). Runs as the
-- dropping role (the extension's owner or a superuser), whose rights are
-- needed for the entries anyway.
CREATE FUNCTION ct4._drop_guard() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t       record;
    e       record;
    has_row boolean;
    held    text[] := '{}';
    allow   boolean;
BEGIN
    BEGIN
        allow := coalesce(nullif(current_setting('ct4.allow_drop', true), ''), 'off')::boolean;
    EXCEPTION WHEN invalid_text_representation THEN
        allow := false;
    END;
    IF NOT allow THEN
        FOR t IN SELECT c.oid::regclass AS rel
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname IN ('raw', 'canon', 'ops', 'crm') AND c.relkind IN ('r', 'p')
                    -- caches and bookkeeping that the jobs rebuild (not dumped) are no data
                    AND NOT EXISTS (SELECT 1 FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS k(rel, cond)
                                     WHERE x.extname = 'ct4_jobs' AND k.rel = c.oid AND k.cond ILIKE 'WHERE false%')
                  ORDER BY n.nspname, c.relname LOOP
            -- crm.notification_counts ships one zero row per kind: it holds
            -- data once a count is above 0.
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s x WHERE %s)', t.rel,
                           CASE t.rel::text WHEN 'crm.notification_counts' THEN 'x.created_total > 0' ELSE 'true' END)
               INTO has_row;
            IF has_row THEN
                held := held || t.rel::text;
            END IF;
        END LOOP;
        IF cardinality(held) > 0 THEN
            RAISE EXCEPTION 'DROP EXTENSION ct4_jobs refused: it would delete the data of % table(s) of raw, canon, ops and crm',
                cardinality(held)
                USING ERRCODE = '2BP01',
                DETAIL = 'Tables with rows: ' || array_to_string(held, ', ') || '.',
                HINT = 'Back up first: pg_dump -Fc -f ct4_backup.dump ' || quote_ident(current_database())
                       || ' (see docs/operations.md, "Uninstalling"). Then, in the same session: '
                       || 'SET ct4.allow_drop = on; DROP EXTENSION ct4_jobs;';
        END IF;
    END IF;
    IF to_regclass('cron.job') IS NOT NULL THEN
        FOR e IN EXECUTE 'SELECT jobid, jobname FROM cron.job WHERE jobname LIKE ''ct4:%'' ORDER BY jobid' LOOP
            EXECUTE 'SELECT cron.unschedule($1)' USING e.jobid;
            RAISE NOTICE 'ct4: removed pg_cron entry % (job %)', e.jobname, e.jobid;
        END LOOP;
    END IF;
END $$;

CREATE FUNCTION ct4._drop_guard_trigger() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'ct4_drop_guard_trigger' LANGUAGE C SET search_path = pg_catalog, pg_temp;

CREATE EVENT TRIGGER ct4_drop_guard ON ddl_command_start WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION ct4._drop_guard_trigger();

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._drop_guard()', 'EXECUTE'),
    ('owner', 'routine', 'ct4._drop_guard_trigger()', 'EXECUTE');
-- No routine of the extension is executable by PUBLIC (SPEC 6). PostgreSQL
-- grants EXECUTE to PUBLIC on every new function and procedure, so this
-- runs last and revokes it from every routine the script made (the members
-- of the extension, whatever their schema). Who may call what is
-- ct4.access_grants (schema/005_access.sql).
DO $$
DECLARE r regprocedure;
BEGIN
    FOR r IN SELECT d.objid::regprocedure FROM pg_catalog.pg_depend d
              WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
                AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'ct4_jobs')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', r);
    END LOOP;
END $$;
