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
