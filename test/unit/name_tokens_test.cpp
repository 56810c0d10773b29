// The token rule of SPEC 4.2 (amended): core/name_tokens.hpp, and how the
// matcher's score and decision use it (core/match.hpp).
#include "core/match.hpp"
#include "core/name_tokens.hpp"
#include "core/normalize.hpp"

#include <gtest/gtest.h>

using namespace ct4::core;

namespace {

constexpr double kMin = 0.90;

std::string norm(const char *raw) {
    return normalize_name(raw).value_or("");
}

bool agree(const char *a, const char *b) {
    return name_tokens_agree(norm(a), norm(b), kMin);
}

Keys row_keys(const char *name, const char *phone, const char *license, const char *plate) {
    RawFields r;
    if (name) r.full_name = name;
    if (phone) r.phone = phone;
    if (license) r.license = license;
    if (plate) r.plate = plate;
    return normalize_keys(r);
}

// A known person (or a driver, in the driver step) with the family's keys.
CandidateKeys known(const char *name, const char *phone, const char *license, const char *plate) {
    Keys k = row_keys(name, phone, license, plate);
    CandidateKeys c;
    if (k.phone) c.phones.push_back(*k.phone);
    if (k.license) c.licenses.push_back(*k.license);
    if (k.plate) c.plates.push_back(*k.plate);
    if (k.name) c.names.push_back(*k.name);
    return c;
}

Decision decide_one(const Keys &row, const CandidateKeys &cand) {
    MatchSettings s;
    std::vector<Scored> v{{1, score_candidate(row, cand, s)}};
    RawFields raw;
    return decide_identity(raw, row, v, s);
}

}  // namespace

TEST(NameTokens, EveryTokenOfTheShorterNamePairs) {
    TokenPairing p = pair_name_tokens(norm("Jose Perez"), norm("Jose Perez Quispe"), kMin);
    EXPECT_TRUE(p.agree);
    ASSERT_EQ(p.pairs.size(), 2u);
    EXPECT_EQ(p.pairs[0].token, "jose");
    EXPECT_EQ(p.pairs[0].counterpart, "jose");
    EXPECT_EQ(p.pairs[1].token, "perez");
    EXPECT_DOUBLE_EQ(p.pairs[1].similarity, 1.0);
    EXPECT_TRUE(p.unpaired.empty());
    EXPECT_EQ(p.against, (std::vector<std::string>{"jose", "perez", "quispe"}));
    // The shorter name is the one with fewer tokens, whichever side it is on.
    EXPECT_TRUE(agree("Jose Perez Quispe", "Jose Perez"));
    EXPECT_TRUE(pair_name_tokens(norm("Jose Perez Quispe"), norm("Jose Perez"), kMin).agree);
}

TEST(NameTokens, EachCounterpartIsUsedOnce) {
    // Both "jose" of the left want the one "jose" of the right.
    TokenPairing p = pair_name_tokens("jose jose", "jose perez", kMin);
    EXPECT_FALSE(p.agree);
    EXPECT_EQ(p.unpaired, (std::vector<std::string>{"jose"}));
    EXPECT_FALSE(name_tokens_agree("jose jose", "jose perez", kMin));
    EXPECT_TRUE(name_tokens_agree("jose jose", "jose jose perez", kMin));
}

TEST(NameTokens, MaximumMatchingNotGreedy) {
    // "m" (an initial) pairs with "mario" and "marta"; "mario" only with
    // "mario". A greedy pairing gives "m" the first, "mario" is left alone.
    ASSERT_LT(normalized_name_similarity("mario", "marta"), kMin);
    TokenPairing p = pair_name_tokens("m mario", "mario marta", kMin);
    EXPECT_TRUE(p.agree);
    ASSERT_EQ(p.pairs.size(), 2u);
    EXPECT_EQ(p.pairs[0].token, "m");
    EXPECT_EQ(p.pairs[0].counterpart, "marta");
    EXPECT_EQ(p.pairs[1].counterpart, "mario");
}

