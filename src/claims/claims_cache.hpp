// The incremental decision path (docs/claims.md "Incremental state").
#pragma once

#include "claims/claims_engine.hpp"
#include "claims/claims_load.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ct4::claims {

struct CacheUpdate {
    struct State {
        std::string driver_id;
        int64_t person;
        cc::Day last_lead_date;
        std::string facts;  // its claims are read from the ledger when stored
    };
    struct InvalidLead {
        int64_t lead_id;
        std::optional<cc::Day> date;
        std::optional<int64_t> person;
        std::optional<std::string> driver;
    };
    bool rebuilt = false;  // the cache was emptied: states are inserted, not upserted
    std::vector<State> states;
    std::vector<std::optional<std::string>> drop;  // drivers without a dated lead or link
    std::vector<int64_t> touched_leads;            // their invalid_leads rows are replaced
    std::vector<InvalidLead> invalid;
    std::vector<std::optional<std::string>> mark_drivers;
    std::vector<int64_t> mark_driver_marks, mark_leads, mark_lead_marks;
    int32_t window_days;
    std::string signature;
    cc::Day covered_from;
};

// Decides the scope from ops.claims_driver_state, recomputing dirty and
// never-decided drivers from the raw tables (and storing them when
// opt.write_cache). nullopt when the cache is not usable read-only (no
// valid cache and !write_cache): the caller then takes the raw path.
std::optional<Decisions> decide_cached(pg::Spi &spi, const ScopeOptions &opt, const Context &ctx,
                                       const Progress &progress);

}  // namespace ct4::claims
