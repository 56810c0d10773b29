// Binary encoding of a driver's cached claim facts (its leads and the trips
// of their windows) for ops.claims_driver_state.facts. Pure C++17: the job
// decodes ~30 000 of these per daily run, so it is a flat little format,
// not JSON.
#pragma once

#include "core/claims_rules.hpp"

#include <string>

namespace ct4::core::claims {

// Leads and trips of `in` (claims live in their own column).
std::string encode_facts(const DriverInput &in);

// Fills in.leads and in.trips; false when `bytes` is not a valid encoding
// (the caller then recomputes the driver from raw data).
bool decode_facts(const char *bytes, size_t len, DriverInput &in);

}  // namespace ct4::core::claims
