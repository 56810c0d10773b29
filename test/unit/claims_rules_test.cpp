#include "core/claims_rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ct4::core::claims;

namespace {

const std::vector<Milestone> kMs = {{1, 1}, {5, 5}, {25, 25}};
constexpr int32_t kW = 14;
constexpr Day D0 = 9000;  // an arbitrary lead date

std::vector<GapRow> decide(const DriverInput &in, Day cutoff, bool reverify = false) {
    auto rows = decide_driver(in, kMs, kW, cutoff, reverify);
    std::sort(rows.begin(), rows.end(), row_before);
    return rows;
}

std::string brief(const GapRow &r) {
    return std::to_string(r.lead_id) + "/" +
           (r.milestone_value ? std::to_string(*r.milestone_value) : "-") + " " +
           decision_name(r.decision) + " " + r.reason;
}

std::vector<std::string> briefs(const std::vector<GapRow> &rows) {
    std::vector<std::string> out;
    for (const auto &r : rows) out.push_back(brief(r));
    return out;
}

}  // namespace

TEST(ClaimsWindow, EdgesDay13CountsDay14DoesNot) {
    EXPECT_TRUE(in_window(D0, D0, kW));
    EXPECT_TRUE(in_window(D0 + 13, D0, kW));
    EXPECT_FALSE(in_window(D0 + 14, D0, kW));
    EXPECT_FALSE(in_window(D0 - 1, D0, kW));
    EXPECT_EQ(window_end(D0, kW), D0 + 13);
    auto w = evaluate_window(D0, kW, {{D0 - 1, 7}, {D0 + 13, 1}, {D0 + 14, 30}}, kMs);
    EXPECT_EQ(w.trips_in_window, 1);
    EXPECT_EQ(w.achieved[0], D0 + 13);
    EXPECT_FALSE(w.achieved[1]);
    EXPECT_FALSE(w.achieved[2]);
}

TEST(ClaimsWindow, AchievedDateIsFirstDayCumulativeReaches) {
    auto w = evaluate_window(D0, kW, {{D0, 0}, {D0 + 1, 2}, {D0 + 3, 2}, {D0 + 4, 1}, {D0 + 9, 30}},
                             kMs);
    EXPECT_EQ(w.trips_in_window, 35);
    EXPECT_EQ(w.achieved[0], D0 + 1);
    EXPECT_EQ(w.achieved[1], D0 + 4);  // 2 + 2 + 1 = 5 exactly
    EXPECT_EQ(w.achieved[2], D0 + 9);
    auto ev =
        evidence_days(D0, D0 + 4, {{D0, 0}, {D0 + 1, 2}, {D0 + 3, 2}, {D0 + 4, 1}, {D0 + 9, 30}});
    ASSERT_EQ(ev.size(), 3u);  // the zero day is no evidence
    EXPECT_EQ(ev.front().date, D0 + 1);
    EXPECT_EQ(ev.back().date, D0 + 4);
}

TEST(ClaimsWindow, OtherWindowLengthFromSettings) {
    auto w = evaluate_window(D0, 7, {{D0 + 6, 1}, {D0 + 7, 5}}, kMs);
    EXPECT_EQ(w.trips_in_window, 1);
    EXPECT_EQ(window_end(D0, 7), D0 + 6);
}

TEST(ClaimsDecide, CreatesEachAchievedMilestone) {
    DriverInput in;
    in.leads = {{1, D0}};
    in.trips = {{D0, 1}, {D0 + 2, 4}, {D0 + 5, 19}};
    auto rows = decide(in, D0);
    EXPECT_EQ(briefs(rows), (std::vector<std::string>{"1/1 CREATE MILESTONE_ACHIEVED",
                                                      "1/5 CREATE MILESTONE_ACHIEVED"}));
    EXPECT_EQ(rows[1].achieved_date, D0 + 2);
    EXPECT_EQ(rows[1].trips_in_window, 24);
    EXPECT_EQ(rows[1].evidence.size(), 2u);
}

