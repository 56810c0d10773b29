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
