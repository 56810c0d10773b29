// The claim rules of SPEC 2.3 / 4.3 as pure C++17 (no PostgreSQL header):
// the 14-day window, cumulative trips, achieved_date per milestone, the
// earliest-eligible-lead choice and the per-gap decision with its reason.
// Used by ct4.reconcile_claims_14d and ct4.claims_gap_report alike, so the
// job and the report can never disagree.
//
// Days are PostgreSQL DateADT values: days since 2000-01-01.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ct4::core::claims {

using Day = int32_t;

struct Milestone {
    int32_t value;           // milestone_value (1, 5, 25)
    int32_t trips_required;  // cumulative trips that achieve it
};

struct DayTrips {
    Day date;
    int32_t count;  // count_orders_completed of that day
};

// One lead of a driver (every lead linked to the driver's person, in scope
// or not: eligibility looks at all of them).
struct DriverLead {
    int64_t lead_id;
    std::optional<Day> lead_date;
};

// A row of ops.cabinet_claims_14d for the driver.
struct LedgerClaim {
    int64_t claim_id;
    int32_t milestone_value;
    int64_t lead_id;
    Day lead_date;
};

// --- window arithmetic --------------------------------------------------
// window: lead_date <= trip_date < lead_date + window_days.
inline Day window_end(Day lead_date, int32_t window_days) {
    return lead_date + window_days - 1;
}
inline bool in_window(Day trip_date, Day lead_date, int32_t window_days) {
    return trip_date >= lead_date && trip_date < lead_date + window_days;
}

struct WindowResult {
    int64_t trips_in_window = 0;               // all trips of the whole window
    std::vector<std::optional<Day>> achieved;  // per milestone (same order): first day reached
};

// `trips` sorted by date, one entry per date. Milestones in any order.
WindowResult evaluate_window(Day lead_date, int32_t window_days, const std::vector<DayTrips> &trips,
                             const std::vector<Milestone> &milestones);

// The days with trips from lead_date up to and including `achieved`: the
// evidence that the milestone was reached.
std::vector<DayTrips> evidence_days(Day lead_date, Day achieved,
                                    const std::vector<DayTrips> &trips);

// --- decisions ----------------------------------------------------------
enum class Decision { Create, Exists, Invalid };
const char *decision_name(Decision d);

// Reason codes (the `reason` column of ct4.claims_gap_report).
namespace reason {
// CREATE
inline constexpr const char *kAchieved = "MILESTONE_ACHIEVED";
inline constexpr const char *kAchievedEarlierLead = "MILESTONE_ACHIEVED_BY_EARLIER_LEAD";
// EXISTS
inline constexpr const char *kClaimed = "CLAIMED";
inline constexpr const char *kClaimedEarlierLead = "CLAIMED_UNDER_EARLIER_LEAD";
// INVALID (lead level: milestone_value is NULL)
inline constexpr const char *kLeadDateNull = "LEAD_DATE_NULL";
inline constexpr const char *kNoIdentity = "NO_IDENTITY";
inline constexpr const char *kNoDriver = "NO_DRIVER";
// INVALID (milestone level)
inline constexpr const char *kClaimedLaterLead = "CLAIMED_UNDER_LATER_LEAD";
// EXISTS, re-verification (only_gaps = false): the claim no longer holds
inline constexpr const char *kStaleLeadUnlinked = "STALE_LEAD_NOT_LINKED_TO_DRIVER";
inline constexpr const char *kStaleLeadDateNull = "STALE_LEAD_DATE_NULL";
inline constexpr const char *kStaleLeadDateChanged = "STALE_LEAD_DATE_CHANGED";
inline constexpr const char *kStaleNotAchieved = "STALE_NOT_ACHIEVED";
inline constexpr const char *kStaleEarlierLead = "STALE_EARLIER_LEAD_ELIGIBLE";
}  // namespace reason

