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
