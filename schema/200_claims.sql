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
