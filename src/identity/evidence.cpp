#include "identity/evidence.hpp"

#include "core/name_tokens.hpp"

#include <cstdio>

namespace ct4::identity {

namespace {

using core::JsonbWriter;

// Candidates listed in details; the total is given too.
constexpr size_t kMaxListed = 10;
// Unparsable raw text is quoted up to this many bytes (whole UTF-8 characters).
constexpr size_t kMaxQuoted = 40;

// Scores, thresholds and similarities as their shortest text ("%.6g"), the
// number jsonb_in would have stored for that text. Whole numbers below 1e6
// (most scores) are that text already, written without formatting it.
void num_value(JsonbWriter &w, double v) {
    if (v == (double)(int64_t)v && v > -1e6 && v < 1e6) {
        w.int64((int64_t)v);
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    w.decimal(buf);
}

void num(JsonbWriter &w, const char *key, double v) {
    w.key(key);
    num_value(w, v);
}

void int_field(JsonbWriter &w, const char *key, int64_t v) {
    w.key(key);
    w.int64(v);
}

void str_field(JsonbWriter &w, const char *key, std::string_view v) {
    w.key(key);
    w.string(v);
}

void opt_field(JsonbWriter &w, const char *key, const std::optional<std::string> &v) {
    w.key(key);
    if (v)
        w.string(*v);
    else
        w.null();
}

std::string_view quote_prefix(const std::string &s) {
    size_t n = std::min(s.size(), kMaxQuoted);
    while (n < s.size() && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) --n;
    return std::string_view(s).substr(0, n);
}

// How one key type compared: equal, different, or missing on a side.
const char *outcome(const std::optional<std::string> &mine, bool theirs, bool equal) {
    if (equal) return "equal";
    if (!mine || !theirs) return "missing";
    return "different";
}

void keys(JsonbWriter &w, const char *key, const core::Keys &k) {
    w.key(key);
    w.begin_object();
    opt_field(w, "phone", k.phone);
    opt_field(w, "license", k.license);
    opt_field(w, "plate", k.plate);
    opt_field(w, "name", k.name);
    w.end_object();
}

void string_list(JsonbWriter &w, const char *key, const std::vector<std::string> &v) {
    w.key(key);
    w.begin_array();
    for (const auto &s : v) w.string(s);
    w.end_array();
}

// The token pairing of the row's name with the candidate's name the outcome
// is about (SPEC 4.2 amended), in the current object: "name_pairs" (each
// token of the shorter name as [token, counterpart, Jaro-Winkler])
// and, when the name conflicts, "name_conflict": the tokens without
// counterpart and the other name's tokens. Nothing when a side has no name.
void name_tokens(JsonbWriter &w, const core::Keys &row, const core::Score &s,
                 const core::MatchSettings &set) {
    if (!row.name || s.name_against.empty()) return;
    const core::TokenPairing p =
        core::pair_name_tokens(*row.name, s.name_against, set.name_token_similarity_min);
    w.key("name_pairs");
    w.begin_array();
    for (const auto &t : p.pairs) {
        w.begin_array();
        w.string(t.token);
        w.string(t.counterpart);
        num_value(w, t.similarity);
        w.end_array();
    }
    w.end_array();
    if (s.name_conflict) {
        w.key("name_conflict");
        w.begin_object();
        string_list(w, "tokens", p.unpaired);
        string_list(w, "against", p.against);
        w.end_object();
    }
    if (s.names_capped) {
        w.key("names_capped");
        w.boolean(true);
    }
}

void compared(JsonbWriter &w, const core::Keys &row, const KeyPresence &cand, const core::Score &s,
              const core::MatchSettings &set) {
    w.key("compared");
    w.begin_object();
    str_field(w, "license", outcome(row.license, cand.license, s.license));
    str_field(w, "phone", outcome(row.phone, cand.phone, s.phone));
    str_field(w, "plate", outcome(row.plate, cand.plate, s.plate));
    w.key("name");
    w.begin_object();
    num(w, "similarity", s.name_similarity);
    w.key("agreed");
    w.boolean(s.name);
    name_tokens(w, row, s, set);
    w.end_object();
    w.end_object();
}

void candidate(JsonbWriter &w, const Matcher &m, const core::Keys &row, int64_t person_key,
               const core::Score &s) {
    w.begin_object();
    int_field(w, "person_key", person_key);
    num(w, "score", s.total);
    str_field(w, "rule", core::match_rule(s));
    num(w, "name_similarity", s.name_similarity);
    name_tokens(w, row, s, m.settings());
    w.end_object();
}

// Up to kMaxListed of `list` under `key`, best first.
void candidates(JsonbWriter &w, const char *key, const Matcher &m, const core::Keys &row,
                const std::vector<core::Scored> &list, const PersonKeyOf &real) {
    w.key(key);
    w.begin_array();
    for (size_t i = 0; i < list.size() && i < kMaxListed; i++)
        candidate(w, m, row, real(list[i].index), list[i].score);
    w.end_array();
}

// The keys that found no candidate because more than core::kMaxPersonsPerKey
// rows hold them (SPEC 6: bounded work per lead), when there are any.
void keys_over_bound(JsonbWriter &w, const std::vector<KeyOverBound> &over) {
    if (over.empty()) return;
    w.key("keys_over_bound");
    w.begin_array();
    for (const auto &k : over) {
        w.begin_object();
        str_field(w, "key", kKeyTypeNames[k.type]);
        str_field(w, "value", k.value);
        int_field(w, "holders", (int64_t)k.holders);
        int_field(w, "limit", (int64_t)core::kMaxPersonsPerKey);
        w.end_object();
    }
    w.end_array();
}

const char *const kBlockedReason =
    "the best candidate was unlinked from this row (ct4.unlink); ct4.unblock lifts the block";

// Drivers of `list` (indexes into m.drivers), best first (score, driver_id).
void driver_candidates(JsonbWriter &w, const char *key, const Matcher &m,
                       std::vector<core::Scored> list, const PersonKeyOf &real) {
    std::stable_sort(list.begin(), list.end(), [&](const core::Scored &a, const core::Scored &b) {
        if (a.score.total != b.score.total) return a.score.total > b.score.total;
        return m.drivers[(size_t)a.index].id < m.drivers[(size_t)b.index].id;
    });
    w.key(key);
    w.begin_array();
    for (size_t i = 0; i < list.size() && i < kMaxListed; i++) {
        const Driver &d = m.drivers[(size_t)list[i].index];
        w.begin_object();
        str_field(w, "driver_id", d.id);
        num(w, "score", list[i].score.total);
        str_field(w, "rule", core::match_rule(list[i].score));
        w.key("linked_person_key");
        if (d.linked_person)
            w.int64(real(d.linked_person));
        else
            w.null();
        name_tokens(w, d.keys, list[i].score, m.settings());
        w.end_object();
    }
    w.end_array();
}

void missing(JsonbWriter &w, const core::Keys &k) {
    w.key("missing");
    w.begin_array();
    const std::optional<std::string> *vals[4] = {&k.phone, &k.license, &k.plate, &k.name};
    for (int t = 0; t < 4; t++)
        if (!*vals[t]) w.string(kKeyTypeNames[t]);
    w.end_array();
}

}  // namespace

void lead_link_evidence(JsonbWriter &w, const Matcher &m, const Lead &l, const PersonKeyOf &real) {
    w.reset();
    w.begin_object();
    keys(w, "keys", l.keys);
    if (l.new_person) {
        int_field(w, "candidates", 0);
        str_field(w, "reason", "no person shares phone, license or plate");
        w.end_object();
        return;
    }
    const core::Scored &best = l.ranked[0];
    int_field(w, "person_key", real(best.index));
    num(w, "score", best.score.total);
    num(w, "threshold", m.settings().link_threshold);
    compared(w, l.keys, l.linked_keys, best.score, m.settings());
    int_field(w, "candidates", (int64_t)l.ranked.size());
    if (l.ranked.size() > 1) {
        w.key("runner_up");
        candidate(w, m, l.keys, real(l.ranked[1].index), l.ranked[1].score);
    }
    keys_over_bound(w, l.keys_over_bound);
    w.end_object();
}

void driver_link_evidence(JsonbWriter &w, const Matcher &m, int64_t person, const DriverResult &r,
                          const PersonKeyOf &real) {
    const core::Scored &best = r.ranked[0];
    const Driver &d = m.drivers[(size_t)best.index];
    w.reset();
    w.begin_object();
    keys(w, "driver_keys", d.keys);
    int_field(w, "person_key", real(person));
    num(w, "score", best.score.total);
    num(w, "threshold", m.settings().link_threshold);
    compared(w, d.keys, r.person_keys, best.score, m.settings());
    int_field(w, "candidates", (int64_t)r.ranked.size());
    if (r.ranked.size() > 1) {
        const auto &ru = r.ranked[1];
        w.key("runner_up");
        w.begin_object();
        str_field(w, "driver_id", m.drivers[(size_t)ru.index].id);
        num(w, "score", ru.score.total);
        w.end_object();
    }
    keys_over_bound(w, r.keys_over_bound);
    w.end_object();
}

void lead_unmatched_details(JsonbWriter &w, const Matcher &m, const Lead &l,
                            const PersonKeyOf &real) {
    w.reset();
    w.begin_object();
    keys(w, "keys", l.keys);
    if (l.blocked) {
        // C0 rule 2: the best candidate is a person this row was unlinked from.
        num(w, "threshold", m.settings().link_threshold);
        candidates(w, "blocked", m, l.keys, l.blocked_ranked, real);
        candidates(w, "candidates", m, l.keys, l.ranked, real);
        int_field(w, "candidates_total", (int64_t)(l.ranked.size() + l.blocked_ranked.size()));
        str_field(w, "reason", kBlockedReason);
        w.end_object();
        return;
    }
    switch (l.decision) {
        case core::Decision::Ambiguous:
        case core::Decision::WeakMatch: {
            num(w, "threshold", m.settings().link_threshold);
            candidates(w, "candidates", m, l.keys, l.ranked, real);
            int_field(w, "candidates_total", (int64_t)l.ranked.size());
            keys_over_bound(w, l.keys_over_bound);
            break;
        }
        case core::Decision::InvalidData: {
            w.key("unparsable");
            w.begin_object();
            for (const auto &f : core::unparsable_fields(l.raw, l.keys)) {
                const std::optional<std::string> &v = f == "phone"     ? l.raw.phone
                                                      : f == "license" ? l.raw.license
                                                      : f == "plate"   ? l.raw.plate
                                                                       : l.raw.full_name;
                w.key(f);
                w.begin_object();
                str_field(w, "text", quote_prefix(*v));
                int_field(w, "bytes", (int64_t)v->size());
                w.end_object();
            }
            w.end_object();
            missing(w, l.keys);
            break;
        }
        default: {
            const char *why = !l.keys.has_search_key() && !l.keys.name ? "no data"
                              : !(l.keys.phone || l.keys.license)
                                  ? "no valid phone or license to create a person from"
                                  : "no name to create a person from";
            missing(w, l.keys);
            str_field(w, "reason", why);
        }
    }
    w.end_object();
}

void driver_unmatched_details(JsonbWriter &w, const Matcher &m, int64_t person,
                              const DriverResult &r, const PersonKeyOf &real) {
    w.reset();
    w.begin_object();
    int_field(w, "person_key", real(person));
    num(w, "threshold", m.settings().link_threshold);
    if (r.blocked) driver_candidates(w, "blocked", m, r.blocked_ranked, real);
    driver_candidates(w, "candidates", m, r.ranked, real);
    int_field(w, "candidates_total", (int64_t)(r.ranked.size() + r.blocked_ranked.size()));
    keys_over_bound(w, r.keys_over_bound);
    if (r.blocked) {
        str_field(w, "reason",
                  "the best driver was unlinked from this person (ct4.unlink); ct4.unblock lifts "
                  "the block");
    } else if (r.decision == core::Decision::NoCandidates) {
        // DRIVER_NO_CANDIDATES: what was searched, so that nobody needs the
        // normalizers to find out why the person has no driver.
        const core::CandidateKeys &k = m.persons.at(person).keys;
        w.key("searched");
        w.begin_object();
        string_list(w, "phones", k.phones);
        string_list(w, "licenses", k.licenses);
        string_list(w, "plates", k.plates);
        w.end_object();
        if (!r.blocked_ranked.empty()) driver_candidates(w, "blocked", m, r.blocked_ranked, real);
        str_field(
            w, "reason",
            r.blocked_ranked.empty()
                ? "no raw.drivers row shares a phone, license or plate with the person"
                : "the only drivers sharing a key were unlinked from this person (ct4.unlink)");
    }
    w.end_object();
}

}  // namespace ct4::identity
