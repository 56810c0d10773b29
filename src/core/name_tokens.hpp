// The token rule of SPEC 4.2 (amended): two names can be one person only
// when every token of the name with fewer tokens has its own counterpart in
// the other. Pure C++ (no PostgreSQL header), on names normalize_name
// already returned (tokens sorted, one space between them).
//
// The pairing is a maximum bipartite matching (not a greedy one), so each
// counterpart is used once: "jose jose" does not pair with "jose perez".
// Two tokens are counterparts when their Jaro-Winkler (code points) is at
// least `token_min`, or when one of them is a single letter (an initial) and
// the other starts with it.
#pragma once

#include "core/normalize.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ct4::core {

// Tokens beyond this many per name are not paired (no real name has that
// many; garbage must cost bounded work: 16 x 16 comparisons at most).
constexpr size_t kMaxPairedTokens = 16;

struct TokenPair {
    std::string token, counterpart;  // token of the shorter name, its counterpart
    double similarity = 0;           // Jaro-Winkler (1 for an initial's match)
};

struct TokenPairing {
    bool agree = false;
    std::vector<TokenPair> pairs;       // in the shorter name's token order
    std::vector<std::string> unpaired;  // tokens of the shorter name without counterpart
    std::vector<std::string> against;   // the other name's tokens
};

// True when the tokens pair up. No allocation for names of ASCII tokens.
// Both names must be non-empty normalized names.
bool name_tokens_agree(std::string_view a, std::string_view b, double token_min);

// The same decision with the pairing spelled out, for evidence. With equal
// token counts, `a` counts as the shorter name.
TokenPairing pair_name_tokens(std::string_view a, std::string_view b, double token_min);

}  // namespace ct4::core
