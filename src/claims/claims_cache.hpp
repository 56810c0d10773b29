// The incremental decision path (docs/claims.md "Incremental state").
#pragma once

#include "claims/claims_engine.hpp"
#include "claims/claims_load.hpp"

#include <optional>

namespace ct4::claims {

// Decides the scope from ops.claims_driver_state, recomputing dirty and
// never-decided drivers from the raw tables (and storing them when
// opt.write_cache). nullopt when the cache is not usable read-only (no
// valid cache and !write_cache): the caller then takes the raw path.
std::optional<Decisions> decide_cached(pg::Spi &spi, const ScopeOptions &opt, const Context &ctx,
                                       const Progress &progress);

}  // namespace ct4::claims
