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
        bool reported = false;  // an earlier run reported it, nothing changed since
    };
    bool rebuilt = false;  // the cache was emptied: states are inserted, not upserted
    std::vector<State> states;
    std::vector<std::optional<std::string>> drop;  // drivers without a dated lead or link
    std::vector<int64_t> touched_leads;            // their invalid_leads rows are replaced
    std::vector<InvalidLead> invalid;
    std::vector<std::optional<std::string>> mark_drivers;
    std::vector<int64_t> mark_driver_marks, mark_leads, mark_lead_marks;
    // INVALID rows this run reported (counted), so that later runs over the
    // same inputs give them no place (SPEC 4.3 amended): cached invalid
    // leads (fresh ones carry InvalidLead::reported), and (driver, lead,
    // milestone) of CLAIMED_UNDER_LATER_LEAD rows of drivers kept in the cache.
    std::vector<int64_t> reported_leads;
    std::vector<std::optional<std::string>> reported_drivers;
    std::vector<int64_t> reported_lead_ids, reported_milestones;
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