TEST(ClaimsDecide, OutOfScopeLeadYieldsNothing) {
    DriverInput in;
    in.leads = {{1, D0}};
    in.trips = {{D0, 5}};
    EXPECT_TRUE(decide(in, D0 + 1).empty());
}

TEST(ClaimsDecide, EarliestLeadOwnsLaterLeadGetsWhatEarlierDidNot) {
    DriverInput in;
    in.leads = {{2, D0 + 20}, {1, D0}};  // order of input does not matter
    // Lead 1's window: 3 trips (milestone 1). Lead 2's window: 10 more (1 and 5).
    in.trips = {{D0 + 1, 3}, {D0 + 21, 10}};
    auto rows = decide(in, D0);
    EXPECT_EQ(briefs(rows), (std::vector<std::string>{"1/1 CREATE MILESTONE_ACHIEVED",
                                                      "2/5 CREATE MILESTONE_ACHIEVED"}));
}

TEST(ClaimsDecide, SameDateTieBrokenByLeadId) {
    DriverInput in;
    in.leads = {{9, D0}, {4, D0}};
    in.trips = {{D0, 1}};
    EXPECT_EQ(briefs(decide(in, D0)), (std::vector<std::string>{"4/1 CREATE MILESTONE_ACHIEVED"}));
}

TEST(ClaimsDecide, EarlierLeadOutOfScopeOwnsTheClaim) {
    DriverInput in;
    in.leads = {{1, D0}, {2, D0 + 10}};
    in.trips = {{D0 + 11, 5}};       // in both windows
    auto rows = decide(in, D0 + 5);  // only lead 2 in scope
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(brief(rows[0]), "1/1 CREATE MILESTONE_ACHIEVED_BY_EARLIER_LEAD");
    EXPECT_EQ(rows[0].discovered_via, 2);
    EXPECT_EQ(rows[0].lead_date, D0);
}

TEST(ClaimsDecide, ExistingClaimsAreExistsUnderOwnerOrEarlierInvalidUnderLater) {
    DriverInput in;
    in.leads = {{1, D0}, {2, D0 + 10}};
    in.trips = {{D0 + 11, 25}};
    in.claims = {{100, 1, 1, D0}, {101, 5, 0, D0 - 30}, {102, 25, 2, D0 + 10}};
    auto rows = decide(in, D0);
    EXPECT_EQ(briefs(rows), (std::vector<std::string>{"1/1 EXISTS CLAIMED",
                                                      "1/5 EXISTS CLAIMED_UNDER_EARLIER_LEAD",
                                                      "1/25 INVALID CLAIMED_UNDER_LATER_LEAD"}));
    EXPECT_EQ(rows[2].claim_id, 102);
}

TEST(ClaimsDecide, ReverifyReportsClaimsThatNoLongerHold) {
    DriverInput in;
    in.leads = {{1, D0}, {3, std::nullopt}, {4, D0 + 2}};
    in.trips = {{D0 + 1, 2}};  // trips corrected down: milestone 5 no longer reached
    in.claims = {{200, 1, 1, D0},
                 {201, 5, 1, D0},
                 {202, 25, 9, D0},
                 {203, 7, 3, D0}};  // milestone 7 is not configured: not re-verified
    auto plain = decide(in, D0);
    EXPECT_EQ(briefs(plain), (std::vector<std::string>{"1/1 EXISTS CLAIMED"}));
    auto full = decide(in, D0, true);
    EXPECT_EQ(briefs(full),
              (std::vector<std::string>{"1/1 EXISTS CLAIMED", "1/5 EXISTS STALE_NOT_ACHIEVED",
                                        "9/25 EXISTS STALE_LEAD_NOT_LINKED_TO_DRIVER"}));
    EXPECT_TRUE(full[1].is_stale());
    EXPECT_FALSE(full[1].is_gap());

    DriverInput moved;  // the claimed lead's date was corrected, an earlier lead now owns it
    moved.leads = {{1, D0 + 1}, {2, D0}, {3, std::nullopt}};
    moved.trips = {{D0 + 1, 1}};
    moved.claims = {{300, 1, 1, D0}, {301, 5, 3, D0}};
    auto m = decide(moved, D0, true);
    EXPECT_EQ(briefs(m), (std::vector<std::string>{"1/1 EXISTS STALE_LEAD_DATE_CHANGED",
                                                   "2/1 INVALID CLAIMED_UNDER_LATER_LEAD",
                                                   "3/5 EXISTS STALE_LEAD_DATE_NULL"}));

    DriverInput earlier;  // an earlier lead got linked after the claim was filed
    earlier.leads = {{1, D0}, {2, D0 + 3}};
    earlier.trips = {{D0 + 4, 1}};
    earlier.claims = {{400, 1, 2, D0 + 3}};
    EXPECT_EQ(briefs(decide(earlier, D0, true)),
              (std::vector<std::string>{"1/1 INVALID CLAIMED_UNDER_LATER_LEAD",
                                        "2/1 EXISTS STALE_EARLIER_LEAD_ELIGIBLE"}));
}

