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
