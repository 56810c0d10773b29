#include "core/name_tokens.hpp"

#include "core/normalize.hpp"

#include <cstdint>

namespace ct4::core {

namespace {

// Bytes of the UTF-8 character that starts with byte `b` (our own
// normalized, well-formed text).
size_t char_bytes(unsigned char b) {
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

struct Tokens {
    std::string_view t[kMaxPairedTokens];
    size_t n = 0;
};

Tokens split(std::string_view name) {
    Tokens out;
    size_t start = 0;
    while (start < name.size() && out.n < kMaxPairedTokens) {
        size_t stop = name.find(' ', start);
        if (stop == std::string_view::npos) stop = name.size();
        if (stop > start) out.t[out.n++] = name.substr(start, stop - start);
        start = stop + 1;
    }
    return out;
}

bool is_initial(std::string_view x) {
    return !x.empty() && x.size() == char_bytes((unsigned char)x[0]);
}

// Whether x and y are counterparts; `sim` gets their Jaro-Winkler.
bool counterparts(std::string_view x, std::string_view y, double token_min, double &sim) {
    if (x == y) {
        sim = 1.0;
        return true;
    }
    sim = normalized_name_similarity(x, y);
    if (sim >= token_min) return true;
    return (is_initial(x) && y.substr(0, x.size()) == x) ||
           (is_initial(y) && x.substr(0, y.size()) == y);
}

// Kuhn's augmenting paths on at most 16 x 16 tokens (bit masks).
struct Matching {
    uint32_t adj[kMaxPairedTokens] = {};  // adj[i] bit j: left i and right j are counterparts
    int right_of[kMaxPairedTokens];       // right j -> left i, or -1
    size_t nl = 0, nr = 0;

    bool augment(size_t i, uint32_t &seen) {
        for (size_t j = 0; j < nr; j++) {
            const uint32_t bit = UINT32_C(1) << j;
            if (!(adj[i] & bit) || (seen & bit)) continue;
            seen |= bit;
            if (right_of[j] < 0 || augment((size_t)right_of[j], seen)) {
                right_of[j] = (int)i;
                return true;
            }
        }
        return false;
    }
    // Size of a maximum matching.
    size_t solve() {
        for (size_t j = 0; j < nr; j++) right_of[j] = -1;
        size_t matched = 0;
        for (size_t i = 0; i < nl; i++) {
            uint32_t seen = 0;
            if (augment(i, seen)) matched++;
        }
        return matched;
    }
};

// The shorter name's tokens on the left (a's when the counts are equal).
struct Setup {
    Tokens left, right;
    bool swapped = false;
    Matching m;
};

void build(Setup &s, std::string_view a, std::string_view b, double token_min, double *sims) {
    Tokens ta = split(compared_name(a)), tb = split(compared_name(b));
    s.swapped = tb.n < ta.n;
    s.left = s.swapped ? tb : ta;
    s.right = s.swapped ? ta : tb;
    s.m.nl = s.left.n;
    s.m.nr = s.right.n;
    for (size_t i = 0; i < s.left.n; i++)
        for (size_t j = 0; j < s.right.n; j++) {
            double sim = 0;
            if (counterparts(s.left.t[i], s.right.t[j], token_min, sim))
                s.m.adj[i] |= UINT32_C(1) << j;
            if (sims) sims[i * kMaxPairedTokens + j] = sim;
        }
}

}  // namespace

bool name_tokens_agree(std::string_view a, std::string_view b, double token_min) {
    if (a.empty() || b.empty()) return false;
    if (a == b) return true;
    Setup s;
    build(s, a, b, token_min, nullptr);
    return s.m.nl > 0 && s.m.solve() == s.m.nl;
}

TokenPairing pair_name_tokens(std::string_view a, std::string_view b, double token_min) {
    TokenPairing out;
    if (a.empty() || b.empty()) return out;
    Setup s;
    double sims[kMaxPairedTokens * kMaxPairedTokens] = {};
    build(s, a, b, token_min, sims);
    const size_t matched = s.m.solve();
    out.agree = s.m.nl > 0 && matched == s.m.nl;
    int left_to[kMaxPairedTokens];
    for (size_t i = 0; i < s.m.nl; i++) left_to[i] = -1;
    for (size_t j = 0; j < s.m.nr; j++)
        if (s.m.right_of[j] >= 0) left_to[s.m.right_of[j]] = (int)j;
    for (size_t i = 0; i < s.m.nl; i++) {
        const std::string tok(s.left.t[i]);
        if (left_to[i] < 0) {
            out.unpaired.push_back(tok);
            continue;
        }
        const size_t j = (size_t)left_to[i];
        out.pairs.push_back({tok, std::string(s.right.t[j]), sims[i * kMaxPairedTokens + j]});
    }
    for (size_t j = 0; j < s.m.nr; j++) out.against.emplace_back(s.right.t[j]);
    return out;
}

}  // namespace ct4::core