TEST(NameTokens, AccentsAndTokenOrderDoNotMatter) {
    EXPECT_TRUE(agree("Jos\xC3\xA9 P\xC3\xA9rez Quispe", "QUISPE, perez jose"));
    EXPECT_TRUE(agree("Mu\xC3\xB1oz Ana", "ana munoz"));
    EXPECT_TRUE(agree("Quispe Jsoe", "Jose Quispe"));
}

TEST(NameTokens, InitialsPairWithTheirLetter) {
    EXPECT_TRUE(agree("J Perez Quispe", "Jose Perez Quispe"));
    EXPECT_TRUE(agree("Jose P. Quispe", "Jose Perez Quispe"));
    EXPECT_FALSE(agree("L Perez Quispe", "Jose Perez Quispe"));
    EXPECT_TRUE(agree("j", "j"));
    // Non-ASCII initial: one code point of two bytes.
    EXPECT_TRUE(
        name_tokens_agree("\xD0\xB8 petrov", "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD petrov", kMin));
}

// The brother: the whole names are 0.851 alike (over 0.85), but
// "juan" has no counterpart in "jose ...".
TEST(NameTokens, BrotherSharingThePhoneIsAWeakMatch) {
    EXPECT_NEAR(name_similarity("Juan Perez Quispe", "Jose Perez Quispe"), 0.851261, 1e-6);
    TokenPairing p = pair_name_tokens(norm("Juan Perez Quispe"), norm("Jose Perez Quispe"), kMin);
    EXPECT_FALSE(p.agree);
    EXPECT_EQ(p.unpaired, (std::vector<std::string>{"juan"}));
    EXPECT_EQ(p.against, (std::vector<std::string>{"jose", "perez", "quispe"}));

    Keys brother = row_keys("Juan Perez Quispe", "987 654 321", nullptr, nullptr);
    CandidateKeys jose =
        known("Jos\xC3\xA9 P\xC3\xA9rez Quispe", "987654321", "Q12345678", nullptr);
    Score s = score_candidate(brother, jose, MatchSettings{});
    EXPECT_TRUE(s.phone);
    EXPECT_FALSE(s.name);
    EXPECT_TRUE(s.name_conflict);
    EXPECT_EQ(s.name_against, "jose perez quispe");
    EXPECT_DOUBLE_EQ(s.total, 2);  // under the old rule PHONE+NAME, 3: linked
    EXPECT_EQ(match_rule(s), "PHONE");
    EXPECT_EQ(decide_one(brother, jose), Decision::WeakMatch);
}

// The sister shares the phone and the car: 3 points without the name, but a
// conflicting name is never linked on phone and plate alone.
TEST(NameTokens, SisterSharingPhoneAndCarIsNotLinked) {
    Keys sister = row_keys("Maria Perez Quispe", "987654321", nullptr, "ABC-123");
    CandidateKeys jose = known("Jose Perez Quispe", "987654321", "Q12345678", "abc123");
    Score s = score_candidate(sister, jose, MatchSettings{});
    EXPECT_DOUBLE_EQ(s.total, 3);
    EXPECT_TRUE(s.name_conflict);
    EXPECT_FALSE(s.can_link());
    EXPECT_EQ(decide_one(sister, jose), Decision::WeakMatch);
    // Only an equal license, a personal document, outweighs the conflict.
    Keys with_license = row_keys("Maria Perez Quispe", "987654321", "Q-1234 5678", "ABC-123");
    Score l = score_candidate(with_license, jose, MatchSettings{});
    EXPECT_TRUE(l.name_conflict);
    EXPECT_TRUE(l.can_link());
    EXPECT_EQ(decide_one(with_license, jose), Decision::Link);
}