TEST(ClaimsDecide, EveryLeadBeforeTheLaterClaimIsInvalid) {
    DriverInput in;
    in.leads = {{1, D0}, {2, D0 + 5}, {3, D0 + 8}, {4, D0 + 9}};
    in.trips = {{D0 + 9, 1}};           // in every window
    in.claims = {{500, 1, 3, D0 + 8}};  // filed under lead 3
    EXPECT_EQ(briefs(decide(in, D0 + 2)),
              (std::vector<std::string>{"1/1 INVALID CLAIMED_UNDER_LATER_LEAD",
                                        "2/1 INVALID CLAIMED_UNDER_LATER_LEAD"}));
}

TEST(ClaimsDecide, LeadConditions) {
    EXPECT_STREQ(lead_condition(false, true, true), "LEAD_DATE_NULL");
    EXPECT_STREQ(lead_condition(false, false, false), "LEAD_DATE_NULL");
    EXPECT_STREQ(lead_condition(true, false, false), "NO_IDENTITY");
    EXPECT_STREQ(lead_condition(true, true, false), "NO_DRIVER");
    EXPECT_EQ(lead_condition(true, true, true), nullptr);
}

TEST(ClaimsDecide, NullDateLeadNeverClaims) {
    DriverInput in;
    in.leads = {{1, std::nullopt}};
    in.trips = {{D0, 30}};
    EXPECT_TRUE(decide(in, D0 - 100, true).empty());
}

TEST(ClaimsLimit, PrefixHoldsAtMostRowLimitGaps) {
    std::vector<GapRow> rows(5);
    const Decision ds[] = {Decision::Exists, Decision::Create, Decision::Exists, Decision::Invalid,
                           Decision::Create};
    for (int i = 0; i < 5; i++) {
        rows[i].decision = ds[i];
        rows[i].reason = "X";
    }
    EXPECT_EQ(limit_prefix(rows, 1), 3u);  // E C E | I
    EXPECT_EQ(limit_prefix(rows, 2), 4u);
    EXPECT_EQ(limit_prefix(rows, 3), 5u);
    EXPECT_EQ(limit_prefix(rows, 100), 5u);
}

