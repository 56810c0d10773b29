#!/usr/bin/env bash
# Releases and upgrades (SPEC 11; docs/architecture.md "Versions and
# upgrades"). For the version of ct4_jobs.control: schema/ still assembles
# into its frozen script when it is released, or every released version has
# an update path to it when it is not; make install shipped every frozen and
# update script unchanged; the library exports every C symbol those scripts
# name. For every released version (a frozen ct4_jobs--<v>.sql): install it,
# load data, run the jobs, ALTER EXTENSION ct4_jobs UPDATE; then its catalog
# equals a fresh CREATE EXTENSION's (test/fixtures/catalog_snapshot.sql), no
# row is lost and the jobs run on. Until a second version exists, the update
# from 1.0 is to 1.0 itself and the test shows that the frozen 1.0 is what
# installs. Needs a running cluster (PGHOST/PGPORT) with ct4_jobs installed.
# Prints TAP. Used by test/run_all.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/tap.sh
ext=ct4_jobs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" $ext.control)
released=$(ls $ext--*.sql 2>/dev/null | grep -v -- '--.*--' | sed "s/^$ext--\(.*\)\.sql$/\1/" | sort -V)
[ -n "$released" ] || { echo "Bail out! no frozen $ext--<version>.sql in the repository"; exit 1; }
dbname() { echo "ct4_up_$(echo "$1" | tr -c 'a-z0-9\n' '_')"; }

# --- the version being built ---------------------------------------------
if [ -e "$ext--$current.sql" ]; then
    make -s "build/$ext--$current.sql" >"$work/make.log" 2>&1
    cmp -s "build/$ext--$current.sql" "$ext--$current.sql"
    ok $? "schema/ assembles into the frozen $ext--$current.sql (a schema change needs a new version and an update script)" \
       "$(cat "$work/make.log"; diff "$ext--$current.sql" "build/$ext--$current.sql" | head -20)"
else
    ok 0 "$current is not released yet: schema/ is its install script"
fi
for v in $released; do
    [ "$v" = "$current" ] && continue
    path=$(q -d postgres -c "SELECT path FROM pg_extension_update_paths('$ext') WHERE source = '$v' AND target = '$current'")
    [ -n "$path" ]; ok $? "an update path leads from released $v to $current (${path:-none})"
done

