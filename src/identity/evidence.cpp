#include "identity/evidence.hpp"

#include "jobs/job_run.hpp"

#include <cstdio>

namespace ct4::identity {

using jobs::json_string;

namespace {

// Candidates listed in details; the total is given too.
constexpr size_t kMaxListed = 10;
// Unparsable raw text is quoted up to this many bytes (whole UTF-8 characters).
constexpr size_t kMaxQuoted = 40;

std::string num(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string opt(const std::optional<std::string> &v) {
    return v ? json_string(*v) : "null";
}

std::string quote_prefix(const std::string &s) {
    size_t n = std::min(s.size(), kMaxQuoted);
    while (n < s.size() && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) --n;
    return json_string(s.substr(0, n));
}

// How one key type compared: equal, different, or missing on a side.
const char *outcome(const std::optional<std::string> &mine, bool theirs, bool equal) {
    if (equal) return "equal";
    if (!mine || !theirs) return "missing";
    return "different";
}

std::string compared_json(const core::Keys &row, const KeyPresence &cand, const core::Score &s) {
    return std::string("{\"license\":\"") + outcome(row.license, cand.license, s.license) +
           "\",\"phone\":\"" + outcome(row.phone, cand.phone, s.phone) + "\",\"plate\":\"" +
           outcome(row.plate, cand.plate, s.plate) +
           "\",\"name\":{\"similarity\":" + num(s.name_similarity) +
           ",\"agreed\":" + (s.name ? "true" : "false") + "}}";
}

std::string candidate_json(int64_t person_key, const core::Score &s) {
    return "{\"person_key\":" + std::to_string(person_key) + ",\"score\":" + num(s.total) +
           ",\"rule\":" + json_string(core::match_rule(s)) +
           ",\"name_similarity\":" + num(s.name_similarity) + "}";
}

std::string missing_json(const core::Keys &k) {
    std::string out = "[";
    const std::optional<std::string> *vals[4] = {&k.phone, &k.license, &k.plate, &k.name};
    bool first = true;
    for (int t = 0; t < 4; t++) {
        if (*vals[t]) continue;
        if (!first) out += ",";
        out += json_string(kKeyTypeNames[t]);
        first = false;
    }
    return out + "]";
}

}  // namespace

std::string keys_json(const core::Keys &k) {
    return "{\"phone\":" + opt(k.phone) + ",\"license\":" + opt(k.license) +
           ",\"plate\":" + opt(k.plate) + ",\"name\":" + opt(k.name) + "}";
}

std::string lead_link_evidence(const Matcher &m, const Lead &l, const PersonKeyOf &real) {
    std::string th = num(m.settings().link_threshold);
    if (l.new_person)
        return "{\"keys\":" + keys_json(l.keys) +
               ",\"candidates\":0,\"reason\":\"no person shares phone, license or plate\"}";
    const core::Scored &best = l.ranked[0];
    std::string out = "{\"keys\":" + keys_json(l.keys) +
                      ",\"person_key\":" + std::to_string(real(best.index)) +
                      ",\"score\":" + num(best.score.total) + ",\"threshold\":" + th +
                      ",\"compared\":" + compared_json(l.keys, l.linked_keys, best.score) +
                      ",\"candidates\":" + std::to_string(l.ranked.size());
    if (l.ranked.size() > 1)
        out += ",\"runner_up\":" + candidate_json(real(l.ranked[1].index), l.ranked[1].score);
    return out + "}";
}

std::string driver_link_evidence(const Matcher &m, int64_t person, const DriverResult &r,
                                 const PersonKeyOf &real) {
    const core::Scored &best = r.ranked[0];
    const Driver &d = m.drivers[(size_t)best.index];
    std::string out = "{\"driver_keys\":" + keys_json(d.keys) +
                      ",\"person_key\":" + std::to_string(real(person)) +
                      ",\"score\":" + num(best.score.total) +
                      ",\"threshold\":" + num(m.settings().link_threshold) +
                      ",\"compared\":" + compared_json(d.keys, r.person_keys, best.score) +
                      ",\"candidates\":" + std::to_string(r.ranked.size());
    if (r.ranked.size() > 1) {
        const auto &ru = r.ranked[1];
        out += ",\"runner_up\":{\"driver_id\":" + json_string(m.drivers[(size_t)ru.index].id) +
               ",\"score\":" + num(ru.score.total) + "}";
    }
    return out + "}";
}

std::string lead_unmatched_details(const Matcher &m, const Lead &l, const PersonKeyOf &real) {
    std::string out = "{\"keys\":" + keys_json(l.keys);
    switch (l.decision) {
        case core::Decision::Ambiguous:
        case core::Decision::WeakMatch: {
            out += ",\"threshold\":" + num(m.settings().link_threshold) + ",\"candidates\":[";
            for (size_t i = 0; i < l.ranked.size() && i < kMaxListed; i++) {
                if (i) out += ",";
                out += candidate_json(real(l.ranked[i].index), l.ranked[i].score);
            }
            out += "],\"candidates_total\":" + std::to_string(l.ranked.size());
            break;
        }
        case core::Decision::InvalidData: {
            out += ",\"unparsable\":{";
            bool first = true;
            for (const auto &f : core::unparsable_fields(l.raw, l.keys)) {
                const std::optional<std::string> &v = f == "phone"     ? l.raw.phone
                                                      : f == "license" ? l.raw.license
                                                      : f == "plate"   ? l.raw.plate
                                                                       : l.raw.full_name;
                if (!first) out += ",";
                first = false;
                out += json_string(f) + ":{\"text\":" + quote_prefix(*v) +
                       ",\"bytes\":" + std::to_string(v->size()) + "}";
            }
            out += "},\"missing\":" + missing_json(l.keys);
            break;
        }
        default: {
            const char *why = !l.keys.has_search_key() && !l.keys.name ? "no data"
                              : !(l.keys.phone || l.keys.license)
                                  ? "no valid phone or license to create a person from"
                                  : "no name to create a person from";
            out += ",\"missing\":" + missing_json(l.keys) + ",\"reason\":" + json_string(why);
        }
    }
    return out + "}";
}

std::string driver_unmatched_details(const Matcher &m, int64_t person, const DriverResult &r,
                                     const PersonKeyOf &real) {
    std::string out = "{\"person_key\":" + std::to_string(real(person)) +
                      ",\"threshold\":" + num(m.settings().link_threshold) + ",\"candidates\":[";
    for (size_t i = 0; i < r.ranked.size() && i < kMaxListed; i++) {
        const Driver &d = m.drivers[(size_t)r.ranked[i].index];
        if (i) out += ",";
        out += "{\"driver_id\":" + json_string(d.id) +
               ",\"score\":" + num(r.ranked[i].score.total) +
               ",\"rule\":" + json_string(core::match_rule(r.ranked[i].score)) +
               ",\"linked_person_key\":" +
               (d.linked_person ? std::to_string(real(d.linked_person)) : "null") + "}";
    }
    return out + "],\"candidates_total\":" + std::to_string(r.ranked.size()) + "}";
}

}  // namespace ct4::identity