// One decision row. Rows sort oldest first by (lead_date NULLS LAST,
// lead_id, milestone_value NULLS FIRST, reason).
struct GapRow {
    Decision decision;
    const char *reason;
    int64_t lead_id;
    std::optional<Day> lead_date;
    std::optional<int32_t> milestone_value;
    // CREATE rows: what is filed.
    int32_t trips_required = 0;
    int64_t trips_in_window = 0;
    Day achieved_date = 0;
    std::vector<DayTrips> evidence;         // trips per day up to achieved_date
    std::optional<int64_t> discovered_via;  // in-scope lead that revealed an older owner
    // EXISTS rows: the ledger claim.
    std::optional<int64_t> claim_id;
    // Set by the caller: index of the driver in its own table, -1 for none.
    int64_t driver_ix = -1;
    // INVALID rows: an earlier run reported this gap and its inputs did not
    // change since (claims cache). The job neither counts it nor gives it a
    // place in row_limit (SPEC 4.3 amended); the report lists it.
    bool reported = false;

    bool is_gap() const { return decision != Decision::Exists; }
    bool is_stale() const;
};
bool row_before(const GapRow &a, const GapRow &b);

// Lead-level condition of an in-scope lead: LEAD_DATE_NULL, NO_IDENTITY
// (not linked to a person), NO_DRIVER (person without driver), or nullptr
// when the lead may hold claims.
const char *lead_condition(bool has_date, bool has_person, bool has_driver);

struct DriverInput {
    std::vector<DriverLead> leads;    // all leads of the driver
    std::vector<DayTrips> trips;      // sorted by date, covering every lead's window
    std::vector<LedgerClaim> claims;  // the driver's ledger rows
};

// Decides one driver: for each milestone that some in-scope lead (lead_date
// >= cutoff) achieved, the owner is the earliest lead (lead_date, lead_id)
// whose window achieved it, in scope or not; then CREATE (no ledger row),
// EXISTS (ledger row under the owner or under an earlier lead) or INVALID
// CLAIMED_UNDER_LATER_LEAD (the ledger row sits under a later lead, so the
// owner can never be filed: UNIQUE (driver_id, milestone_value)).
// With `reverify`, every ledger row with lead_date >= cutoff is checked
// against the same rules and reported as EXISTS STALE_* when it no longer
// holds. Lead-level conditions are not produced here (see lead_condition).
// `tick`, when given, is called every kTickLeads leads evaluated: one driver
// may carry any number of leads, and the caller checks for a cancel there.
constexpr size_t kTickLeads = 1024;
std::vector<GapRow> decide_driver(const DriverInput &in, const std::vector<Milestone> &milestones,
                                  int32_t window_days, Day cutoff, bool reverify,
                                  void (*tick)() = nullptr);

// The oldest-first prefix of sorted `rows` that holds at most `row_limit`
// gaps (CREATE or INVALID rows). Returns the prefix length.
size_t limit_prefix(const std::vector<GapRow> &rows, int64_t row_limit);

// What a run of the job takes from sorted `rows` (SPEC 4.3 amended): the
// gaps that can be filed first (CREATE, oldest first), then the INVALID rows
// not yet reported, oldest first, together at most `row_limit`; INVALID rows
// already reported (`reported`) take no place and are dropped; every EXISTS
// row is kept (it takes no place either). The result stays sorted.
void select_for_run(std::vector<GapRow> &rows, int64_t row_limit);

// Writes the evidence document of a CREATE row into `w`: a JsonTextWriter
// (core/json.hpp) or a JsonbWriter (core/jsonb_writer.hpp), instantiated for
// both in claims_rules.cpp. It holds what the ledger row's columns do not:
//   {"rule": "earliest_eligible_lead", "lead_id": 7, "person_key": 42,
//    "trips_required": 5, "window_start": "2000-01-01", "window_end": "2000-01-14",
//    "trips_per_day": {"2000-01-02": 2, "2000-01-04": 3},
//    "discovered_via_lead_id": 9}          (MILESTONE_ACHIEVED_BY_EARLIER_LEAD only)
// trips_per_day: the days with trips from lead_date up to achieved_date.
template <class Writer>
void write_evidence(Writer &w, const GapRow &row, int64_t person_key, int32_t window_days);

// The evidence as JSON text.
std::string evidence_json(const GapRow &row, int64_t person_key, int32_t window_days);

// 'YYYY-MM-DD' of a DateADT day.
std::string format_day(Day d);
// The same into buf (10 characters, no terminator): no allocation.
void format_day(Day d, char buf[10]);

}  // namespace ct4::core::claims
