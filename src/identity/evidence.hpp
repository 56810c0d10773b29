// JSON written by the identity job: a link's evidence (the normalized keys
// compared and their outcome) and identity_unmatched.details (candidates with
// scores, or what data is missing). Person handles of this run are mapped to
// their real person_key by `real`.
#pragma once

#include "identity/matcher.hpp"

#include <functional>
#include <string>

namespace ct4::identity {

using PersonKeyOf = std::function<int64_t(int64_t)>;

std::string keys_json(const core::Keys &k);

// Evidence of a lead's link (rule match or NEW_PERSON).
std::string lead_link_evidence(const Matcher &m, const Lead &l, const PersonKeyOf &real);
// Evidence of a driver's link to `person`.
std::string driver_link_evidence(const Matcher &m, int64_t person, const DriverResult &r,
                                 const PersonKeyOf &real);
// details of an unlinked lead (AMBIGUOUS, WEAK_MATCH, NO_CANDIDATES, INVALID_DATA).
std::string lead_unmatched_details(const Matcher &m, const Lead &l, const PersonKeyOf &real);
// details of a DRIVER_* outcome, on the lead's row.
std::string driver_unmatched_details(const Matcher &m, int64_t person, const DriverResult &r,
                                     const PersonKeyOf &real);

}  // namespace ct4::identity