// The driver step: a person "Luis Rojas Soto" with only the family phone is
// not the person of its brother's driver row "Lucas Rojas Soto".
TEST(NameTokens, BrotherAsDriverIsAWeakMatch) {
    EXPECT_GE(name_similarity("Lucas Rojas Soto", "Luis Rojas Soto"), 0.85);
    Keys driver = row_keys("Lucas Rojas Soto", "+51 955 111 222", "Q-7777 1111", nullptr);
    CandidateKeys luis = known("Luis Rojas Soto", "955111222", nullptr, nullptr);
    MatchSettings set;
    std::vector<Scored> v{{0, score_candidate(driver, luis, set)}};
    EXPECT_TRUE(v[0].score.name_conflict);
    EXPECT_DOUBLE_EQ(v[0].score.total, 2);
    EXPECT_EQ(decide_driver(v, set), Decision::WeakMatch);
    // With the family's car too (3 points) it is still no link.
    Keys with_plate = row_keys("Lucas Rojas Soto", "955111222", nullptr, "XYZ-987");
    CandidateKeys luis_car = known("Luis Rojas Soto", "955111222", nullptr, "xyz987");
    v = {{0, score_candidate(with_plate, luis_car, set)}};
    EXPECT_DOUBLE_EQ(v[0].score.total, 3);
    EXPECT_EQ(decide_driver(v, set), Decision::WeakMatch);
}

TEST(NameTokens, MissingTokenStillAgrees) {
    Keys short_name = row_keys("Jose Perez", "987654321", nullptr, nullptr);
    CandidateKeys jose = known("Jose Perez Quispe", "987654321", nullptr, nullptr);
    Score s = score_candidate(short_name, jose, MatchSettings{});
    EXPECT_TRUE(s.name);
    EXPECT_FALSE(s.name_conflict);
    EXPECT_EQ(match_rule(s), "PHONE+NAME");
    EXPECT_EQ(decide_one(short_name, jose), Decision::Link);
}

TEST(NameTokens, TypoStillAgrees) {
    EXPECT_GE(normalized_name_similarity("jsoe", "jose"), kMin);
    Keys typo = row_keys("Jsoe Perez Quispe", "987654321", nullptr, nullptr);
    CandidateKeys jose = known("Jose Perez Quispe", "987654321", nullptr, nullptr);
    Score s = score_candidate(typo, jose, MatchSettings{});
    EXPECT_TRUE(s.name);
    EXPECT_EQ(decide_one(typo, jose), Decision::Link);
}

// "Juan Quispe" / "Juan Carlos Quispe": the tokens pair, so the people can be
// the same (no conflict), but the whole names are 0.749 alike, so the name
// does not agree, as under the old rule.
TEST(NameTokens, TokensPairButWholeNameDiffers) {
    EXPECT_NEAR(name_similarity("Juan Quispe", "Juan Carlos Quispe"), 0.749, 1e-3);
    EXPECT_TRUE(agree("Juan Quispe", "Juan Carlos Quispe"));
    Keys k = row_keys("Juan Quispe", "987654321", nullptr, "ABC123");
    Score s = score_candidate(k, known("Juan Carlos Quispe", "987654321", nullptr, "ABC123"),
                              MatchSettings{});
    EXPECT_FALSE(s.name);
    EXPECT_FALSE(s.name_conflict);
    EXPECT_DOUBLE_EQ(s.total, 3);
    EXPECT_TRUE(s.can_link());
}

TEST(NameTokens, NoConflictWithoutNamesOnBothSides) {
    Keys nameless = row_keys(nullptr, "987654321", nullptr, "ABC123");
    Score s = score_candidate(nameless, known("Jose Perez", "987654321", nullptr, "ABC123"),
                              MatchSettings{});
    EXPECT_FALSE(s.name_conflict);
    EXPECT_TRUE(s.name_against.empty());
    Keys named = row_keys("Maria Soto", "987654321", nullptr, "ABC123");
    s = score_candidate(named, known(nullptr, "987654321", nullptr, "ABC123"), MatchSettings{});
    EXPECT_FALSE(s.name_conflict);
    EXPECT_DOUBLE_EQ(s.total, 3);
}

