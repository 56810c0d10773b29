#!/usr/bin/env bash
# SPEC 12 in a real browser: the page that the README's one-line export
# writes from the test cluster (PGHOST/PGPORT/PGUSER, a database made from
# ct4_template), opened by Debian's chromium in headless mode. Prints TAP.
# Checks: the rendered DOM holds every weekly row of
# ops.v_cabinet_14d_funnel_audit_weekly and every job of ct4.job_status;
# the hostile texts of test/fixtures/dashboard_data.sql (a job description
# and a seller named <script>alert(1)</script>, an error message with an
# onerror attribute) are text and no script element or handler exists, so
# nothing ran; the screenshots (laptop and phone widths) are not blank: the
# limbo stages' colours are on them. The laptop screenshot of the demo data
# is build/dashboard/dashboard.png (docs/dashboard.png is a copy of one).
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/dashboard; rm -rf "$out"; mkdir -p "$out"
db=t_browser
. test/tap.sh
# This test's q: one statement in its own database.
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
echo "1..13"

chrome=$(command -v chromium || true)
ok $([ -n "$chrome" ]; echo $?) "Debian's chromium is installed ($chrome)"
# Root in CI: no sandbox; a profile of its own; no GPU on a server.
render() {  # render <html> <what> <file> [width,height]
    local prof; prof=$(mktemp -d)
    case $2 in
        dom) timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --user-data-dir="$prof" \
                 --dump-dom "file://$(pwd)/$1" >"$3" 2>"$3.log" ;;
        png) timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$prof" \
                 --window-size="$4" --screenshot="$(pwd)/$3" "file://$(pwd)/$1" >"$3.log" 2>&1 ;;
    esac
    local rc=$?; rm -rf "$prof"; return $rc
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE ct4_template" >/dev/null 2>&1
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/fixtures/dashboard_data.sql >"$out/fixture.log" 2>&1
# The README's export, as written there.
psql -d "$db" -Atc "SELECT ct4.dashboard_html()" > "$out/fixture.html"
ok $(head -c 15 "$out/fixture.html" | grep -q '^<!DOCTYPE html>'; echo $?) "the one-line export writes an HTML5 page"

render "$out/fixture.html" dom "$out/fixture.dom.html"
ok $(grep -q '<title>ct4_jobs dashboard</title>' "$out/fixture.dom.html"; echo $?) "chromium renders it (--dump-dom)"

missing=0
while IFS= read -r row; do
    grep -qF "$row" "$out/fixture.dom.html" || { echo "# missing weekly row: $row"; missing=$((missing + 1)); }
done < <(q "SELECT format('<tr><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>',
                          week_start, leads_total, limbo_no_identity, limbo_no_driver, limbo_no_trips_14d,
                          limbo_trips_no_claim, limbo_ok)
              FROM ops.v_cabinet_14d_funnel_audit_weekly ORDER BY week_start")
weeks=$(q "SELECT count(*) FROM ops.v_cabinet_14d_funnel_audit_weekly")
ok $([ "$missing" -eq 0 ] && [ "$weeks" -eq 4 ]; echo $?) "the DOM holds the $weeks weekly rows of the view with their numbers"

missing=0
for job in $(q "SELECT job_name FROM ct4.job_status ORDER BY 1"); do
    grep -qF "<strong>$job</strong>" "$out/fixture.dom.html" || { echo "# missing job: $job"; missing=$((missing + 1)); }
done
ok $([ "$missing" -eq 0 ] && [ "$(q 'SELECT count(*) FROM ct4.job_status')" -ge 3 ]; echo $?) "the DOM holds every job of ct4.job_status"

ok $(grep -qF 'Files claims &lt;script&gt;alert(1)&lt;/script&gt; &amp; more' "$out/fixture.dom.html"; echo $?) \
   "a job description <script>alert(1)</script> is text in the DOM"
ok $(grep -qF '<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>' "$out/fixture.dom.html"; echo $?) \
   "a seller named <script>alert(1)</script> is text in the DOM"
ok $(grep -qF '&lt;img src=x onerror=alert(1)&gt;' "$out/fixture.dom.html"; echo $?) \
   "an error message with <img onerror=...> is text in the DOM"
# Nothing ran: the DOM has no script element, no element that loads or
# handles anything (a handler attribute would be inside a tag).
bad=$(grep -ciE '<script|<img|<iframe|<object|<embed|<[a-z][^>]*[[:space:]]on[a-z]+=' "$out/fixture.dom.html")
ok $([ -s "$out/fixture.dom.html" ] && [ "$bad" -eq 0 ]; echo $?) "the DOM has no script, no loading element, no event handler: nothing ran"

# Screenshots: not blank (many colours), the stages' colours drawn.
colours() {  # colours <png> -> 0 when rendered: >= 50 colours, red and green stage bars present
    local res; res=$(python3 test/png_colors.py "$1" '#d94f4f' '#3fa66b') || return 1
    echo "# $1: $(echo "$res" | tr '\n' ' ')"
    echo "$res" | awk 'NR == 1 { ok = ($3 >= 50) } NR > 1 { ok = ok && ($2 >= 100) } END { exit !ok }'
}
# The check itself tells a blank page: a white one fails it.
printf '<!DOCTYPE html><html><body></body></html>' > "$out/blank.html"
render "$out/blank.html" png "$out/blank.png" 640,480
! colours "$out/blank.png"; ok $? "a blank page's screenshot fails the not-blank check"
render "$out/fixture.html" png "$out/fixture-laptop.png" 1280,1800
colours "$out/fixture-laptop.png"; ok $? "the laptop screenshot (1280 px) is not blank: bars drawn"
render "$out/fixture.html" png "$out/fixture-phone.png" 390,2400
colours "$out/fixture-phone.png"; ok $? "the phone screenshot (390 px) is not blank: bars drawn"

# The demo data (funnel and CRM) after the jobs ran: the screenshot the README shows.
psql -X -q -d postgres -c "DROP DATABASE $db" -c "CREATE DATABASE $db TEMPLATE ct4_template" >/dev/null
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >"$out/demo.log" 2>&1 <<'SQL'
SELECT ct4.generate_demo_data(3000, 42);
SELECT * FROM ct4.reconcile_leads_pipeline(3650, 100000);
SELECT * FROM ct4.reconcile_claims_14d(3650, 100000);
SELECT * FROM ct4.check_limbo_alerts();
SELECT * FROM ct4.generate_crm_demo_data(8, 42);
SELECT * FROM ct4.crm_daily_report();
SQL
psql -d "$db" -Atc "SELECT ct4.dashboard_html()" > "$out/dashboard.html"
render "$out/dashboard.html" png "$out/dashboard.png" 1280,3000
colours "$out/dashboard.png"; ok $? "the demo data's screenshot is not blank ($out/dashboard.png)"

psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
