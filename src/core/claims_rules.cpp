#include "core/claims_rules.hpp"

#include "core/json.hpp"
#include "core/jsonb_writer.hpp"

#include "core/cron.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <tuple>

namespace ct4::core::claims {

namespace {
// DateADT day 0 (2000-01-01) counted from 1970-01-01.
constexpr int64_t kPgEpochDays = 10957;

struct LeadKey {
    Day date;
    int64_t id;
    bool operator<(const LeadKey &o) const { return std::tie(date, id) < std::tie(o.date, o.id); }
};
}  // namespace

std::string format_day(Day d) {
    CivilDate c = civil_from_days((int64_t)d + kPgEpochDays);
    if (c.year < 0 || c.year > 9999) {  // outside what write-by-digits covers
        char buf[32];
        std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", (long long)c.year, c.month, c.day);
        return buf;
    }
    char buf[10];
    format_day(d, buf);
    return std::string(buf, 10);
}

void format_day(Day d, char buf[10]) {
    CivilDate c = civil_from_days((int64_t)d + kPgEpochDays);
    unsigned y = (unsigned)(c.year < 0 ? 0 : c.year > 9999 ? 9999 : c.year);
    buf[0] = (char)('0' + y / 1000);
    buf[1] = (char)('0' + y / 100 % 10);
    buf[2] = (char)('0' + y / 10 % 10);
    buf[3] = (char)('0' + y % 10);
    buf[4] = '-';
    buf[5] = (char)('0' + c.month / 10);
    buf[6] = (char)('0' + c.month % 10);
    buf[7] = '-';
    buf[8] = (char)('0' + c.day / 10);
    buf[9] = (char)('0' + c.day % 10);
}

const char *decision_name(Decision d) {
    switch (d) {
        case Decision::Create:
            return "CREATE";
        case Decision::Exists:
            return "EXISTS";
        case Decision::Invalid:
            return "INVALID";
    }
    return "?";
}

bool GapRow::is_stale() const {
    return std::strncmp(reason, "STALE_", 6) == 0;
}

bool row_before(const GapRow &a, const GapRow &b) {
    // lead_date NULLS LAST, lead_id, milestone NULLS FIRST, reason.
    if (a.lead_date.has_value() != b.lead_date.has_value()) return a.lead_date.has_value();
    if (a.lead_date && *a.lead_date != *b.lead_date) return *a.lead_date < *b.lead_date;
    if (a.lead_id != b.lead_id) return a.lead_id < b.lead_id;
    if (a.milestone_value.has_value() != b.milestone_value.has_value())
        return !a.milestone_value.has_value();
    if (a.milestone_value && *a.milestone_value != *b.milestone_value)
        return *a.milestone_value < *b.milestone_value;
    int c = std::strcmp(a.reason, b.reason);
    if (c != 0) return c < 0;
    return a.driver_ix < b.driver_ix;
}

WindowResult evaluate_window(Day lead_date, int32_t window_days, const std::vector<DayTrips> &trips,
                             const std::vector<Milestone> &milestones) {
    WindowResult r;
    r.achieved.assign(milestones.size(), std::nullopt);
    auto it = std::lower_bound(trips.begin(), trips.end(), lead_date,
                               [](const DayTrips &t, Day d) { return t.date < d; });
    for (; it != trips.end() && in_window(it->date, lead_date, window_days); ++it) {
        r.trips_in_window += it->count;
        for (size_t m = 0; m < milestones.size(); m++)
            if (!r.achieved[m] && r.trips_in_window >= milestones[m].trips_required)
                r.achieved[m] = it->date;
    }
    return r;
}

std::vector<DayTrips> evidence_days(Day lead_date, Day achieved,
                                    const std::vector<DayTrips> &trips) {
    std::vector<DayTrips> out;
    for (const auto &t : trips)
        if (t.date >= lead_date && t.date <= achieved && t.count > 0) out.push_back(t);
    return out;
}

const char *lead_condition(bool has_date, bool has_person, bool has_driver) {
    if (!has_date) return reason::kLeadDateNull;
    if (!has_person) return reason::kNoIdentity;
    if (!has_driver) return reason::kNoDriver;
    return nullptr;
}

std::vector<GapRow> decide_driver(const DriverInput &in, const std::vector<Milestone> &milestones,
                                  int32_t window_days, Day cutoff, bool reverify, void (*tick)()) {
    // Eligible leads (dated), oldest first, each with its window evaluated.
    struct Evaluated {
        LeadKey key;
        WindowResult w;
    };
    std::vector<Evaluated> leads;
    leads.reserve(in.leads.size());
    for (const auto &l : in.leads)
        if (l.lead_date) leads.push_back({{*l.lead_date, l.lead_id}, {}});
    std::sort(leads.begin(), leads.end(),
              [](const Evaluated &a, const Evaluated &b) { return a.key < b.key; });
    leads.erase(
        std::unique(leads.begin(), leads.end(),
                    [](const Evaluated &a, const Evaluated &b) { return a.key.id == b.key.id; }),
        leads.end());
    for (size_t i = 0; i < leads.size(); i++) {
        if (tick && i % kTickLeads == kTickLeads - 1) tick();
        leads[i].w = evaluate_window(leads[i].key.date, window_days, in.trips, milestones);
    }

    std::vector<GapRow> rows;
    for (size_t m = 0; m < milestones.size(); m++) {
        const Evaluated *owner = nullptr, *in_scope_hit = nullptr;
        for (const auto &e : leads) {
            if (!e.w.achieved[m]) continue;
            if (!owner) owner = &e;
            if (e.key.date >= cutoff) {
                in_scope_hit = &e;
                break;
            }
        }
        const LedgerClaim *claim = nullptr;
        for (const auto &c : in.claims)
            if (c.milestone_value == milestones[m].value) claim = &c;

        if (owner && in_scope_hit) {
            GapRow r{};
            r.lead_id = owner->key.id;
            r.lead_date = owner->key.date;
            r.milestone_value = milestones[m].value;
            if (!claim) {
                r.decision = Decision::Create;
                bool owner_in_scope = owner->key.date >= cutoff;
                r.reason = owner_in_scope ? reason::kAchieved : reason::kAchievedEarlierLead;
                if (!owner_in_scope) r.discovered_via = in_scope_hit->key.id;
                r.trips_required = milestones[m].trips_required;
                r.trips_in_window = owner->w.trips_in_window;
                r.achieved_date = *owner->w.achieved[m];
                r.evidence = evidence_days(owner->key.date, r.achieved_date, in.trips);
            } else {
                r.claim_id = claim->claim_id;
                // Compare with the claimed lead's current date when it is still
                // one of the driver's dated leads, else with the ledger's copy.
                LeadKey ck{claim->lead_date, claim->lead_id};
                for (const auto &e : leads)
                    if (e.key.id == claim->lead_id) ck = e.key;
                if (claim->lead_id == owner->key.id) {
                    r.decision = Decision::Exists;
                    r.reason = reason::kClaimed;
                } else if (ck < owner->key) {
                    r.decision = Decision::Exists;
                    r.reason = reason::kClaimedEarlierLead;
                } else {
                    r.decision = Decision::Invalid;
                    r.reason = reason::kClaimedLaterLead;
                    // Every other in-scope lead that achieved it before the
                    // claimed lead is unclaimed too (limbo TRIPS_NO_CLAIM).
                    for (const auto &e : leads) {
                        if (&e == owner || !e.w.achieved[m] || e.key.date < cutoff) continue;
                        if (!(e.key < ck)) break;
                        GapRow o = r;
                        o.lead_id = e.key.id;
                        o.lead_date = e.key.date;
                        rows.push_back(std::move(o));
                    }
                }
            }
            rows.push_back(std::move(r));
        }

        if (reverify && claim && claim->lead_date >= cutoff) {
            const char *why = nullptr;
            auto lead = std::find_if(in.leads.begin(), in.leads.end(), [&](const DriverLead &l) {
                return l.lead_id == claim->lead_id;
            });
            if (lead == in.leads.end()) {
                why = reason::kStaleLeadUnlinked;
            } else if (!lead->lead_date) {
                why = reason::kStaleLeadDateNull;
            } else if (*lead->lead_date != claim->lead_date) {
                why = reason::kStaleLeadDateChanged;
            } else {
                auto e = std::find_if(leads.begin(), leads.end(), [&](const Evaluated &x) {
                    return x.key.id == claim->lead_id;
                });
                if (!e->w.achieved[m])
                    why = reason::kStaleNotAchieved;
                else if (owner != &*e)
                    why = reason::kStaleEarlierLead;
            }
            if (why) {
                GapRow r{};
                r.decision = Decision::Exists;
                r.reason = why;
                r.lead_id = claim->lead_id;
                r.lead_date = claim->lead_date;
                r.milestone_value = claim->milestone_value;
                r.claim_id = claim->claim_id;
                rows.push_back(std::move(r));
            }
        }
    }
    return rows;
}

size_t limit_prefix(const std::vector<GapRow> &rows, int64_t row_limit) {
    int64_t gaps = 0;
    for (size_t i = 0; i < rows.size(); i++) {
        if (!rows[i].is_gap()) continue;
        if (gaps == row_limit) return i;
        gaps++;
    }
    return rows.size();
}

void select_for_run(std::vector<GapRow> &rows, int64_t row_limit) {
    int64_t creates = 0;
    for (const auto &r : rows)
        if (r.decision == Decision::Create) creates++;
    int64_t create_room = std::min(creates, row_limit);
    int64_t invalid_room = row_limit - create_room;
    size_t kept = 0;
    for (size_t i = 0; i < rows.size(); i++) {
        GapRow &r = rows[i];
        bool keep = r.decision == Decision::Exists;
        if (r.decision == Decision::Create && create_room > 0) keep = true, create_room--;
        if (r.decision == Decision::Invalid && !r.reported && invalid_room > 0)
            keep = true, invalid_room--;
        if (!keep) continue;
        if (kept != i) rows[kept] = std::move(r);
        kept++;
    }
    rows.resize(kept);
}

template <class Writer>
void write_evidence(Writer &w, const GapRow &row, int64_t person_key, int32_t window_days) {
    // What the ledger row's own columns do not say: the rule and its
    // threshold, the lead and person it was decided for, the window, and the
    // trips of each day up to achieved_date ({"YYYY-MM-DD": trips}; jsonb
    // orders equal-length keys bytewise, so the days stay in date order).
    // driver_id, lead_date, milestone_value, trips_in_window, achieved_date
    // and window_end are columns of the row.
    Day ld = row.lead_date.value_or(0);
    char day[10];
    auto date = [&](const char *key, Day d) {
        format_day(d, day);
        w.key(key);
        w.string(std::string_view(day, 10));
    };
    auto num = [&](const char *key, int64_t v) {
        w.key(key);
        w.int64(v);
    };
    w.begin_object();
    w.key("rule");
    w.string("earliest_eligible_lead");
    num("lead_id", row.lead_id);
    num("person_key", person_key);
    num("trips_required", row.trips_required);
    date("window_start", ld);
    date("window_end", window_end(ld, window_days));
    w.key("trips_per_day");
    w.begin_object();
    for (const auto &e : row.evidence) {
        format_day(e.date, day);
        w.key(std::string_view(day, 10));
        w.int64(e.count);
    }
    w.end_object();
    if (row.discovered_via) num("discovered_via_lead_id", *row.discovered_via);
    w.end_object();
}

template void write_evidence<JsonTextWriter>(JsonTextWriter &, const GapRow &, int64_t, int32_t);
template void write_evidence<JsonbWriter>(JsonbWriter &, const GapRow &, int64_t, int32_t);

std::string evidence_json(const GapRow &row, int64_t person_key, int32_t window_days) {
    JsonTextWriter w;
    write_evidence(w, row, person_key, window_days);
    return w.finish();
}

}  // namespace ct4::core::claims
