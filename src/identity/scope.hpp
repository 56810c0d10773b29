// Which leads a run of ct4.reconcile_leads_pipeline takes (SPEC 4.1,
// docs/identity.md "Which leads a run takes"): the due leads of
// canon.identity_lead_state in scope, never the pending leads that are not
// due. First the new or changed ones, oldest first; then the pending leads
// whose inputs changed, least recently decided first, with at least a
// quarter of row_limit when both wait (core/run_share.hpp). The leads taken
// are returned in processing order (lead_date, lead_id, NULL dates last).
#pragma once

#include "pg/spi.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ct4::identity {

struct ScopeArgs {
    int32_t days_back, row_limit;
    bool process_recent, process_limbo;
    std::vector<std::string> limbo_stages;
};

// A due lead, with what identity_lead_state says of it. `version` is the
// state row's version when read: the run records its outcome only over it.
struct WorkItem {
    int64_t id;
    std::string stage, outcome;
    int64_t version;
};

std::vector<WorkItem> take_scope(pg::Spi &spi, const ScopeArgs &a, int64_t epoch);

}  // namespace ct4::identity