// A person with several names agrees when any of them agrees, and conflicts
// only when none can pair.
TEST(NameTokens, AnyOfSeveralNames) {
    CandidateKeys p = known("Jose Perez Quispe", "987654321", nullptr, nullptr);
    p.names.push_back("juan perez quispe");
    Keys brother = row_keys("Juan Perez Quispe", "987654321", nullptr, nullptr);
    Score s = score_candidate(brother, p, MatchSettings{});
    EXPECT_TRUE(s.name);
    EXPECT_FALSE(s.name_conflict);
    EXPECT_EQ(s.name_against, "juan perez quispe");
}

TEST(NameTokens, SettingChangesTheTokenThreshold) {
    MatchSettings strict;
    strict.name_token_similarity_min = 0.99;
    Keys typo = row_keys("Jsoe Perez Quispe", "987654321", nullptr, nullptr);
    Score s =
        score_candidate(typo, known("Jose Perez Quispe", "987654321", nullptr, nullptr), strict);
    EXPECT_TRUE(s.name_conflict);
    EXPECT_FALSE(s.name);
}

TEST(NameTokens, BoundedWork) {
    // More than kMaxPairedTokens tokens: only the first ones are paired.
    std::string many, other;
    for (int i = 0; i < 60; i++) {
        many += std::string(i ? " " : "") + char('a' + i % 26) + "x";
        other += std::string(i ? " " : "") + char('a' + (i + 1) % 26) + "y";
    }
    EXPECT_FALSE(name_tokens_agree(many, other, kMin));
    EXPECT_TRUE(name_tokens_agree(many, many, kMin));
    TokenPairing p = pair_name_tokens(many, other, kMin);
    EXPECT_LE(p.pairs.size() + p.unpaired.size(), kMaxPairedTokens);
    EXPECT_LE(p.against.size(), kMaxPairedTokens);
    // A candidate's names beyond kMaxNamesCompared are not compared.
    CandidateKeys c;
    for (size_t i = 0; i < kMaxNamesCompared + 3; i++) c.names.push_back("zz" + std::to_string(i));
    c.names.push_back("jose perez");
    Score s =
        score_candidate(row_keys("Jose Perez", nullptr, nullptr, nullptr), c, MatchSettings{});
    EXPECT_TRUE(s.names_capped);
    EXPECT_FALSE(s.name);
    // Long names are compared on their first kMaxComparedNameBytes bytes.
    const std::string a(400000, 'a'), b(400000, 'b');
    EXPECT_EQ(compared_name(a).size(), kMaxComparedNameBytes);
    EXPECT_EQ(name_similarity(a, b), 0.0);
    EXPECT_EQ(name_similarity(a, a), 1.0);
}

TEST(NameTokens, EmptyNames) {
    EXPECT_FALSE(name_tokens_agree("", "jose", kMin));
    EXPECT_FALSE(pair_name_tokens("jose", "", kMin).agree);
}

// A conflicting candidate keeps its rank: a tie at the top stays AMBIGUOUS.
TEST(NameTokens, ConflictKeepsItsRank) {
    MatchSettings s;
    Scored a{1, {}}, b{2, {}};
    a.score.total = b.score.total = 3;
    a.score.name_conflict = true;
    std::vector<Scored> v{a, b};
    RawFields raw;
    Keys k;
    EXPECT_EQ(decide_identity(raw, k, v, s), Decision::Ambiguous);
    b.score.total = 2;
    v = {a, b};
    EXPECT_EQ(decide_identity(raw, k, v, s), Decision::WeakMatch);
    EXPECT_EQ(v[0].index, 1);
    v = {b, a};
    EXPECT_EQ(decide_driver(v, s), Decision::WeakMatch);
}
