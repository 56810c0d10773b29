// The PostgreSQL side of the claim decisions, shared by
// ct4.reconcile_claims_14d and ct4.claims_gap_report: reads the in-scope
// leads, their drivers' leads, ledger rows and trips set-based (one query
// per batch of drivers), decides in C++ (core/claims_rules.hpp) and returns
// the oldest-first rows within row_limit.
#pragma once

#include "core/claims_rules.hpp"
#include "pg/spi.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ct4::claims {

struct ScopeOptions {
    int32_t days_back;
    int64_t row_limit;
    bool reverify;  // only_gaps = false: re-verify the ledger rows in scope
};

struct Decisions {
    core::claims::Day cutoff = 0;  // current_date - days_back
    int32_t window_days = 14;
    std::vector<std::string> drivers;        // indexed by GapRow::driver_ix
    std::vector<int64_t> driver_person;      // person_key of each driver (0: unknown)
    std::vector<core::claims::GapRow> rows;  // sorted, within row_limit
};

// Called after each batch of drivers with (drivers done, drivers total,
// rows decided so far).
using Progress = std::function<void(int64_t, int64_t, int64_t)>;

Decisions decide_scope(pg::Spi &spi, const ScopeOptions &opt, const Progress &progress);

}  // namespace ct4::claims
