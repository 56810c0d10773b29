#include "core/match.hpp"

#include <gtest/gtest.h>

using namespace ct4::core;

namespace {

RawFields lead(const char *name, const char *phone, const char *license, const char *plate) {
    RawFields r;
    if (name) r.full_name = name;
    if (phone) r.phone = phone;
    if (license) r.license = license;
    if (plate) r.plate = plate;
    return r;
}

CandidateKeys person(std::vector<std::string> phones, std::vector<std::string> licenses,
                     std::vector<std::string> plates, std::vector<std::string> names) {
    return {std::move(phones), std::move(licenses), std::move(plates), std::move(names)};
}

}  // namespace

TEST(MatchKeys, NormalizesEveryField) {
    Keys k = normalize_keys(lead("Pérez  María", "+51 987 654 321", "q-1234 5678", "abc-123"));
    EXPECT_EQ(k.phone.value_or(""), "51987654321");
    EXPECT_EQ(k.license.value_or(""), "Q12345678");
    EXPECT_EQ(k.plate.value_or(""), "ABC123");
    EXPECT_EQ(k.name.value_or(""), "maria perez");
    EXPECT_TRUE(k.has_search_key());
}

TEST(MatchKeys, KeyTextVersusNoData) {
    EXPECT_FALSE(has_key_text(lead("Ana", nullptr, nullptr, nullptr)));
    EXPECT_FALSE(has_key_text(lead("Ana", "   ", "", "\t")));
    EXPECT_TRUE(has_key_text(lead(nullptr, "--- ---", nullptr, nullptr)));
    RawFields r = lead("😀", "12", "ab", "..");
    auto bad = unparsable_fields(r, normalize_keys(r));
    EXPECT_EQ(bad, (std::vector<std::string>{"phone", "license", "plate", "name"}));
}

TEST(MatchScore, DefaultWeightsAndRuleName) {
    MatchSettings s;
    Keys k = normalize_keys(lead("Maria Perez", "987654321", "Q12345678", "ABC123"));
    Score all =
        score_candidate(k, person({"51987654321"}, {"Q12345678"}, {"ABC123"}, {"maria perez"}), s);
    EXPECT_DOUBLE_EQ(all.total, 8);
    EXPECT_EQ(match_rule(all), "LICENSE+PHONE+PLATE+NAME");
    Score lpn = score_candidate(k, person({"51987654321"}, {"Q12345678"}, {}, {"marla perez"}), s);
    EXPECT_DOUBLE_EQ(lpn.total, 7);
    EXPECT_EQ(match_rule(lpn), "LICENSE+PHONE+NAME");
    EXPECT_GT(lpn.name_similarity, 0.85);
    Score none = score_candidate(k, person({"51111111111"}, {}, {}, {"juan soto"}), s);
    EXPECT_DOUBLE_EQ(none.total, 0);
    EXPECT_EQ(match_rule(none), "NONE");
}

TEST(MatchScore, BestAgreementOverAllKeysOfACandidate) {
    MatchSettings s;
    Keys k = normalize_keys(lead("Ana Diaz", "51900000002", nullptr, nullptr));
    Score sc =
        score_candidate(k, person({"51900000001", "51900000002"}, {}, {}, {"zzz", "ana diaz"}), s);
    EXPECT_TRUE(sc.phone);
    EXPECT_TRUE(sc.name);
    EXPECT_DOUBLE_EQ(sc.name_similarity, 1.0);
    EXPECT_DOUBLE_EQ(sc.total, 3);
}

TEST(MatchScore, SettingsChangeWeights) {
    MatchSettings s;
    s.score_phone = 10;
    s.name_similarity_min = 0.99;
    Keys k = normalize_keys(lead("Ana Diaz", "51900000002", nullptr, nullptr));
    Score sc = score_candidate(k, person({"51900000002"}, {}, {}, {"ana dias"}), s);
    EXPECT_DOUBLE_EQ(sc.total, 10);
    EXPECT_FALSE(sc.name);
}

TEST(MatchDecision, LinkAmbiguousWeak) {
    MatchSettings s;
    RawFields r = lead("Ana", "987654321", nullptr, nullptr);
    Keys k = normalize_keys(r);
    auto sc = [](int64_t id, double total) {
        Scored x{id, {}};
        x.score.total = total;
        return x;
    };
    std::vector<Scored> v{sc(7, 3), sc(5, 7), sc(9, 4)};
    EXPECT_EQ(decide_identity(r, k, v, s), Decision::Link);
    EXPECT_EQ(v[0].index, 5);
    EXPECT_EQ(v[1].index, 9);
    v = {sc(8, 4), sc(3, 4), sc(1, 2)};
    EXPECT_EQ(decide_identity(r, k, v, s), Decision::Ambiguous);
    EXPECT_EQ(v[0].index, 3);  // ties ordered by handle
    v = {sc(1, 2), sc(2, 2)};
    EXPECT_EQ(decide_identity(r, k, v, s), Decision::WeakMatch);
    v = {sc(1, 3)};
    EXPECT_EQ(decide_identity(r, k, v, s), Decision::Link);  // threshold is inclusive
}

TEST(MatchDecision, NoCandidateOutcomes) {
    MatchSettings s;
    std::vector<Scored> none;
    auto decide = [&](RawFields r) { return decide_identity(r, normalize_keys(r), none, s); };
    EXPECT_EQ(decide(lead("Ana", "987654321", nullptr, nullptr)), Decision::NewPerson);
    EXPECT_EQ(decide(lead("Ana", nullptr, "Q1234567", nullptr)), Decision::NewPerson);
    EXPECT_EQ(decide(lead("Ana", nullptr, nullptr, "ABC123")), Decision::NoCandidates);
    EXPECT_EQ(decide(lead(nullptr, "987654321", nullptr, nullptr)), Decision::NoCandidates);
    EXPECT_EQ(decide(lead(nullptr, nullptr, nullptr, nullptr)), Decision::NoCandidates);
    EXPECT_EQ(decide(lead("Ana", "--", "!!", nullptr)), Decision::InvalidData);
    EXPECT_EQ(decide(lead("Ana", "--", nullptr, "ABC123")), Decision::NoCandidates);
    EXPECT_EQ(decide(lead("😀😀", "😀", nullptr, nullptr)), Decision::InvalidData);
    EXPECT_EQ(decide(lead(nullptr, std::string(10000, '-').c_str(), nullptr, nullptr)),
              Decision::InvalidData);
    EXPECT_EQ(decide(lead("Ana", nullptr, std::string(10000, 'x').c_str(), nullptr)),
              Decision::InvalidData);  // over-long keys are garbage
    EXPECT_STREQ(decision_code(Decision::WeakMatch), "WEAK_MATCH");
}

TEST(MatchDecision, Driver) {
    MatchSettings s;
    std::vector<Scored> v;
    EXPECT_EQ(decide_driver(v, s), Decision::NoCandidates);
    Scored a{1, {}}, b{2, {}};
    a.score.total = 6;
    b.score.total = 6;
    v = {a, b};
    EXPECT_EQ(decide_driver(v, s), Decision::Ambiguous);
    b.score.total = 1;
    v = {b, a};
    EXPECT_EQ(decide_driver(v, s), Decision::Link);
    EXPECT_EQ(v[0].index, 1);
}
