#include "core/match.hpp"

#include "core/name_tokens.hpp"
#include "core/normalize.hpp"

#include <algorithm>

namespace ct4::core {

namespace {

bool has_text(const std::optional<std::string> &v) {
    if (!v) return false;
    for (unsigned char c : *v)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return true;
    return false;
}

bool contains(const std::vector<std::string> &v, const std::optional<std::string> &k) {
    return k && std::find(v.begin(), v.end(), *k) != v.end();
}

void rank(std::vector<Scored> &ranked) {
    std::sort(ranked.begin(), ranked.end(), [](const Scored &a, const Scored &b) {
        if (a.score.total != b.score.total) return a.score.total > b.score.total;
        return a.index < b.index;
    });
}

// Shared by both steps: Link, Ambiguous, WeakMatch on a non-empty list.
Decision decide_ranked(const std::vector<Scored> &ranked, const MatchSettings &s) {
    double best = ranked[0].score.total;
    if (best < s.link_threshold) return Decision::WeakMatch;
    if (ranked.size() > 1 && ranked[1].score.total == best) return Decision::Ambiguous;
    // A relative sharing the family's phone and car: for review, never linked.
    if (!ranked[0].score.can_link()) return Decision::WeakMatch;
    return Decision::Link;
}

}  // namespace

Keys normalize_keys(const RawFields &raw) {
    Keys k;
    auto capped = [](std::optional<std::string> v, size_t max) {
        return v && v->size() <= max ? v : std::nullopt;
    };
    if (raw.phone) k.phone = normalize_phone(*raw.phone);
    if (raw.license) k.license = capped(normalize_license(*raw.license), kMaxCodeKeyBytes);
    if (raw.plate) k.plate = capped(normalize_plate(*raw.plate), kMaxCodeKeyBytes);
    if (raw.full_name) k.name = capped(normalize_name(*raw.full_name), kMaxNameKeyBytes);
    return k;
}

bool has_key_text(const RawFields &raw) {
    return has_text(raw.phone) || has_text(raw.license) || has_text(raw.plate);
}

std::vector<std::string> unparsable_fields(const RawFields &raw, const Keys &keys) {
    std::vector<std::string> out;
    if (has_text(raw.phone) && !keys.phone) out.emplace_back("phone");
    if (has_text(raw.license) && !keys.license) out.emplace_back("license");
    if (has_text(raw.plate) && !keys.plate) out.emplace_back("plate");
    if (has_text(raw.full_name) && !keys.name) out.emplace_back("name");
    return out;
}

Score score_candidate(const Keys &row, const CandidateKeys &cand, const MatchSettings &s) {
    Score r;
    r.license = contains(cand.licenses, row.license);
    r.phone = contains(cand.phones, row.phone);
    r.plate = contains(cand.plates, row.plate);
    if (row.name && !cand.names.empty()) {
        // The name agrees when one of the candidate's names is similar as a
        // whole and its tokens pair up; it conflicts when no name's tokens
        // pair up (a brother: "juan" has no counterpart in "jose ...").
        const std::string *agreeing = nullptr, *closest = nullptr;
        bool pairable = false;
        const size_t n = std::min(cand.names.size(), kMaxNamesCompared);
        for (size_t i = 0; i < n; i++) {
            const std::string &name = cand.names[i];
            const double sim = normalized_name_similarity(*row.name, name);
            if (!closest || sim > r.name_similarity) {
                r.name_similarity = sim;
                closest = &name;
            }
            // Token pairing only while it can change the outcome.
            if (agreeing) continue;
            const bool tokens = name_tokens_agree(*row.name, name, s.name_token_similarity_min);
            pairable |= tokens;
            if (tokens && sim >= s.name_similarity_min) agreeing = &name;
        }
        r.names_capped = cand.names_capped || cand.names.size() > n;
        r.name = agreeing != nullptr;
        r.name_conflict = !pairable;
        r.name_against = agreeing ? *agreeing : *closest;
    }
    if (r.license) r.total += s.score_license;
    if (r.phone) r.total += s.score_phone;
    if (r.plate) r.total += s.score_plate;
    if (r.name) r.total += s.score_name;
    return r;
}

std::string match_rule(const Score &s) {
    std::string out;
    auto add = [&](bool on, const char *name) {
        if (!on) return;
        if (!out.empty()) out += '+';
        out += name;
    };
    add(s.license, "LICENSE");
    add(s.phone, "PHONE");
    add(s.plate, "PLATE");
    add(s.name, "NAME");
    return out.empty() ? "NONE" : out;
}

const char *decision_code(Decision d) {
    switch (d) {
        case Decision::Link:
            return "LINKED";
        case Decision::Ambiguous:
            return "AMBIGUOUS";
        case Decision::WeakMatch:
            return "WEAK_MATCH";
        case Decision::NewPerson:
            return "NEW_PERSON";
        case Decision::NoCandidates:
            return "NO_CANDIDATES";
        case Decision::InvalidData:
            return "INVALID_DATA";
    }
    return "UNKNOWN";
}

Decision decide_identity(const RawFields &raw, const Keys &keys, std::vector<Scored> &ranked,
                         const MatchSettings &s) {
    if (!ranked.empty()) {
        rank(ranked);
        return decide_ranked(ranked, s);
    }
    if ((keys.phone || keys.license) && keys.name) return Decision::NewPerson;
    if (!keys.has_search_key() && has_key_text(raw)) return Decision::InvalidData;
    return Decision::NoCandidates;
}

Decision decide_driver(std::vector<Scored> &ranked, const MatchSettings &s) {
    if (ranked.empty()) return Decision::NoCandidates;
    rank(ranked);
    return decide_ranked(ranked, s);
}

}  // namespace ct4::core
