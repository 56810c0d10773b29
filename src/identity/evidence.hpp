// JSON written by the identity job: a link's evidence (the normalized keys
// compared and their outcome) and identity_unmatched.details (candidates with
// scores, or what data is missing), built as binary jsonb (core::JsonbWriter:
// the bytes jsonb_in makes of the same text, nothing to parse per row). Each
// function resets `w` and writes one document. Person handles of this run
// are mapped to their real person_key by `real`.
#pragma once

#include "core/jsonb_writer.hpp"
#include "identity/matcher.hpp"

#include <functional>
#include <string>

namespace ct4::identity {

using PersonKeyOf = std::function<int64_t(int64_t)>;

// Evidence of a lead's link (rule match or NEW_PERSON).
void lead_link_evidence(core::JsonbWriter &w, const Matcher &m, const Lead &l,
                        const PersonKeyOf &real);
// Evidence of a driver's link to `person`.
void driver_link_evidence(core::JsonbWriter &w, const Matcher &m, int64_t person,
                          const DriverResult &r, const PersonKeyOf &real);
// details of an unlinked lead (AMBIGUOUS, WEAK_MATCH, NO_CANDIDATES, INVALID_DATA).
void lead_unmatched_details(core::JsonbWriter &w, const Matcher &m, const Lead &l,
                            const PersonKeyOf &real);
// details of a DRIVER_* outcome, on the lead's row.
void driver_unmatched_details(core::JsonbWriter &w, const Matcher &m, int64_t person,
                              const DriverResult &r, const PersonKeyOf &real);

}  // namespace ct4::identity
