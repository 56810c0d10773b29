#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs, builds,
# installs the extension, runs the GoogleTest unit tests, starts a throwaway
# cluster with pg_cron, runs pg_regress (sql/ + expected/, `make
# installcheck`), pgTAP (test/pgtap/*.sql through pg_prove) and the shell
# tests (dump/restore, release and upgrade, reference, Prometheus, the
# dashboard in chromium), always stops the cluster, and ends with
# the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p build
log=build/test-logs; rm -rf "$log"; mkdir -p "$log"

scripts/install_deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

# Install into a private copy of PostgreSQL (scripts/pgroot.sh).
export CT4_PGROOT; CT4_PGROOT=$(scripts/pgroot.sh fresh)

passed=0 failed=0
tally() { passed=$((passed + $1)); failed=$((failed + $2)); }

echo "== build"
# The self-test extension (test/selftest/) is test-only: installed here, never by `make install`.
if ! { make -s -j"$(nproc)" >"$log/build.log" 2>&1 && make -s install DESTDIR="$CT4_PGROOT" >>"$log/build.log" 2>&1 \
       && make -s selftest-install DESTDIR="$CT4_PGROOT" >>"$log/build.log" 2>&1; }; then
    cat "$log/build.log"; echo "0 passed, 1 failed"; exit 1
fi
# House rules as tests: a warnings-clean build, clang-formatted C++.
if grep -E 'warning:' "$log/build.log"; then tally 0 1; echo "build: warnings above"; else tally 1 0; echo "build: no warnings"; fi
if clang-format --dry-run --Werror $(ls src/*/*.cpp src/*/*.hpp test/unit/*.cpp test/selftest/*.cpp bench/*.cpp 2>/dev/null) >"$log/format.log" 2>&1; then
    tally 1 0; echo "format: clang-format clean"
else
    tally 0 1; echo "format: run 'make format'"; head -20 "$log/format.log"
fi
# SQL written both in schema/ and for the C++ (docs/architecture.md "Shared SQL constants").
if scripts/check_shared_sql.pl >"$log/shared_sql.log" 2>&1; then
    tally 1 0; echo "shared SQL: schema and C++ copies agree"
else
    tally 0 1; cat "$log/shared_sql.log"
fi

echo "== unit (GoogleTest)"
if make -s build/unit_tests >"$log/unit-build.log" 2>&1; then
    build/unit_tests --gtest_brief=1 >"$log/unit.log" 2>&1
    p=$(grep -c '^\[       OK \]' "$log/unit.log" || true)
    [ "$p" -gt 0 ] || p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/unit.log")
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/unit.log"); f=${f:-0}
    tally "${p:-0}" "$f"; echo "unit: ${p:-0} passed, $f failed"
    [ "$f" -eq 0 ] || grep -E '^\[  FAILED  \]|Failure' "$log/unit.log" | head -40
else
    cat "$log/unit-build.log"; tally 0 1
fi

echo "== cluster"
eval "$(scripts/cluster.sh start)" || { echo "cluster start failed"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
export CT4_PORT=$PGPORT
trap 'CT4_PORT=$PGPORT scripts/cluster.sh stop' EXIT

echo "== pg_regress"
chmod -R a+rwX build
# The README's command: PGXS's installcheck against the cluster of PGHOST/PGPORT/PGUSER.
make -s installcheck >"$log/regress.log" 2>&1
p=$(grep -cE '^(ok|test) .*\bok\b|^ok [0-9]+ ' "$log/regress.log" || true)
f=$(grep -cE 'FAILED|failed \(ignored\)|^not ok' "$log/regress.log" || true)
tally "$p" "$f"; echo "pg_regress: $p passed, $f failed"
[ "$f" -eq 0 ] || { cat "$log/regress.log"; head -c 20000 regression.diffs 2>/dev/null; }

echo "== pgTAP"
psql -q -X -d postgres -c "CREATE DATABASE ct4_template" >/dev/null
psql -q -X -d ct4_template -c "CREATE EXTENSION pgtap; CREATE EXTENSION ct4_jobs CASCADE;" >/dev/null
psql -q -X -d ct4_cron -c "CREATE EXTENSION pgtap; CREATE EXTENSION pg_cron; CREATE EXTENSION ct4_jobs CASCADE;" >/dev/null
for t in test/pgtap/*.sql; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sql)
    if [[ $name == *cron* ]]; then db=ct4_cron; else
        db="t_$name"; psql -q -X -d postgres -c "CREATE DATABASE \"$db\" TEMPLATE ct4_template" >/dev/null
    fi
    pg_prove -v -d "$db" "$t" >"$log/pgtap-$name.log" 2>&1
    p=$(grep -cE '^ *ok [0-9]+' "$log/pgtap-$name.log" || true)
    f=$(grep -cE '^ *not ok [0-9]+' "$log/pgtap-$name.log" || true)
    # A file that died before its plan finished counts as one failure.
    grep -qE '^Result: PASS' "$log/pgtap-$name.log" || [ "$f" -gt 0 ] || f=1
    tally "$p" "$f"; echo "pgtap $name: $p passed, $f failed"
    [ "$f" -eq 0 ] || grep -vE '^ *ok [0-9]+' "$log/pgtap-$name.log" | head -60
    [[ $name == *cron* ]] || psql -q -X -d postgres -c "DROP DATABASE \"$db\"" >/dev/null
done

# A shell test printing TAP: its ok / not ok lines count; one that died
# before its plan line counts as one failure.
tap_script() {  # tap_script <label> <script>
    local name; name=$(basename "$2" .sh)
    "$2" >"$log/$name.log" 2>&1
    p=$(grep -cE '^ *ok [0-9]+' "$log/$name.log" || true)
    f=$(grep -cE '^ *not ok [0-9]+' "$log/$name.log" || true)
    grep -qE '^1\.\.[0-9]+' "$log/$name.log" || [ "$f" -gt 0 ] || f=1
    tally "$p" "$f"; echo "$1: $p passed, $f failed"
    [ "$f" -eq 0 ] || grep -vE '^ *ok [0-9]+' "$log/$name.log" | head -40
}

echo "== dump/restore"
tap_script dump/restore test/dump_restore.sh

echo "== release and upgrade"
tap_script upgrade test/upgrade.sh

echo "== reference"
tap_script reference test/reference.sh

echo "== Prometheus (exporter, textfile)"
tap_script prometheus test/prometheus.sh

echo "== browser (chromium headless: the dashboard)"
tap_script browser test/browser.sh

echo "== hot standby (health, metrics)"
tap_script standby test/standby.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
