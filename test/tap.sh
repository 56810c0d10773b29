# TAP helpers of the shell tests (test/dump_restore.sh, test/prometheus.sh,
# test/upgrade.sh, test/reference.sh, test/standby.sh, test/browser.sh);
# sourced. They print "ok N - ..." / "not ok N - ..." lines that
# test/run_all.sh counts, and the plan "1..N" at the end.
n=0 failed=0
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
ok() {  # ok <exit status of the check> <description> [diagnostic shown on failure]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
        echo "not ok $n - $2"; failed=$((failed + 1))
        [ -n "${3:-}" ] && printf '%s\n' "$3" | head -30 | sed 's/^/# /'
    fi
    return 0
}
