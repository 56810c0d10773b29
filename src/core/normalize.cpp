// Normalization rules for identity fields. See normalize.hpp for the API.
//
// Name normalization, letter decision (product spec):
//   * Input is UTF-8. Ill-formed sequences (stray continuation bytes,
//     overlong forms, surrogates, > U+10FFFF, truncated sequences) are
//     dropped byte by byte: they neither split nor join tokens.
//   * ASCII letters are lower-cased. Latin-1 Supplement and Latin
//     Extended-A letters (U+00C0..U+017F) are folded to base ASCII letters
//     (á->a, ñ->n, ç->c, ø->o, ß->ss, æ->ae, œ->oe, þ->th, ĳ->ij ...).
//   * Letters of these common scripts are kept as they are, with Greek and
//     Cyrillic capitals lower-cased: Greek U+0370..U+03FF, Cyrillic
//     U+0400..U+04FF, Hebrew U+05D0..U+05EA (+ Yiddish ligatures
//     U+05EF..U+05F2), Arabic letters in U+0600..U+06FF, Hiragana/Katakana
//     U+3040..U+30FF, CJK U+4E00..U+9FFF, Hangul U+AC00..U+D7A3. No accent
//     folding is done inside these scripts.
//   * Combining marks (U+0300..U+036F and the script-specific marks of
//     Cyrillic, Hebrew, Arabic, Kana, plus the generic combining blocks),
//     Arabic tatweel, soft hyphen, ZWJ/ZWNJ, word joiner, BOM and variation
//     selectors are dropped, so decomposed "a"+U+0301 folds like "á".
//   * Latin letters with diacritics of Latin Extended-B (Romanian ș ț,
//     Vietnamese ơ ư, pinyin ǎ ǐ ǒ ǔ ...) and Latin Extended Additional
//     (Vietnamese ạ ả ấ ễ ộ ự ỹ ...) fold to base letters too, so
//     "Nguyễn" reads "nguyen" rather than splitting into tokens.
//   * Everything else (digits, punctuation, symbols, emoji, other scripts)
//     is a token separator.
//   * Tokens are sorted in byte order and joined with one space, so word
//     order ("Pérez García" vs "García Pérez") does not matter.

#include "core/normalize.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ct4::core {

