// ct4.reconcile_claims_14d (SPEC 4.3): files every missing claim of the
// leads in scope with its evidence, counts every decision, refreshes the
// registered materialized views and records its run.
#include "claims/claims_engine.hpp"
#include "core/jsonb_writer.hpp"
#include "claims/claims_cache.sql.hpp"
#include "claims/reconcile_claims.sql.hpp"
#include "jobs/job.hpp"
#include "pg/datum.hpp"

#include <algorithm>
#include <climits>
#include <functional>
#include <map>

namespace {

namespace cc = ct4::core::claims;
using ct4::jobs::Counters;
using namespace ct4::pg;
namespace sql = ct4::sql::reconcile_claims;  // src/claims/reconcile_claims.sql

// CREATE rows per INSERT statement.
constexpr size_t kInsertBatch = 10000;

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
            sql::insert_claims,
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

// The run's counters of what it decided.
void count_decisions(ct4::jobs::Job &job, const ct4::claims::Decisions &d) {
    int64_t &processed = job.counter("processed"), &gaps = job.counter("gaps_found"),
            &should = job.counter("claims_should_exist"),
            &exist = job.counter("claims_already_exist"),
            &invalid = job.counter("invalid_conditions"), &stale = job.counter("stale_claims");
    for (const auto &r : d.rows) {
        processed++;
        if (r.is_gap()) gaps++;
        if (r.decision == cc::Decision::Create) should++;
        if (r.decision == cc::Decision::Invalid) invalid++;
        if (r.decision == cc::Decision::Exists) (r.is_stale() ? stale : exist)++;
    }
}

// The job: its counters (the result columns, by name, and the stats; stale_claims
// is in the stats only) and the sources it reads.
const ct4::jobs::JobSpec kClaimsJob{
    "reconcile_claims_14d",
    {"raw.module_ct_cabinet_leads", "raw.summary_daily", "canon.identity_links",
     "ops.cabinet_claims_14d"},
    {"processed", "gaps_found", "claims_should_exist", "claims_already_exist", "invalid_conditions",
     "claims_created", "refreshed_views", "stale_claims"}};

Datum reconcile_claims_14d(FunctionCallInfo fcinfo) {
    ct4::jobs::Job job(fcinfo, kClaimsJob);
    int32_t days_back = job.int_arg(0, "days_back", 0, 36500);
    int32_t row_limit = job.int_arg(1, "row_limit", 1, 100000000);
    bool only_gaps = job.bool_arg(2, "only_gaps");
    bool dry_run = job.dry_run_arg(3);
    return job.run([&](ct4::jobs::Job &job) {
        Spi &spi = job.spi();
        // Decisions and filing see one ledger: other writers wait for the commit.
        if (!dry_run) spi.exec(ct4::sql::claims_cache::lock_ledger);
        // Progress: while deciding, the drivers done and the rows decided so
        // far; then the run's counters, with claims_created as it grows.
        auto d =
            ct4::claims::decide_scope(spi, {days_back, row_limit, !only_gaps, true, !dry_run, true},
                                      [&](int64_t done, int64_t total, int64_t decided) {
                                          job.progress("deciding", done, total, "drivers", [&] {
                                              return Counters{{"rows_decided", decided}};
                                          });
                                      });
        count_decisions(job, d);
        if (!dry_run) {
            int64_t &created = job.counter("claims_created");
            created = file_claims(spi, d, job.run_id(), [&](int64_t done, int64_t total) {
                created = done;
                job.progress("filing", done, total, "claims");
            });
            job.progress("cache", 0, 0, "");
            ct4::claims::store_cache(spi, d);
            job.progress("views", 0, 0, "");
            spi.exec(sql::refresh_views);
            job.counter("refreshed_views") = spi.get_int4(0, spi.column("refreshed"));
        }
        job.add_stats(details_json(d));
    });
}

}  // namespace

CT4_FUNCTION(ct4_reconcile_claims_14d, reconcile_claims_14d)
