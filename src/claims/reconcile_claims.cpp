// ct4.reconcile_claims_14d (SPEC 4.3): files every missing claim of the
// leads in scope with its evidence, counts every decision, refreshes the
// registered materialized views and records its run.
#include "claims/claims_engine.hpp"
#include "core/jsonb_writer.hpp"
#include "jobs/job_run.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/srf.hpp"

#include <algorithm>
#include <climits>
#include <functional>
#include <map>

namespace {

namespace cc = ct4::core::claims;
using ct4::jobs::Counters;
using namespace ct4::pg;

// CREATE rows per INSERT statement.
constexpr size_t kInsertBatch = 10000;

const char *kInsert =
    "INSERT INTO ops.cabinet_claims_14d (driver_id, person_key, lead_id, lead_date,"
    "       milestone_value, amount, trips_in_window, achieved_date, window_end, evidence,"
    "       created_at, run_id)"
    "SELECT u.driver_id, u.person_key, u.lead_id, DATE '2000-01-01' + u.ld, u.mv, m.amount,"
    "       u.tiw, DATE '2000-01-01' + u.ad, DATE '2000-01-01' + u.we, u.ev,"
    "       pg_catalog.now(), $10"
    "  FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS driver_id,"
    "               pg_catalog.unnest($2::pg_catalog.int8[]) AS person_key,"
    "               pg_catalog.unnest($3::pg_catalog.int8[]) AS lead_id,"
    "               pg_catalog.unnest($4::pg_catalog.int4[]) AS ld,"
    "               pg_catalog.unnest($5::pg_catalog.int4[]) AS mv,"
    "               pg_catalog.unnest($6::pg_catalog.int4[]) AS tiw,"
    "               pg_catalog.unnest($7::pg_catalog.int4[]) AS ad,"
    "               pg_catalog.unnest($8::pg_catalog.int4[]) AS we,"
    "               pg_catalog.unnest($9::pg_catalog.jsonb[]) AS ev) u"
    "  JOIN ct4.milestones m ON m.milestone_value = u.mv";

// Files the CREATE rows (one INSERT per batch). The run decided them on the
// ledger it holds in SHARE ROW EXCLUSIVE mode (no other writer until it
// commits), so no row can be there yet: no anti-join, no ON CONFLICT (each
// cost an index probe per row). The unique constraint still guards it.
// `filed(done, total)` is called before the first batch and after each one.
int64_t file_claims(Spi &spi, const ct4::claims::Decisions &d, int64_t run_id,
                    const std::function<void(int64_t, int64_t)> &filed) {
    int64_t created = 0;
    std::vector<const cc::GapRow *> todo;
    ct4::core::JsonbWriter writer;  // evidence as binary jsonb: nothing to parse
    // In the order of the UNIQUE (driver_id, milestone_value) index: its text
    // keys are the dearest to insert at random places (~15 % of a 2 M-row
    // filing); the (lead_date, lead_id) index compares integers. The drivers
    // are ranked once by id (usually decided in that order already), then
    // the rows are sorted by integer keys, not by string comparisons.
    std::vector<uint32_t> by_id(d.drivers.size());
    for (size_t i = 0; i < by_id.size(); i++) by_id[i] = (uint32_t)i;
    auto id_less = [&](uint32_t a, uint32_t b) { return d.drivers[a] < d.drivers[b]; };
    if (!std::is_sorted(by_id.begin(), by_id.end(), id_less))
        std::sort(by_id.begin(), by_id.end(), id_less);
    std::vector<uint32_t> rank(d.drivers.size());
    for (size_t i = 0; i < by_id.size(); i++) rank[by_id[i]] = (uint32_t)i;
    std::vector<std::pair<uint64_t, const cc::GapRow *>> keyed;
    for (const auto &r : d.rows)
        if (r.decision == cc::Decision::Create)
            keyed.push_back({(uint64_t)rank[(size_t)r.driver_ix] << 32 |
                                 (uint32_t)(*r.milestone_value ^ INT32_MIN),  // signed order
                             &r});
    std::sort(keyed.begin(), keyed.end(),
              [](const auto &x, const auto &y) { return x.first < y.first; });
    todo.reserve(keyed.size());
    for (const auto &k : keyed) todo.push_back(k.second);
    keyed = {};
    filed(0, (int64_t)todo.size());
    for (size_t lo = 0; lo < todo.size(); lo += kInsertBatch) {
        size_t hi = std::min(todo.size(), lo + kInsertBatch);
        std::vector<std::optional<std::string>> drivers;
        std::vector<std::string> evidence;
        std::vector<int64_t> persons, leads;
        std::vector<int32_t> lead_dates, ms, tiw, achieved, ends;
        for (size_t i = lo; i < hi; i++) {
            const cc::GapRow &r = *todo[i];
            const std::string &driver = d.drivers[(size_t)r.driver_ix];
            int64_t person = d.driver_person[(size_t)r.driver_ix];
            drivers.emplace_back(driver);
            persons.push_back(person);
            leads.push_back(r.lead_id);
            lead_dates.push_back(*r.lead_date);
            ms.push_back(*r.milestone_value);
            tiw.push_back((int32_t)std::min<int64_t>(r.trips_in_window, INT_MAX));
            achieved.push_back(r.achieved_date);
            ends.push_back(cc::window_end(*r.lead_date, d.window_days));
            writer.reset();
            cc::write_evidence(writer, r, person, d.window_days);
            evidence.push_back(writer.finish());
        }
        created += (int64_t)spi.exec(
            kInsert,
            {p_text_array(drivers), p_int8_array(persons), p_int8_array(leads),
             p_int4_array(lead_dates), p_int4_array(ms), p_int4_array(tiw), p_int4_array(achieved),
             p_int4_array(ends), p_jsonb_array(evidence), p_int8(run_id)});
        filed(created, (int64_t)todo.size());
    }
    return created;
}

// The run record's details: invalid conditions by reason and the ledger
// rows that no longer hold (re-verification), at most 1000 of them listed.
std::string details_json(const ct4::claims::Decisions &d) {
    std::map<std::string, int64_t> by_reason;
    std::string stale = "[";
    int64_t listed = 0;
    for (const auto &r : d.rows) {
        if (r.decision == cc::Decision::Invalid) by_reason[r.reason]++;
        if (!r.is_stale() || listed >= 1000) continue;
        if (listed++) stale += ",";
        stale += "{\"claim_id\":" + std::to_string(r.claim_id.value_or(0)) +
                 ",\"driver_id\":" + ct4::jobs::json_string(d.drivers[(size_t)r.driver_ix]) +
                 ",\"lead_id\":" + std::to_string(r.lead_id) +
                 ",\"milestone_value\":" + std::to_string(r.milestone_value.value_or(0)) +
                 ",\"reason\":" + ct4::jobs::json_string(r.reason) + "}";
    }
    std::string out = "{\"invalid_by_reason\":{";
    bool first = true;
    for (const auto &[k, v] : by_reason) {
        out += (first ? "" : ",") + ct4::jobs::json_string(k) + ":" + std::to_string(v);
        first = false;
    }
    // Present only when the run read the trips with one scan (TripScan).
    return out + "},\"stale_claims_listed\":" + stale + "]" +
           (d.trips_scanned ? ",\"trips_scanned\":true" : "") + "}";
}

Datum reconcile_claims_14d(FunctionCallInfo fcinfo) {
    int32_t days_back = arg_int4(fcinfo, 0, "days_back");
    require_range("days_back", days_back, 0, 36500);
    int32_t row_limit = arg_int4(fcinfo, 1, "row_limit");
    require_range("row_limit", row_limit, 1, 100000000);
    bool only_gaps = arg_bool(fcinfo, 2, "only_gaps");
    bool dry_run = arg_bool(fcinfo, 3, "dry_run");

    RowSink sink(fcinfo);
    Spi spi;
    std::string args = "{\"days_back\":" + std::to_string(days_back) +
                       ",\"row_limit\":" + std::to_string(row_limit) +
                       ",\"only_gaps\":" + (only_gaps ? "true" : "false") +
                       ",\"dry_run\":" + (dry_run ? "true" : "false") + "}";
    ct4::jobs::JobRun job(spi, "reconcile_claims_14d", args,
                          {"raw.module_ct_cabinet_leads", "raw.summary_daily",
                           "canon.identity_links", "ops.cabinet_claims_14d"});
    int64_t processed = 0, gaps = 0, should = 0, exist = 0, invalid = 0, created = 0, refreshed = 0,
            stale = 0;
    auto counters = [&] {
        return Counters{{"processed", processed},        {"gaps_found", gaps},
                        {"claims_should_exist", should}, {"claims_already_exist", exist},
                        {"invalid_conditions", invalid}, {"claims_created", created},
                        {"refreshed_views", refreshed},  {"stale_claims", stale}};
    };

    const char *status = "SKIPPED_LOCKED";
    if (job.try_lock()) {
        // Decisions and filing see one ledger: other writers wait for the commit.
        if (!dry_run) spi.exec("LOCK TABLE ops.cabinet_claims_14d IN SHARE ROW EXCLUSIVE MODE");
        // Progress (NOTICE, pg_stat_activity): while deciding, the drivers
        // done and the rows decided so far; then the run's counters, with
        // claims_created as it grows while filing.
        auto d =
            ct4::claims::decide_scope(spi, {days_back, row_limit, !only_gaps, true, !dry_run, true},
                                      [&](int64_t done, int64_t total, int64_t decided) {
                                          job.progress("deciding", done, total, "drivers", [&] {
                                              return Counters{{"rows_decided", decided}};
                                          });
                                      });
        for (const auto &r : d.rows) {
            processed++;
            if (r.is_gap()) gaps++;
            if (r.decision == cc::Decision::Create) should++;
            if (r.decision == cc::Decision::Invalid) invalid++;
            if (r.decision == cc::Decision::Exists) (r.is_stale() ? stale : exist)++;
        }
        if (!dry_run) {
            created = file_claims(spi, d, job.run_id(), [&](int64_t done, int64_t total) {
                created = done;
                job.progress("filing", done, total, "claims", counters);
            });
            job.progress("cache", 0, 0, "", counters);
            ct4::claims::store_cache(spi, d);
            job.progress("views", 0, 0, "", counters);
            refreshed = spi.scalar_int8("SELECT ct4._refresh_registered_views()").value_or(0);
        }
        status = dry_run ? "DRY_RUN" : "SUCCESS";
        job.finish(status, counters());
        spi.exec(
            "UPDATE ct4.job_runs SET stats = stats OPERATOR(pg_catalog.||) $2 WHERE run_id = $1",
            {p_int8(job.run_id()), p_jsonb(details_json(d))});
    } else {
        job.finish(status, counters());
    }
    double ms = job.elapsed_ms();

    auto i4 = [](int64_t v) { return OutCol{Int32GetDatum((int32_t)v), false}; };
    sink.put_row({{Int64GetDatum(job.run_id()), false},
                  {text_datum(status), false},
                  i4(processed),
                  i4(gaps),
                  i4(should),
                  i4(exist),
                  i4(invalid),
                  i4(created),
                  i4(refreshed),
                  {Float8GetDatum(ms), false}});
    return (Datum)0;
}

}  // namespace

CT4_FUNCTION(ct4_reconcile_claims_14d, reconcile_claims_14d)