namespace {

// ---------------------------------------------------------------- UTF-8

// Decodes one well-formed UTF-8 sequence at p (p < end). Returns the number
// of bytes consumed, or 0 if the sequence at p is ill-formed (the caller
// then skips exactly one byte; continuation bytes are never valid leads, so
// this drops each maximal ill-formed subpart entirely).
inline size_t decode_utf8(const unsigned char *p, const unsigned char *end, char32_t &cp) {
    const unsigned char b0 = p[0];
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    const size_t avail = static_cast<size_t>(end - p);
    auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (avail < 2 || !cont(p[1])) return 0;
        cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (avail < 3 || !cont(p[1]) || !cont(p[2])) return 0;
        // Reject overlongs (E0 80..9F) and surrogates (ED A0..BF).
        if (b0 == 0xE0 && p[1] < 0xA0) return 0;
        if (b0 == 0xED && p[1] > 0x9F) return 0;
        cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (avail < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
        // Reject overlongs (F0 80..8F) and > U+10FFFF (F4 90..BF).
        if (b0 == 0xF0 && p[1] < 0x90) return 0;
        if (b0 == 0xF4 && p[1] > 0x8F) return 0;
        cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
             (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    return 0;  // 80..C1, F5..FF: never a valid lead byte
}

inline void append_utf8(std::string &out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// ---------------------------------------------------- Latin folding table

constexpr char32_t kFoldLo = 0xC0;
constexpr char32_t kFoldHi = 0x17F;

struct FoldRange {
    char32_t lo, hi;
    const char *to;
};

// U+00C0..U+017F; gaps (U+00D7 ×, U+00F7 ÷) are separators.
constexpr FoldRange kFoldRanges[] = {
    {0xC0, 0xC5, "a"},   {0xC6, 0xC6, "ae"},   {0xC7, 0xC7, "c"},   {0xC8, 0xCB, "e"},
    {0xCC, 0xCF, "i"},   {0xD0, 0xD0, "d"},    {0xD1, 0xD1, "n"},   {0xD2, 0xD6, "o"},
    {0xD8, 0xD8, "o"},   {0xD9, 0xDC, "u"},    {0xDD, 0xDD, "y"},   {0xDE, 0xDE, "th"},
    {0xDF, 0xDF, "ss"},  {0xE0, 0xE5, "a"},    {0xE6, 0xE6, "ae"},  {0xE7, 0xE7, "c"},
    {0xE8, 0xEB, "e"},   {0xEC, 0xEF, "i"},    {0xF0, 0xF0, "d"},   {0xF1, 0xF1, "n"},
    {0xF2, 0xF6, "o"},   {0xF8, 0xF8, "o"},    {0xF9, 0xFC, "u"},   {0xFD, 0xFD, "y"},
    {0xFE, 0xFE, "th"},  {0xFF, 0xFF, "y"},    {0x100, 0x105, "a"}, {0x106, 0x10D, "c"},
    {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},  {0x11C, 0x123, "g"}, {0x124, 0x127, "h"},
    {0x128, 0x131, "i"}, {0x132, 0x133, "ij"}, {0x134, 0x135, "j"}, {0x136, 0x138, "k"},
    {0x139, 0x142, "l"}, {0x143, 0x14B, "n"},  {0x14C, 0x151, "o"}, {0x152, 0x153, "oe"},
    {0x154, 0x159, "r"}, {0x15A, 0x161, "s"},  {0x162, 0x167, "t"}, {0x168, 0x173, "u"},
    {0x174, 0x175, "w"}, {0x176, 0x178, "y"},  {0x179, 0x17E, "z"}, {0x17F, 0x17F, "s"},
};

struct FoldTable {
    const char *to[kFoldHi - kFoldLo + 1];
};

// Direct index table built at compile time: one load per folded letter.
constexpr FoldTable make_fold_table() {
    FoldTable t{};
    for (const auto &r : kFoldRanges)
        for (char32_t c = r.lo; c <= r.hi; ++c) t.to[c - kFoldLo] = r.to;
    return t;
}

constexpr FoldTable kFold = make_fold_table();

static_assert(kFold.to[0xE1 - kFoldLo][0] == 'a', "á");
static_assert(kFold.to[0xD7 - kFoldLo] == nullptr, "× is a separator");
static_assert(kFold.to[0x17F - kFoldLo][0] == 's', "ſ");

// Latin Extended-B and Latin Extended Additional letters with diacritics,
// as sorted ranges; rare in the data, so a linear scan is enough.
constexpr FoldRange kFoldExtra[] = {
    {0x180, 0x180, "b"},   {0x187, 0x188, "c"},   {0x189, 0x18C, "d"},    {0x191, 0x192, "f"},
    {0x193, 0x193, "g"},   {0x197, 0x197, "i"},   {0x198, 0x199, "k"},    {0x19A, 0x19A, "l"},
    {0x19D, 0x19E, "n"},   {0x19F, 0x1A1, "o"},   {0x1A4, 0x1A5, "p"},    {0x1AB, 0x1AE, "t"},
    {0x1AF, 0x1B0, "u"},   {0x1B2, 0x1B2, "v"},   {0x1B3, 0x1B4, "y"},    {0x1B5, 0x1B6, "z"},
    {0x1CD, 0x1CE, "a"},   {0x1CF, 0x1D0, "i"},   {0x1D1, 0x1D2, "o"},    {0x1D3, 0x1DC, "u"},
    {0x1DE, 0x1E1, "a"},   {0x1E2, 0x1E3, "ae"},  {0x1E4, 0x1E7, "g"},    {0x1E8, 0x1E9, "k"},
    {0x1EA, 0x1ED, "o"},   {0x1F0, 0x1F0, "j"},   {0x1F4, 0x1F5, "g"},    {0x1F8, 0x1F9, "n"},
    {0x1FA, 0x1FB, "a"},   {0x1FC, 0x1FD, "ae"},  {0x1FE, 0x1FF, "o"},    {0x200, 0x203, "a"},
    {0x204, 0x207, "e"},   {0x208, 0x20B, "i"},   {0x20C, 0x20F, "o"},    {0x210, 0x213, "r"},
    {0x214, 0x217, "u"},   {0x218, 0x219, "s"},   {0x21A, 0x21B, "t"},    {0x21E, 0x21F, "h"},
    {0x226, 0x227, "a"},   {0x228, 0x229, "e"},   {0x22A, 0x231, "o"},    {0x232, 0x233, "y"},
    {0x1E00, 0x1E01, "a"}, {0x1E02, 0x1E07, "b"}, {0x1E08, 0x1E09, "c"},  {0x1E0A, 0x1E13, "d"},
    {0x1E14, 0x1E1D, "e"}, {0x1E1E, 0x1E1F, "f"}, {0x1E20, 0x1E21, "g"},  {0x1E22, 0x1E2B, "h"},
    {0x1E2C, 0x1E2F, "i"}, {0x1E30, 0x1E35, "k"}, {0x1E36, 0x1E3D, "l"},  {0x1E3E, 0x1E43, "m"},
    {0x1E44, 0x1E4B, "n"}, {0x1E4C, 0x1E53, "o"}, {0x1E54, 0x1E57, "p"},  {0x1E58, 0x1E5F, "r"},
    {0x1E60, 0x1E69, "s"}, {0x1E6A, 0x1E71, "t"}, {0x1E72, 0x1E7B, "u"},  {0x1E7C, 0x1E7F, "v"},
    {0x1E80, 0x1E89, "w"}, {0x1E8A, 0x1E8D, "x"}, {0x1E8E, 0x1E8F, "y"},  {0x1E90, 0x1E95, "z"},
    {0x1E96, 0x1E96, "h"}, {0x1E97, 0x1E97, "t"}, {0x1E98, 0x1E98, "w"},  {0x1E99, 0x1E99, "y"},
    {0x1E9A, 0x1E9A, "a"}, {0x1E9B, 0x1E9B, "s"}, {0x1E9E, 0x1E9E, "ss"}, {0x1EA0, 0x1EB7, "a"},
    {0x1EB8, 0x1EC7, "e"}, {0x1EC8, 0x1ECB, "i"}, {0x1ECC, 0x1EE3, "o"},  {0x1EE4, 0x1EF1, "u"},
    {0x1EF2, 0x1EF9, "y"},
};

const char *fold_extra(char32_t c) {
    if (c < 0x180 || c > 0x1EF9) return nullptr;
    for (const auto &r : kFoldExtra) {
        if (c < r.lo) return nullptr;
        if (c <= r.hi) return r.to;
    }
    return nullptr;
}

// ------------------------------------------------- non-Latin classification

enum class Cls { Sep, Drop, Keep };

inline bool in(char32_t c, char32_t lo, char32_t hi) {
    return c >= lo && c <= hi;
}

// Classifies code points >= U+0180 (ASCII and Latin-1/Ext-A handled by the
// caller).
Cls classify(char32_t c) {
    if (c < 0x370) return in(c, 0x300, 0x36F) ? Cls::Drop : Cls::Sep;
    if (c <= 0x3FF) {  // Greek: separators are signs, punctuation, unassigned
        const bool sep = in(c, 0x374, 0x375) || in(c, 0x378, 0x379) || c == 0x37E ||
                         in(c, 0x380, 0x385) || c == 0x387 || c == 0x38B || c == 0x38D ||
                         c == 0x3A2 || c == 0x3F6;
        return sep ? Cls::Sep : Cls::Keep;
    }
    if (c <= 0x4FF) {  // Cyrillic
        if (c == 0x482) return Cls::Sep;
        if (in(c, 0x483, 0x489)) return Cls::Drop;
        return Cls::Keep;
    }
    if (c < 0x591) return Cls::Sep;
    if (c <= 0x5FF) {  // Hebrew: points and cantillation are marks
        if (in(c, 0x591, 0x5BD) || c == 0x5BF || in(c, 0x5C1, 0x5C2) || in(c, 0x5C4, 0x5C5) ||
            c == 0x5C7)
            return Cls::Drop;
        if (in(c, 0x5D0, 0x5EA) || in(c, 0x5EF, 0x5F2)) return Cls::Keep;
        return Cls::Sep;
    }
    if (c <= 0x6FF) {  // Arabic: harakat and tatweel are dropped
        if (in(c, 0x610, 0x61A) || c == 0x640 || in(c, 0x64B, 0x65F) || c == 0x670 ||
            in(c, 0x6D6, 0x6DC) || in(c, 0x6DF, 0x6E4) || in(c, 0x6E7, 0x6E8) ||
            in(c, 0x6EA, 0x6ED))
            return Cls::Drop;
        if (in(c, 0x620, 0x64A) || in(c, 0x66E, 0x66F) || in(c, 0x671, 0x6D3) || c == 0x6D5 ||
            in(c, 0x6E5, 0x6E6) || in(c, 0x6EE, 0x6EF) || in(c, 0x6FA, 0x6FC) || c == 0x6FF)
            return Cls::Keep;
        return Cls::Sep;
    }
    if (in(c, 0x3040, 0x30FF)) {  // Kana; U+30FB (・) separates names
        if (in(c, 0x3099, 0x309A)) return Cls::Drop;
        if (in(c, 0x3041, 0x3096) || in(c, 0x309D, 0x309F) || in(c, 0x30A1, 0x30FA) ||
            in(c, 0x30FC, 0x30FF))
            return Cls::Keep;
        return Cls::Sep;
    }
    if (in(c, 0x4E00, 0x9FFF) || in(c, 0xAC00, 0xD7A3)) return Cls::Keep;
    // Invisible format characters and generic combining blocks.
    if (in(c, 0x1AB0, 0x1AFF) || in(c, 0x1DC0, 0x1DFF) || in(c, 0x200C, 0x200D) || c == 0x2060 ||
        in(c, 0x20D0, 0x20FF) || in(c, 0xFE00, 0xFE0F) || in(c, 0xFE20, 0xFE2F) || c == 0xFEFF ||
        in(c, 0xE0000, 0xE007F) || in(c, 0xE0100, 0xE01EF))
        return Cls::Drop;
    return Cls::Sep;
}

// Lower-cases Greek and Cyrillic capitals; other kept code points unchanged.
char32_t lower_kept(char32_t c) {
    if (c < 0x370 || c > 0x4FF) return c;
    if (c <= 0x3FF) {                              // Greek
        if (in(c, 0x391, 0x3A9)) return c + 0x20;  // U+03A2 is never kept
        if (c == 0x386) return 0x3AC;
        if (in(c, 0x388, 0x38A)) return c + 0x25;
        if (c == 0x38C) return 0x3CC;
        if (in(c, 0x38E, 0x38F)) return c + 0x3F;
        if ((in(c, 0x370, 0x373) || c == 0x376 || in(c, 0x3D8, 0x3EF)) && (c % 2) == 0)
            return c + 1;
        switch (c) {
            case 0x37F:
                return 0x3F3;
            case 0x3CF:
                return 0x3D7;
            case 0x3F4:
                return 0x3B8;
            case 0x3F7:
                return 0x3F8;
            case 0x3F9:
                return 0x3F2;
            case 0x3FA:
                return 0x3FB;
            case 0x3FD:
            case 0x3FE:
            case 0x3FF:
                return c - 0x82;
            default:
                return c;
        }
    }
    // Cyrillic
    if (in(c, 0x400, 0x40F)) return c + 0x50;
    if (in(c, 0x410, 0x42F)) return c + 0x20;
    if (c == 0x4C0) return 0x4CF;
    if (in(c, 0x4C1, 0x4CE)) return (c % 2) == 1 ? c + 1 : c;
    if ((in(c, 0x460, 0x481) || in(c, 0x48A, 0x4BF) || in(c, 0x4D0, 0x4FF)) && (c % 2) == 0)
        return c + 1;
    return c;
}

// ------------------------------------------------------- alnum codes

// Shared licence/plate rule. One pass, one allocation.
std::optional<std::string> normalize_code(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        char c = ch;
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c == 'O') {
            c = '0';
        } else if (c == 'I') {
            c = '1';
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            continue;
        }
        out.push_back(c);
    }
    if (out.size() < 5) return std::nullopt;
    return out;
}

// ---------------------------------------------------------- Jaro-Winkler

template <typename C>
bool less_seq(const C *a, size_t la, const C *b, size_t lb) {
    return std::lexicographical_compare(a, a + la, b, b + lb);
}

template <typename C>
double jw_impl(const C *a, size_t la, const C *b, size_t lb) {
    if (la == 0 || lb == 0) return 0.0;
    // Greedy matching is order dependent; a canonical argument order makes
    // the result exactly symmetric.
    if (la > lb || (la == lb && less_seq(b, lb, a, la))) {
        std::swap(a, b);
        std::swap(la, lb);
    }
    const size_t half = std::max(la, lb) / 2;
    const size_t window = half > 0 ? half - 1 : 0;

    // Match flags live on the stack for the usual short names.
    unsigned char stack_flags[256];
    std::vector<unsigned char> heap_flags;
    unsigned char *am = stack_flags;
    if (la + lb > sizeof stack_flags) {
        heap_flags.assign(la + lb, 0);
        am = heap_flags.data();
    } else {
        std::fill(stack_flags, stack_flags + la + lb, 0);
    }
    unsigned char *bm = am + la;

    size_t m = 0;
    for (size_t i = 0; i < la; ++i) {
        const size_t lo = i > window ? i - window : 0;
        const size_t hi = std::min(i + window + 1, lb);
        for (size_t j = lo; j < hi; ++j) {
            if (!bm[j] && a[i] == b[j]) {
                am[i] = bm[j] = 1;
                ++m;
                break;
            }
        }
    }
    if (m == 0) return 0.0;

    size_t half_transpositions = 0;
    for (size_t i = 0, k = 0; i < la; ++i) {
        if (!am[i]) continue;
        while (!bm[k]) ++k;
        if (a[i] != b[k]) ++half_transpositions;
        ++k;
    }
    // Integer halving, as in Winkler's strcmp95 and common libraries.
    const size_t t = half_transpositions / 2;

    const double dm = static_cast<double>(m);
    const double jaro = (dm / static_cast<double>(la) + dm / static_cast<double>(lb) +
                         static_cast<double>(m - t) / dm) /
                        3.0;
    if (jaro <= 0.7) return jaro;

    size_t prefix = 0;
    const size_t max_prefix = std::min<size_t>(4, la);
    while (prefix < max_prefix && a[prefix] == b[prefix]) ++prefix;
    return jaro + static_cast<double>(prefix) * 0.1 * (1.0 - jaro);
}

bool is_ascii(std::string_view s) {
    for (const char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// Input is our own normalized (well-formed) UTF-8.
std::u32string to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const auto *end = p + s.size();
    while (p < end) {
        char32_t cp = 0;
        const size_t n = decode_utf8(p, end, cp);
        if (n == 0) {
            ++p;
            continue;
        }
        out.push_back(cp);
        p += n;
    }
    return out;
}

}  // namespace

std::optional<std::string> normalize_phone(std::string_view s) {
    // Longest acceptable input: "00" + 15 digits.
    constexpr size_t kMaxDigits = 17;
    std::string d;
    d.reserve(kMaxDigits);
    for (const char c : s) {
        if (c < '0' || c > '9') continue;
        if (d.size() == kMaxDigits) return std::nullopt;  // too long whatever follows
        d.push_back(c);
    }
    const size_t off = (d.size() >= 2 && d[0] == '0' && d[1] == '0') ? 2 : 0;
    const size_t n = d.size() - off;
    if (n == 9) {
        d.replace(0, off, "51");  // fits in the reserved capacity
        return d;
    }
    if (n < 11 || n > 15) return std::nullopt;
    d.erase(0, off);
    return d;
}

std::optional<std::string> normalize_license(std::string_view s) {
    return normalize_code(s);
}

std::optional<std::string> normalize_plate(std::string_view s) {
    return normalize_code(s);
}

std::optional<std::string> normalize_name(std::string_view s) {
    // Folding never grows the text (every replacement is at most as long as
    // its UTF-8 source), so one reservation suffices.
    std::string folded;
    folded.reserve(s.size());
    auto sep = [&folded] {
        if (!folded.empty() && folded.back() != ' ') folded.push_back(' ');
    };

    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const auto *end = p + s.size();
    while (p < end) {
        char32_t c = 0;
        const size_t n = decode_utf8(p, end, c);
        if (n == 0) {  // ill-formed byte: dropped
            ++p;
            continue;
        }
        p += n;
        if (c < 0x80) {
            if (c >= 'a' && c <= 'z') {
                folded.push_back(static_cast<char>(c));
            } else if (c >= 'A' && c <= 'Z') {
                folded.push_back(static_cast<char>(c - 'A' + 'a'));
            } else {
                sep();
            }
        } else if (c >= kFoldLo && c <= kFoldHi) {
            if (const char *to = kFold.to[c - kFoldLo]) {
                folded += to;
            } else {
                sep();
            }
        } else if (c < kFoldLo) {
            if (c != 0xAD) sep();  // soft hyphen is invisible: dropped
        } else if (const char *to = fold_extra(c)) {
            folded += to;
        } else {
            switch (classify(c)) {
                case Cls::Keep:
                    append_utf8(folded, lower_kept(c));
                    break;
                case Cls::Drop:
                    break;
                case Cls::Sep:
                    sep();
                    break;
            }
        }
    }
    if (!folded.empty() && folded.back() == ' ') folded.pop_back();
    if (folded.empty()) return std::nullopt;

    // Split into tokens; names rarely have more than a handful, so views
    // usually live on the stack.
    constexpr size_t kSmall = 16;
    std::string_view small[kSmall];
    std::vector<std::string_view> big;
    size_t count = 0;
    bool sorted = true;
    const std::string_view all(folded);
    size_t start = 0;
    while (start <= all.size()) {
        size_t stop = all.find(' ', start);
        if (stop == std::string_view::npos) stop = all.size();
        const std::string_view tok = all.substr(start, stop - start);
        const std::string_view prev = count == 0        ? std::string_view()
                                      : count <= kSmall ? small[count - 1]
                                                        : big.back();
        if (count > 0 && tok < prev) sorted = false;
        if (count < kSmall) {
            small[count] = tok;
        } else {
            if (count == kSmall) big.assign(small, small + kSmall);
            big.push_back(tok);
        }
        ++count;
        start = stop + 1;
    }
    if (sorted) return folded;

    std::string_view *first = count <= kSmall ? small : big.data();
    std::string_view *last = first + count;
    std::sort(first, last);  // string_view compares bytes as unsigned char
    std::string out;
    out.reserve(folded.size());
    for (std::string_view *t = first; t != last; ++t) {
        if (t != first) out.push_back(' ');
        out.append(t->data(), t->size());
    }
    return out;
}

double jaro_winkler(const std::u32string &a, const std::u32string &b) {
    return jw_impl(a.data(), a.size(), b.data(), b.size());
}

double normalized_name_similarity(std::string_view na, std::string_view nb) {
    if (na.empty() || nb.empty()) return 0.0;
    // ASCII bytes are code points: skip the UTF-32 conversion.
    if (is_ascii(na) && is_ascii(nb)) {
        return jw_impl(reinterpret_cast<const unsigned char *>(na.data()), na.size(),
                       reinterpret_cast<const unsigned char *>(nb.data()), nb.size());
    }
    const std::u32string ua = to_u32(na);
    const std::u32string ub = to_u32(nb);
    return jw_impl(ua.data(), ua.size(), ub.data(), ub.size());
}

std::string_view compared_name(std::string_view n) {
    if (n.size() <= kMaxComparedNameBytes) return n;
    size_t k = kMaxComparedNameBytes;
    while (k > 0 && ((unsigned char)n[k] & 0xC0) == 0x80) --k;  // whole characters
    return n.substr(0, k);
}

double name_similarity(std::string_view a, std::string_view b) {
    const auto na = normalize_name(a);
    if (!na) return 0.0;
    const auto nb = normalize_name(b);
    if (!nb) return 0.0;
    return normalized_name_similarity(compared_name(*na), compared_name(*nb));
}

}  // namespace ct4::core
