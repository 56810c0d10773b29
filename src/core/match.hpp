// Identity matching rules of SPEC 4.2, pure C++ (no PostgreSQL header):
// a source row's normalized keys, the score of one candidate (a person or a
// driver) against them, the match_rule name, and the decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ct4::core {

// The weights and threshold; the job reads them from ct4.settings.
struct MatchSettings {
    double score_license = 4;
    double score_phone = 2;
    double score_plate = 1;
    double score_name = 1;
    double name_similarity_min = 0.85;
    double name_token_similarity_min = 0.90;  // a token's counterpart (core/name_tokens.hpp)
    double link_threshold = 3;
};

// Normalized keys of one source row (nullopt: missing or not normalizable).
struct Keys {
    std::optional<std::string> phone, license, plate, name;
    bool has_search_key() const { return phone || license || plate; }
};

// Raw text of a source row's identity fields (nullopt: SQL NULL).
struct RawFields {
    std::optional<std::string> full_name, phone, license, plate;
};

// No real license or plate is longer than 32 characters, nor a name than 200
// bytes: longer values are garbage (and would not fit a btree index entry), so
// they count as not normalizable.
constexpr size_t kMaxCodeKeyBytes = 32;
constexpr size_t kMaxNameKeyBytes = 200;
Keys normalize_keys(const RawFields &raw);

// True when phone, license or plate carries text other than white space:
// with no valid key, such a row is INVALID_DATA rather than NO_CANDIDATES.
bool has_key_text(const RawFields &raw);
// Names of the fields that carry text but do not normalize ("phone", ...).
std::vector<std::string> unparsable_fields(const RawFields &raw, const Keys &keys);

// Every key a candidate is known by (a person: the keys of all its linked
// rows; a driver: its own row), normalized as normalize_keys makes them (the
// names are compared as they are). The best agreement over them counts.
struct CandidateKeys {
    std::vector<std::string> phones, licenses, plates, names;
    bool names_capped = false;  // it had more than kMaxNamesCompared names
};

struct Score {
    double total = 0;
    bool license = false, phone = false, plate = false, name = false;
    // SPEC 4.2 (amended): names on both sides and none of the candidate's
    // names has its tokens paired with the row's (core/name_tokens.hpp).
    // Such a candidate keeps its score but is linked only with an equal
    // license (can_link).
    bool name_conflict = false;
    double name_similarity = 0;  // best over the candidate's names
    // The candidate's name the name outcome is about (the agreeing one, else
    // the most similar one; empty when a side has no name): the evidence
    // spells out its token pairing.
    std::string name_against;
    bool names_capped = false;  // only kMaxNamesCompared of the candidate's names were compared
    bool can_link() const { return license || !name_conflict; }
};

// A candidate's names compared at most (a person may hold many, e.g. a
// license shared by hostile rows with distinct names): bounded work per
// candidate. The matcher keeps the first ones in byte order.
constexpr size_t kMaxNamesCompared = 8;
// A search key held by more persons (drivers, in the driver step) than this
// finds no candidates: a phone shared by a hundred persons is a placeholder
// or an attack, not a clue (like a stop word). It still scores for the
// candidates the row's other keys find. A row left with no candidate because
// of it is AMBIGUOUS (DRIVER_AMBIGUOUS), never a new person. So a row scores
// at most 3 x kMaxPersonsPerKey candidates.
constexpr size_t kMaxPersonsPerKey = 50;

Score score_candidate(const Keys &row, const CandidateKeys &cand, const MatchSettings &s);

// "LICENSE+PHONE+NAME": the keys that agreed, in weight order; "NONE" if none.
std::string match_rule(const Score &s);

struct Scored {
    int64_t index;  // the caller's handle of the candidate
    Score score;
};

enum class Decision { Link, Ambiguous, WeakMatch, NewPerson, NoCandidates, InvalidData };
const char *decision_code(Decision d);  // LINKED, AMBIGUOUS, WEAK_MATCH, NEW_PERSON, ...

// Sorts candidates best first (score desc, then handle asc, so the order is
// deterministic) and decides:
//  - best unique score >= threshold            -> Link (ranked[0])
//  - tie at the top >= threshold               -> Ambiguous
//  - candidates, none >= threshold             -> WeakMatch
//  - unique best whose name conflicts and whose
//    license is not equal (SPEC 4.2 amended)   -> WeakMatch
//  - no candidate: phone or license and name   -> NewPerson
//  - no candidate, key text none normalizes    -> InvalidData
//  - otherwise                                 -> NoCandidates
Decision decide_identity(const RawFields &raw, const Keys &keys, std::vector<Scored> &ranked,
                         const MatchSettings &s);

// The driver step: Link / Ambiguous / WeakMatch, or NoCandidates when the
// list is empty. Sorts `ranked` like decide_identity.
Decision decide_driver(std::vector<Scored> &ranked, const MatchSettings &s);

}  // namespace ct4::core