# --- what make install shipped --------------------------------------------
sharedir=$(q -d postgres -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
libdir=$(q -d postgres -c "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")
for f in $(ls $ext--*.sql); do
    cmp -s "$f" "$sharedir/extension/$f"
    ok $? "make install shipped $f unchanged" "$(ls -l "$sharedir/extension/$f" 2>&1)"
done
# The newest library serves every released version's SQL: each C symbol a
# shipped script names is exported, with its V1 info function.
nm -D --defined-only "$libdir/$ext.so" | awk '{print $3}' | sort -u >"$work/exported"
sed -n "s/.*'MODULE_PATHNAME', *'\([A-Za-z0-9_]*\)'.*/\1/p; s/.*'\$libdir\/$ext', *'\([A-Za-z0-9_]*\)'.*/\1/p" \
    $ext--*.sql | sort -u >"$work/named"
missing=$(while read -r s; do grep -qx "$s" "$work/exported" && grep -qx "pg_finfo_$s" "$work/exported" || echo "$s"; done <"$work/named")
[ -s "$work/named" ] && [ -z "$missing" ]
ok $? "$ext.so exports the $(wc -l <"$work/named") C symbols the shipped scripts name" "missing: $missing"

# --- every released version, updated to the newest ------------------------
fresh=$(dbname fresh)
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $fresh" -c "CREATE DATABASE $fresh" >/dev/null
q -d "$fresh" -c "CREATE EXTENSION $ext CASCADE" >/dev/null
v=$(q -d "$fresh" -c "SELECT extversion FROM pg_extension WHERE extname = '$ext'")
[ "$v" = "$current" ]; ok $? "CREATE EXTENSION $ext installs $current" "got $v"
q -d "$fresh" -f test/fixtures/catalog_snapshot.sql >"$work/fresh.catalog" 2>&1
ok $? "catalog of a fresh install read ($(grep -c '^[a-z]' "$work/fresh.catalog") lines)" "$(head -5 "$work/fresh.catalog")"

for r in $released; do
    db=$(dbname "$r")
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    # Version r as released, with data and a run of every registered job.
    q -d "$db" >"$work/load.log" 2>&1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION $ext VERSION '$r' CASCADE;
SELECT * FROM ct4.generate_demo_data(2000, 23);
SELECT 'SELECT * FROM ct4.generate_crm_demo_data(3, 23)' WHERE to_regproc('ct4.generate_crm_demo_data') IS NOT NULL \gexec
SELECT pg_catalog.format('CALL ct4.run_job(%L)', job_name) FROM ct4.jobs ORDER BY job_name \gexec
SQL
    ok $? "$r installed, demo data loaded, every job run" "$(tail -5 "$work/load.log")"
    # Every row of every table, as an md5 over the columns it has now.
    q -d "$db" >"$work/rows.log" 2>&1 <<'SQL'
CREATE SCHEMA upgrade_check;
CREATE TABLE upgrade_check.cols AS
SELECT c.oid::regclass::text AS tab, pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind = 'r' AND c.relnamespace IN (
       SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE e.extname = 'ct4_jobs' AND d.classid = 'pg_namespace'::regclass AND d.deptype = 'e')
 GROUP BY c.oid;
CREATE TABLE upgrade_check.rows_before (tab text, h text);
CREATE FUNCTION upgrade_check.hashes(tab text, cols text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE format('SELECT md5(row(%s)::text) FROM %s', cols, tab); END $$;
INSERT INTO upgrade_check.rows_before SELECT c.tab, h FROM upgrade_check.cols c, upgrade_check.hashes(c.tab, c.cols) h;
CREATE TABLE upgrade_check.runs_before AS SELECT job_name, max(run_id) AS run_id FROM ct4.job_runs GROUP BY job_name;
SQL
    n_rows=$(q -d "$db" -c "SELECT count(*) || ' rows in ' || count(DISTINCT tab) || ' tables' FROM upgrade_check.rows_before" 2>&1)
    ok $? "rows of $r recorded ($n_rows)" "$(tail -5 "$work/rows.log")"

    q -d "$db" -c "SET client_min_messages = warning" -c "ALTER EXTENSION $ext UPDATE" >"$work/update.log" 2>&1
    ok $? "ALTER EXTENSION $ext UPDATE from $r" "$(cat "$work/update.log")"
    v=$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = '$ext'")
    [ "$v" = "$current" ]; ok $? "$r updated to $current" "got $v"

    q -d "$db" -f test/fixtures/catalog_snapshot.sql >"$work/updated.catalog" 2>&1
    diff "$work/fresh.catalog" "$work/updated.catalog" >"$work/catalog.diff"
    ok $? "catalog after $r -> $current equals a fresh $current: routines with bodies, tables, columns, defaults, views, indexes, constraints, triggers, privileges" \
       "$(head -40 "$work/catalog.diff")"

    lost=$(q -d "$db" -c "SELECT b.tab || ': ' || count(*) FROM (
              SELECT tab, h FROM upgrade_check.rows_before
              EXCEPT ALL
              SELECT c.tab, h FROM upgrade_check.cols c, upgrade_check.hashes(c.tab, c.cols) h) b GROUP BY b.tab" 2>&1)
    [ -z "$lost" ]; ok $? "no row lost or changed by the update from $r" "$lost"

    # The jobs run on: each registered job runs again, SUCCESS, with a new run id.
    q -d "$db" >"$work/rerun.log" 2>&1 <<'SQL'
SET client_min_messages = warning;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone)
SELECT max(lead_id) + 1, current_date, 'Upgrade Test Person', '+51 900 000 001' FROM raw.module_ct_cabinet_leads;
SELECT pg_catalog.format('CALL ct4.run_job(%L)', job_name) FROM ct4.jobs ORDER BY job_name \gexec
SQL
    bad=$(q -d "$db" -c "SELECT j.job_name || ': ' || coalesce(r.status, 'no new run') FROM ct4.jobs j
            LEFT JOIN upgrade_check.runs_before b ON b.job_name = j.job_name
            LEFT JOIN LATERAL (SELECT status FROM ct4.job_runs x WHERE x.job_name = j.job_name
                                  AND x.run_id > coalesce(b.run_id, 0) ORDER BY x.run_id DESC LIMIT 1) r ON true
           WHERE r.status IS DISTINCT FROM 'SUCCESS'" 2>&1)
    [ -z "$bad" ]; ok $? "after the update from $r every job runs on (SUCCESS, new run ids)" "$bad; $(tail -5 "$work/rerun.log")"
    # ... and the identity run took the lead that arrived after the update.
    v=$(q -d "$db" -c "SELECT (stats->>'processed')::int >= 1 AND EXISTS (
              SELECT 1 FROM canon.identity_links l WHERE l.source_table = 'module_ct_cabinet_leads'
                 AND l.source_pk = (SELECT max(lead_id)::text FROM raw.module_ct_cabinet_leads))
            FROM ct4.job_runs WHERE job_name = 'reconcile_leads_pipeline' ORDER BY run_id DESC LIMIT 1" 2>&1)
    [ "$v" = t ]; ok $? "after the update from $r a new lead is linked by the next identity run" "got: $v"
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE $db" >/dev/null
done
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE $fresh" >/dev/null

echo "1..$n"
[ "$failed" -eq 0 ]
