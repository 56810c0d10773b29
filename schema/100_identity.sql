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
