#!/usr/bin/env bash
# docs/reference.md names every routine, table and view of the extension's
# schemas, every ct4.settings key and every alert rule of a fresh install
# (SPEC 11). Regenerate it with scripts/gen_reference.sh. Needs a running
# cluster (PGHOST/PGPORT) with ct4_jobs installed. Prints TAP. Used by
# test/run_all.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/tap.sh
db=ct4_reference_test
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d "$db" -c "CREATE EXTENSION ct4_jobs CASCADE" >/dev/null || { echo "Bail out! CREATE EXTENSION failed"; exit 1; }
ext_schemas="SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
              WHERE e.extname = 'ct4_jobs' AND d.classid = 'pg_namespace'::regclass AND d.deptype = 'e'"
check() {  # check <what> <query listing the names as the reference writes them>
    local names missing
    names=$(q -d "$db" -c "$2")
    missing=$(while read -r x; do [ -z "$x" ] || grep -qF -- "\`$x\`" docs/reference.md || echo "$x"; done <<<"$names")
    [ -n "$names" ] && [ -z "$missing" ]
    ok $? "docs/reference.md names every $1 ($(wc -l <<<"$names"))" "missing (run scripts/gen_reference.sh): $missing"
}
check "function and procedure" "SELECT DISTINCT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                 WHERE n.oid IN ($ext_schemas) ORDER BY 1"
check "table" "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.oid IN ($ext_schemas) AND c.relkind IN ('r', 'p') ORDER BY 1"
check "view" "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.oid IN ($ext_schemas) AND c.relkind IN ('v', 'm') ORDER BY 1"
check "setting of ct4.settings" "SELECT name FROM ct4.settings ORDER BY 1"
check "alert rule of ct4.alert_rules" "SELECT rule_code FROM ct4.alert_rules ORDER BY 1"
! grep -q 'no sentence yet' docs/reference.md
ok $? "every object of docs/reference.md has its sentence" "$(grep -B3 'no sentence yet' docs/reference.md | grep '^###\|^| `' | head)"
q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "1..$n"
[ "$failed" -eq 0 ]
