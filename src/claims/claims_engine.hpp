// The PostgreSQL side of the claim decisions, shared by
// ct4.reconcile_claims_14d and ct4.claims_gap_report: reads the data
// set-based (one query per batch of drivers), decides in C++
// (core/claims_rules.hpp) and returns the oldest-first rows within row_limit.
//
// Two ways to get each in-scope driver's inputs, same decisions:
//  * raw: from the raw tables, for every driver in scope (re-verification
//    and the report always use it);
//  * cached: from ops.claims_driver_state, recomputing from the raw tables
//    only the drivers the triggers marked dirty or never decided
//    (claims_cache.cpp, docs/claims.md "Incremental state").
#pragma once

#include "core/claims_rules.hpp"
#include "pg/spi.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ct4::claims {

struct CacheUpdate;  // claims_cache.hpp

struct ScopeOptions {
    int32_t days_back;
    int64_t row_limit;
    bool reverify;     // only_gaps = false: re-verify the ledger rows in scope
    bool use_cache;    // may read ops.claims_driver_state (never when reverify)
    bool write_cache;  // may update it (not on dry runs, not in the report)
    // The job's choice of rows (fileable gaps first, reported INVALID rows
    // left out: core select_for_run) instead of the report's oldest-first
    // prefix of at most row_limit gaps (core limit_prefix).
    bool job_selection;
};

struct Decisions {
    core::claims::Day cutoff = 0;  // current_date - days_back
    int32_t window_days = 14;
    std::vector<std::string> drivers;        // indexed by GapRow::driver_ix
    std::vector<int64_t> driver_person;      // person_key of each driver (0: unknown)
    std::vector<core::claims::GapRow> rows;  // sorted, within row_limit
    // How the inputs were obtained (run record).
    bool cached = false;
    int64_t drivers_from_cache = 0, drivers_recomputed = 0;
    bool trips_scanned = false;  // one scan of the trips (TripScan), not probes per driver
    // What the run learnt for the cache, written by store_cache() after the
    // filing (so the filed claims are in it and the ledger trigger has
    // nothing to rewrite). Null when nothing is to be stored.
    std::shared_ptr<CacheUpdate> cache_update;
};

// Each driver's place in Decisions::drivers (GapRow::driver_ix): a driver
// seen for the first time is appended, with `person` as its person_key.
struct DriverIndex {
    std::unordered_map<std::string, int64_t> ix;
    int64_t of(Decisions &d, const std::string &id, int64_t person = 0) {
        auto [it, added] = ix.emplace(id, (int64_t)d.drivers.size());
        if (added) {
            d.drivers.push_back(id);
            d.driver_person.push_back(person);
        }
        return it->second;
    }
};

// Writes d.cache_update (driver states with their ledger rows as they are
// after the filing, invalid leads, handled dirty marks, coverage). No-op
// when null.
void store_cache(pg::Spi &spi, const Decisions &d);

// Called after each batch of drivers with (drivers done, drivers total,
// rows decided so far).
using Progress = std::function<void(int64_t, int64_t, int64_t)>;

// Sorts `rows` oldest first and keeps what opt asks for (job_selection).
void cut_rows(std::vector<core::claims::GapRow> &rows, const ScopeOptions &opt);

Decisions decide_scope(pg::Spi &spi, const ScopeOptions &opt, const Progress &progress);

}  // namespace ct4::claims
