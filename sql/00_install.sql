-- The extension installs into any database and owns every object.
CREATE EXTENSION ct4_jobs CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname = 'ct4_jobs';
-- Schemas, tables and views it makes.
SELECT n.nspname, c.relname, c.relkind
  FROM pg_depend d
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ct4_jobs')
   AND c.relkind IN ('r', 'v', 'm')
 ORDER BY 1, 2;
-- Defaults of SPEC 2.3.
SELECT name, value FROM ct4.settings ORDER BY name;
SELECT * FROM ct4.milestones ORDER BY milestone_value;
-- PUBLIC has no access to any schema of the extension.
SELECT nspname, has_schema_privilege('public', oid, 'USAGE') AS public_usage
  FROM pg_namespace WHERE nspname IN ('raw', 'canon', 'ops', 'ct4') ORDER BY 1;
