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

-- A counter that moves whenever something a pending lead's outcome depends on
-- changes: raw.drivers, ct4.settings, the links (the job's own, ct4.unlink).
-- A row, not a sequence: it changes in the writer's transaction, so a run
-- never records an epoch whose data it could not see yet.
CREATE TABLE canon.identity_epoch (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch bigint  NOT NULL
);

-- The leads still pending in the identity funnel, kept by triggers on the raw
-- leads (NEW on insert or change) and by the job, which deletes the row of a
-- lead that is done (linked, and its person has a driver): the job's work
-- set and the NO_IDENTITY / NO_DRIVER limbo scope are index scans of it.
--   stage: NEW (never evaluated or changed since) | NO_IDENTITY | NO_DRIVER
--   outcome: last reason code (AMBIGUOUS, DRIVER_CONFLICT, ...) or NONE
--   checked_epoch, checked_on: a pending lead checked today at the current
--   epoch has the same outcome again, so a rerun skips it.
-- No indexed column changes when the job records an outcome, so those
-- updates can be HOT; fillfactor leaves them room on the page.
CREATE TABLE canon.identity_lead_state (
    lead_id       bigint PRIMARY KEY,
    lead_date     date,
    stage         text   NOT NULL CHECK (stage IN ('NEW', 'NO_IDENTITY', 'NO_DRIVER')),
    outcome       text,
    checked_epoch bigint,
    checked_on    date
) WITH (fillfactor = 70);
CREATE INDEX identity_lead_state_pending_idx ON canon.identity_lead_state (lead_date, lead_id);

CREATE FUNCTION ct4._identity_epoch_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER drivers_identity_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON raw.drivers
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_epoch_bump();
CREATE TRIGGER settings_identity_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ct4.settings
    FOR EACH STATEMENT EXECUTE FUNCTION ct4._identity_epoch_bump();

-- New or changed leads become NEW (a pending linked lead keeps its stage:
-- links never change; a done lead comes back as NEW and the job finds it done
-- again); deleted leads leave the state table.
CREATE FUNCTION ct4._identity_leads_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM canon.identity_lead_state;
        RETURN NULL;
    END IF;
    -- Separate statements: a DELETE trigger has no new_rows to plan against.
    IF TG_OP = 'DELETE' THEN
        DELETE FROM canon.identity_lead_state s
         WHERE s.lead_id IN (SELECT o.lead_id FROM old_rows o);
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM canon.identity_lead_state s
         WHERE s.lead_id IN (SELECT o.lead_id FROM old_rows o)
           AND s.lead_id NOT IN (SELECT n.lead_id FROM new_rows n);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT n.lead_id, n.lead_date, 'NEW' FROM new_rows n
            ON CONFLICT (lead_id) DO UPDATE
           SET lead_date = EXCLUDED.lead_date,
               stage = CASE WHEN s.stage = 'NO_DRIVER' THEN s.stage ELSE 'NEW' END;
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

-- The TRIPS_NO_CLAIM leads of ops.v_cabinet_leads_limbo, for the job's
-- limbo scope: the first max_rows in lead order among the leads dated before
-- before_date (NULL: any date) that sort before (bound_date, bound_id) (NULL:
-- no bound). The view ranks every lead of every driver (its filters cannot be
-- pushed below the window functions: ~18 s at 1M leads); this reads the leads
-- in index order and evaluates each through the trips primary key, stopping
-- after max_rows. Same rule as the view: the lead is linked, its person has a
-- driver, and some milestone is achieved in its window (the window's trips
-- reach trips_required, which is > 0) with no ledger claim for (driver,
-- milestone). test/pgtap/identity_trips_no_claim.sql checks it against the view.
CREATE FUNCTION ct4._identity_trips_no_claim(before_date date, bound_date date, bound_id bigint,
                                             max_rows bigint)
RETURNS TABLE(lead_id bigint, lead_date date)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- plpgsql: planned with the actual bounds, so the (lead_date, lead_id)
    -- index drives the scan in order and LIMIT stops it.
    RETURN QUERY
    SELECT l.lead_id, l.lead_date
      FROM raw.module_ct_cabinet_leads l
     WHERE l.lead_date < coalesce(before_date, 'infinity'::date)
       AND (l.lead_date, l.lead_id)
           < (coalesce(bound_date, 'infinity'::date), coalesce(bound_id, 9223372036854775807))
       AND EXISTS (
           SELECT 1
             FROM canon.identity_links ll
             JOIN canon.identity_links dl
               ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key
             JOIN ct4.milestones m ON true
            WHERE ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = l.lead_id::text
              AND NOT EXISTS (SELECT 1 FROM ops.cabinet_claims_14d c
                               WHERE c.driver_id = dl.source_pk
                                 AND c.milestone_value = m.milestone_value)
              AND m.trips_required <= (
                  SELECT coalesce(sum(s.count_orders_completed), 0) FROM raw.summary_daily s
                   WHERE s.driver_id = dl.source_pk AND s.trip_date >= l.lead_date
                     AND s.trip_date < l.lead_date + (SELECT ops._window_days())))
     ORDER BY l.lead_date, l.lead_id
     LIMIT max_rows;
END $$;

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
AS 'MODULE_PATHNAME', 'ct4_reconcile_leads_pipeline' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION ct4.reconcile_leads_pipeline(integer, integer, boolean, boolean, text[], boolean) IS
    'Identity matching: links leads to persons and persons to drivers (SPEC 4.1)';

-- The one audited way to undo a link (C0 rule 2). Waits for a running
-- identity job, removes the link, keeps the removed link and the
-- reason in canon.identity_link_removals, and returns that removal row.
CREATE FUNCTION ct4.unlink(source_table text, source_pk text, reason text)
RETURNS canon.identity_link_removals
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    l canon.identity_links;
    r canon.identity_link_removals;
BEGIN
    IF unlink.source_table IS NULL THEN
        RAISE EXCEPTION 'source_table must not be NULL' USING ERRCODE = '22023';
    ELSIF unlink.source_table NOT IN ('module_ct_cabinet_leads', 'drivers') THEN
        RAISE EXCEPTION 'source_table must be module_ct_cabinet_leads or drivers (got %)',
            unlink.source_table USING ERRCODE = '22023';
    ELSIF unlink.source_pk IS NULL THEN
        RAISE EXCEPTION 'source_pk must not be NULL' USING ERRCODE = '22023';
    ELSIF unlink.reason IS NULL OR btrim(unlink.reason) = '' THEN
        RAISE EXCEPTION 'reason must not be empty' USING ERRCODE = '22023';
    END IF;
    -- Same key as the job's lock (src/jobs/job_run.cpp): never interleave with a run.
    PERFORM pg_advisory_xact_lock(1129591873, hashtext('reconcile_leads_pipeline'));

    DELETE FROM canon.identity_links il
     WHERE il.source_table = unlink.source_table AND il.source_pk = unlink.source_pk
    RETURNING il.* INTO l;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no identity link for %.%', unlink.source_table, unlink.source_pk
            USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO canon.identity_link_removals (source_table, source_pk, removed_link, reason)
    VALUES (unlink.source_table, unlink.source_pk, to_jsonb(l), unlink.reason)
    RETURNING * INTO r;

    -- The funnel position of the leads concerned changes (a done lead has no
    -- state row yet); the job re-evaluates them.
    IF unlink.source_table = 'module_ct_cabinet_leads' THEN
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT rl.lead_id, rl.lead_date, 'NEW' FROM raw.module_ct_cabinet_leads rl
         WHERE rl.lead_id::text = unlink.source_pk
            ON CONFLICT (lead_id) DO UPDATE SET stage = 'NEW';
    ELSE
        INSERT INTO canon.identity_lead_state AS s (lead_id, lead_date, stage)
        SELECT rl.lead_id, rl.lead_date, 'NO_DRIVER'
          FROM canon.identity_links il
          JOIN raw.module_ct_cabinet_leads rl ON rl.lead_id::text = il.source_pk
         WHERE il.person_key = l.person_key AND il.source_table = 'module_ct_cabinet_leads'
            ON CONFLICT (lead_id) DO UPDATE SET stage = 'NO_DRIVER', checked_epoch = NULL;
    END IF;
    INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1;
    RETURN r;
END $$;
COMMENT ON FUNCTION ct4.unlink(text, text, text) IS
    'Removes one identity link with an audit row in canon.identity_link_removals (C0 rule 2)';

REVOKE ALL ON FUNCTION ct4.reconcile_leads_pipeline(integer, integer, boolean, boolean, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ct4.unlink(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ct4._identity_epoch_bump() FROM PUBLIC;
REVOKE ALL ON FUNCTION ct4._identity_leads_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION ct4._identity_trips_no_claim(date, date, bigint, bigint) FROM PUBLIC;

-- A cache like identity_lead_state: the triggers on raw.drivers and
-- ct4.settings recreate it while pg_restore loads those tables.
SELECT pg_catalog.pg_extension_config_dump('canon.identity_epoch', 'WHERE false');
-- A cache the triggers rebuild when pg_restore loads raw leads (every lead
-- becomes NEW and is re-evaluated once): dump no rows, so restores never clash.
SELECT pg_catalog.pg_extension_config_dump('canon.identity_lead_state', 'WHERE false');