// SPEC 4.3 amended: fileable gaps first whatever the invalid backlog before
// them; reported INVALID rows take no place; EXISTS rows are all kept.
TEST(ClaimsLimit, RunTakesCreatesFirstThenUnreportedInvalid) {
    // Oldest first: I(reported) I I E C I C
    const Decision ds[] = {Decision::Invalid, Decision::Invalid, Decision::Invalid,
                           Decision::Exists,  Decision::Create,  Decision::Invalid,
                           Decision::Create};
    auto make = [&] {
        std::vector<GapRow> rows(7);
        for (int i = 0; i < 7; i++) {
            rows[i].decision = ds[i];
            rows[i].reason = "X";
            rows[i].lead_id = i;
        }
        rows[0].reported = true;
        return rows;
    };
    auto ids = [](const std::vector<GapRow> &rows) {
        std::vector<int64_t> out;
        for (const auto &r : rows) out.push_back(r.lead_id);
        return out;
    };
    auto rows = make();
    select_for_run(rows, 1);
    EXPECT_EQ(ids(rows), (std::vector<int64_t>{3, 4}));  // the oldest CREATE, every EXISTS
    rows = make();
    select_for_run(rows, 2);
    EXPECT_EQ(ids(rows), (std::vector<int64_t>{3, 4, 6}));
    rows = make();
    select_for_run(rows, 3);
    EXPECT_EQ(ids(rows), (std::vector<int64_t>{1, 3, 4, 6}));  // then the oldest unreported INVALID
    rows = make();
    select_for_run(rows, 100);
    EXPECT_EQ(ids(rows), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));  // the reported one never
}

TEST(ClaimsOrder, OldestFirstNullDatesLast) {
    GapRow a{}, b{}, c{};
    a.lead_date = 5, a.lead_id = 9, a.reason = "R";
    b.lead_date = 6, b.lead_id = 1, b.reason = "R";
    c.lead_date = std::nullopt, c.lead_id = 0, c.reason = "R";
    EXPECT_TRUE(row_before(a, b));
    EXPECT_TRUE(row_before(b, c));
    EXPECT_FALSE(row_before(c, a));
}

TEST(ClaimsEvidence, JsonNamesWindowLeadPersonAndDays) {
    GapRow r{};
    r.decision = Decision::Create;
    r.reason = reason::kAchieved;
    r.lead_id = 7;
    r.lead_date = 0;  // 2000-01-01
    r.milestone_value = 5;
    r.trips_required = 5;
    r.trips_in_window = 9;
    r.achieved_date = 3;
    r.evidence = {{1, 2}, {3, 3}};
    EXPECT_EQ(evidence_json(r, 42, 14),
              "{\"rule\":\"earliest_eligible_lead\",\"lead_id\":7,\"person_key\":42,"
              "\"trips_required\":5,\"window_start\":\"2000-01-01\","
              "\"window_end\":\"2000-01-14\","
              "\"trips_per_day\":{\"2000-01-02\":2,\"2000-01-04\":3}}");
    r.reason = reason::kAchievedEarlierLead;
    r.discovered_via = 9;
    r.evidence = {};
    EXPECT_EQ(evidence_json(r, 42, 14),
              "{\"rule\":\"earliest_eligible_lead\",\"lead_id\":7,\"person_key\":42,"
              "\"trips_required\":5,\"window_start\":\"2000-01-01\","
              "\"window_end\":\"2000-01-14\",\"trips_per_day\":{},"
              "\"discovered_via_lead_id\":9}");
    EXPECT_EQ(format_day(-1), "1999-12-31");
    EXPECT_EQ(format_day(9190), "2025-02-28");
    char buf[10];
    format_day(-730119, buf);  // 0001-01-01
    EXPECT_EQ(std::string(buf, 10), "0001-01-01");
    format_day(9190, buf);
    EXPECT_EQ(std::string(buf, 10), "2025-02-28");
}

namespace {
int ticks = 0;
void count_tick() {
    ticks++;
}
}  // namespace

// A driver may carry any number of leads: the caller's cancel check runs
// every kTickLeads leads, and a throwing check stops the decision.
TEST(ClaimsDecide, TicksWhileEvaluatingManyLeads) {
    DriverInput in;
    for (int64_t i = 0; i < 3000; i++) in.leads.push_back({i + 1, D0 + (Day)(i % 30)});
    in.trips = {{D0, 30}};
    ticks = 0;
    auto rows = decide_driver(in, kMs, kW, D0, false, count_tick);
    EXPECT_EQ(ticks, 2);  // at the 1024th and the 2048th lead
    EXPECT_EQ(rows.size(), 3u);
    EXPECT_THROW(decide_driver(in, kMs, kW, D0, false, [] { throw std::runtime_error("cancel"); }),
                 std::runtime_error);
}
