#!/usr/bin/env bash
# Identity quality (not a test, issue 13): wrong links and recall of
# ct4.reconcile_leads_pipeline before and after the token rule of SPEC 4.2
# (amended), on two datasets with their truth:
#   traps  test/fixtures/identity_family_traps.sql: families sharing a phone
#          and a car (brothers, sisters, a brother who drives) and true
#          re-sign-ups (typo, missing token, reordered);
#   demo   ct4.generate_demo_data(leads, 42) with the truth of
#          test/fixtures/demo_ground_truth_links.sql (ct4._demo_person_of;
#          its leads without phone and license are left out, as there).
# One side per value of name_token_similarity_min in $THRESHOLDS (default
# "0 0.90"): 0 is the old rule on the same build ("before": every token is a
# counterpart of every other, so only the whole-name similarity counts,
# docs/identity.md), 0.90 the default ("after"). Each side runs the job once
# over the whole dataset in its own copy of the data. Prints one row per side
# and dataset (bench/identity_quality.sql explains the columns).
# Uses $PGHOST/$PGPORT when set, otherwise starts a throwaway cluster.
#   [THRESHOLDS="0 0.90 0.85"] bench/identity_quality.sh [families] [demo_leads]
set -euo pipefail
cd "$(dirname "$0")/.."
FAMILIES=${1:-2000}
DEMO=${2:-20000}
. bench/own_cluster.sh
export PGUSER=${PGUSER:-postgres}
THRESHOLDS=${THRESHOLDS:-0 0.90}
DB=ct4_quality
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
q() { psql -X -q -At -d "$1" -v ON_ERROR_STOP=1 "${@:2}"; }
drop_all() { for d in "$DB" "${DB}_side"; do q postgres -c "DROP DATABASE IF EXISTS $d"; done; }
drop_all

# One side per threshold, each in a fresh copy of the dataset's template $DB.
run_sides() {
    local name=$1 t label
    for t in $THRESHOLDS; do
        case $t in 0) label="before (0: old rule)" ;; 0.90) label="after (0.90: default)" ;; *) label="at $t" ;; esac
        q postgres -c "DROP DATABASE IF EXISTS ${DB}_side" -c "CREATE DATABASE ${DB}_side TEMPLATE $DB"
        q ${DB}_side -c "UPDATE ct4.settings SET value = '$t' WHERE name = 'name_token_similarity_min'"
        q ${DB}_side -c "SELECT * FROM ct4.reconcile_leads_pipeline(36500, 100000000)" >/dev/null
        q ${DB}_side -F ' | ' -v side="$name $label" -f bench/identity_quality.sql
    done
}

echo "side | links | wrong_links | paid_wrong | recall_pairs | recall_driver | weak_matches"
q postgres -c "CREATE DATABASE $DB"
q $DB -c "CREATE EXTENSION ct4_jobs CASCADE"
q $DB -v families="$FAMILIES" -f test/fixtures/identity_family_traps.sql
run_sides "traps($FAMILIES families)"

drop_all
q postgres -c "CREATE DATABASE $DB"
q $DB -c "CREATE EXTENSION ct4_jobs CASCADE"
q $DB -c "SELECT 1 FROM ct4.generate_demo_data($DEMO, 42)" >/dev/null
q $DB <<SQL
CREATE TABLE public.identity_truth (source_table text, source_pk text, truth bigint,
                                    PRIMARY KEY (source_table, source_pk));
INSERT INTO public.identity_truth
SELECT 'module_ct_cabinet_leads', l.lead_id::text, ct4._demo_person_of(l.lead_id, $DEMO, 42)
  FROM raw.module_ct_cabinet_leads l
 WHERE l.phone IS NOT NULL OR l.license_number IS NOT NULL
UNION ALL
SELECT 'drivers', d.driver_id, substr(d.driver_id, 5)::bigint FROM raw.drivers d;
ANALYZE public.identity_truth;
SQL
run_sides "demo($DEMO leads)"
drop_all
