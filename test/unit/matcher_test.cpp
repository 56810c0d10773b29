// identity::Matcher on its own (no database): the SPEC 4.1 decisions of one
// run over leads, stored persons and drivers handed to it in memory, as
// reconcile_leads.cpp hands them over after its look-ups.
#include "identity/matcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>

using namespace ct4::identity;
using ct4::core::Decision;
using ct4::core::Keys;
using ct4::core::normalize_keys;
using ct4::core::RawFields;

namespace {

std::optional<std::string> opt(const char *s) {
    return s ? std::optional<std::string>(s) : std::nullopt;
}

RawFields raw(const char *name, const char *phone, const char *license, const char *plate) {
    return {opt(name), opt(phone), opt(license), opt(plate)};
}

// A lead of the run, as load_work makes it.
Lead &add_lead(Matcher &m, int64_t id, const RawFields &r) {
    Lead l;
    l.id = id;
    l.order = m.leads.size();
    l.loaded = true;
    l.raw = r;
    l.keys = normalize_keys(r);
    m.leads.push_back(std::move(l));
    return m.leads.back();
}

// A stored person with the keys of one linked row.
void add_person(Matcher &m, int64_t person, const RawFields &r) {
    m.add_stored_keys(person, normalize_keys(r));
    m.loaded_persons.insert(person);
}

Driver driver(const char *id, const RawFields &r, int64_t linked_person = 0) {
    Driver d;
    d.id = id;
    d.keys = normalize_keys(r);
    d.linked_person = linked_person;
    return d;
}

}  // namespace

TEST(Matcher, NoCandidateWithPhoneAndNameMakesANewPerson) {
    Matcher m{{}};
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "911000111", nullptr, nullptr));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::NewPerson);
    EXPECT_TRUE(l.linked_now && l.new_person);
    EXPECT_TRUE(is_temp_person(l.person));
    EXPECT_EQ(m.new_person_count, 1);
}

TEST(Matcher, APersonMadeEarlierInTheRunIsACandidateOfTheLeadsAfterIt) {
    Matcher m{{}};
    add_lead(m, 1, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    add_lead(m, 2, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    m.eval_identity(m.leads[0]);
    m.eval_identity(m.leads[1]);
    EXPECT_EQ(m.leads[1].decision, Decision::Link);
    EXPECT_FALSE(m.leads[1].new_person);
    EXPECT_EQ(m.leads[1].person, m.leads[0].person);
    EXPECT_EQ(m.new_person_count, 1);
}

TEST(Matcher, UniqueBestStoredPersonAboveTheThresholdLinks) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    add_person(m, 8, raw("Luis Rojas", "922000222", nullptr, nullptr));
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::Link);
    EXPECT_EQ(l.person, 7);
    EXPECT_TRUE(l.linked_now);
    EXPECT_FALSE(l.new_person);
}

TEST(Matcher, TieAtTheTopIsAmbiguousAndLinksNothing) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", nullptr, nullptr));
    add_person(m, 8, raw("Ana Diaz", "911000111", nullptr, nullptr));
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "911000111", nullptr, nullptr));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::Ambiguous);
    EXPECT_EQ(l.person, 0);
    EXPECT_EQ(m.new_person_count, 0);
}

TEST(Matcher, CandidatesBelowTheThresholdAreAWeakMatchAndMakeNoPerson) {
    Matcher m{{}};
    add_person(m, 7, raw("Luis Rojas", nullptr, nullptr, "ABC123"));
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "911000111", nullptr, "ABC123"));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::WeakMatch);
    EXPECT_EQ(l.person, 0);
    EXPECT_EQ(m.new_person_count, 0);
}

TEST(Matcher, KeyTextThatDoesNotNormalizeIsInvalidData) {
    Matcher m{{}};
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "12", nullptr, nullptr));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::InvalidData);
    EXPECT_EQ(l.person, 0);
}

TEST(Matcher, ABlockedUniqueBestIsBlockedNotLinkedAndNotANewPerson) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    Lead &l = add_lead(m, 1, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    l.blocked_persons = {7};
    m.eval_identity(l);
    EXPECT_TRUE(l.blocked);
    EXPECT_EQ(l.person, 0);
    EXPECT_EQ(m.new_person_count, 0);
}

TEST(Matcher, ALinkMakesTheLeadsThatSharedItsKeysStale) {
    Matcher m{{}};
    Lead &weak = add_lead(m, 1, raw(nullptr, "911000111", nullptr, nullptr));
    m.eval_identity(weak);
    EXPECT_EQ(weak.decision, Decision::NoCandidates);
    EXPECT_FALSE(m.identity_stale(m.leads[0]));
    Lead &maker = add_lead(m, 2, raw("Ana Diaz", "911000111", nullptr, nullptr));
    m.eval_identity(maker);
    ASSERT_EQ(maker.decision, Decision::NewPerson);
    EXPECT_TRUE(m.identity_stale(m.leads[0]));  // a person with its phone exists now
}

TEST(Matcher, DriverStepLinksTheUniqueBestDriver) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    m.add_driver(driver("D1", raw("Ana Diaz", "911000111", "Q11112222", nullptr)));
    m.add_driver(driver("D2", raw("Luis Rojas", "911000111", nullptr, nullptr)));
    ASSERT_TRUE(m.driver_step_due(7));
    m.eval_driver(7);
    const DriverResult &r = m.driver_results.at(7);
    EXPECT_EQ(r.decision, Decision::Link);
    EXPECT_TRUE(r.linked_now);
    EXPECT_EQ(m.drivers[(size_t)r.ranked[0].index].id, "D1");
    EXPECT_EQ(m.new_driver_links, std::vector<int64_t>{7});
    EXPECT_FALSE(m.driver_step_due(7));
}

TEST(Matcher, DriverTiesAreAmbiguousOrderedByDriverId) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", nullptr, nullptr));
    m.add_driver(driver("D9", raw("Ana Diaz", "911000111", nullptr, nullptr)));
    m.add_driver(driver("D3", raw("Ana Diaz", "911000111", nullptr, nullptr)));
    m.eval_driver(7);
    const DriverResult &r = m.driver_results.at(7);
    EXPECT_EQ(r.decision, Decision::Ambiguous);
    EXPECT_FALSE(r.linked_now);
    EXPECT_EQ(m.drivers[(size_t)r.ranked[0].index].id, "D3");
    EXPECT_TRUE(m.new_driver_links.empty());
}

TEST(Matcher, ABestDriverLinkedToAnotherPersonIsAConflict) {
    Matcher m{{}};
    add_person(m, 7, raw("Ana Diaz", "911000111", "Q11112222", nullptr));
    m.add_driver(driver("D1", raw("Ana Diaz", "911000111", "Q11112222", nullptr), 99));
    m.eval_driver(7);
    const DriverResult &r = m.driver_results.at(7);
    EXPECT_TRUE(r.conflict);
    EXPECT_FALSE(r.linked_now);
    EXPECT_FALSE(m.persons.at(7).has_driver);
}

// Issue 13: relatives who share the family phone are not one person, in the
// identity step and in the driver step (SPEC 4.2 amended).
TEST(Matcher, BrotherWithTheFamilyPhoneIsAWeakMatchAndNoNewPerson) {
    Matcher m{{}};
    add_person(m, 7, raw("José Pérez Quispe", "912121212", "Q90909090", nullptr));
    Lead &l = add_lead(m, 1, raw("Juan Perez Quispe", "912121212", nullptr, nullptr));
    m.eval_identity(l);
    EXPECT_EQ(l.decision, Decision::WeakMatch);
    EXPECT_EQ(l.person, 0);
    EXPECT_EQ(m.new_person_count, 0);
    ASSERT_EQ(l.ranked.size(), 1u);
    EXPECT_TRUE(l.ranked[0].score.name_conflict);
}

TEST(Matcher, BrotherWhoDrivesIsNotThePersonsDriver) {
    Matcher m{{}};
    add_person(m, 7, raw("Luis Rojas Soto", "933303303", nullptr, nullptr));
    m.add_driver(driver("D-LUCAS", raw("Lucas Rojas Soto", "933303303", "L31313131", nullptr)));
    m.eval_driver(7);
    const DriverResult &r = m.driver_results.at(7);
    EXPECT_EQ(r.decision, Decision::WeakMatch);
    EXPECT_FALSE(r.linked_now);
    EXPECT_FALSE(m.persons.at(7).has_driver);
}

// Hostile rows: a person keeps at most kMaxNamesCompared names (the first in
// byte order, whatever the order they come in).
TEST(Matcher, APersonKeepsTheFirstEightNamesInByteOrder) {
    Matcher m{{}}, r{{}};
    const char *names[] = {"Zoe Uno",  "Ana Dos",   "Eva Tres",  "Ida Cuatro", "Ola Cinco",
                           "Uma Seis", "Bea Siete", "Cora Ocho", "Dina Nueve", "Fe Diez"};
    for (const char *n : names) add_person(m, 7, raw(n, nullptr, "Q77777777", nullptr));
    for (int i = 9; i >= 0; i--) add_person(r, 7, raw(names[i], nullptr, "Q77777777", nullptr));
    const auto &k = m.persons.at(7).keys;
    EXPECT_EQ(k.names.size(), ct4::core::kMaxNamesCompared);
    EXPECT_TRUE(k.names_capped);
    EXPECT_TRUE(std::is_sorted(k.names.begin(), k.names.end()));
    EXPECT_EQ(k.names, r.persons.at(7).keys.names);
    EXPECT_EQ(std::find(k.names.begin(), k.names.end(), "uno zoe"), k.names.end());
}

// A key held by more than kMaxPersonsPerKey persons finds no candidates; it
// still scores for those found by another key.
TEST(Matcher, AKeyHeldByTooManyPersonsFindsNoCandidates) {
    Matcher m{{}};
    const int n = (int)ct4::core::kMaxPersonsPerKey + 1;
    for (int p = 1; p <= n; p++)
        add_person(
            m, p,
            raw("Ana Soto", "999999999", ("L" + std::to_string(50000000 + p)).c_str(), nullptr));
    Lead &shared = add_lead(m, 1, raw("Rosa Vega", "999999999", nullptr, nullptr));
    m.eval_identity(shared);
    EXPECT_EQ(shared.decision, Decision::Ambiguous);  // never a new person
    EXPECT_TRUE(shared.ranked.empty());
    ASSERT_EQ(shared.keys_over_bound.size(), 1u);
    EXPECT_EQ(shared.keys_over_bound[0].holders, (size_t)n);
    Lead &own = add_lead(m, 2, raw("Ana Soto", "999999999", "L50000005", nullptr));
    m.eval_identity(own);
    EXPECT_EQ(own.decision, Decision::Link);
    EXPECT_EQ(own.person, 5);
    EXPECT_TRUE(own.ranked[0].score.phone);  // the shared phone still scores
}

// The same bound in the driver step: a phone that more than
// kMaxPersonsPerKey drivers hold finds no driver; the person's license does.
TEST(Matcher, AKeyHeldByTooManyDriversFindsNoDriver) {
    Matcher m{{}};
    const int n = (int)ct4::core::kMaxPersonsPerKey + 1;
    for (int i = 1; i <= n; i++)
        m.add_driver(driver(("D" + std::to_string(i)).c_str(),
                            raw("Ana Soto", "999999999", nullptr, nullptr)));
    add_person(m, 7, raw("Ana Soto", "999999999", nullptr, nullptr));
    m.eval_driver(7);
    const DriverResult &r = m.driver_results.at(7);
    EXPECT_EQ(r.decision, Decision::Ambiguous);  // DRIVER_AMBIGUOUS, with the bound in details
    EXPECT_TRUE(r.ranked.empty());
    ASSERT_EQ(r.keys_over_bound.size(), 1u);
    EXPECT_EQ(r.keys_over_bound[0].holders, (size_t)n);
    m.add_driver(driver("D-OWN", raw("Ana Soto", "999999999", "Q12121212", nullptr)));
    add_person(m, 8, raw("Ana Soto", nullptr, "Q12121212", nullptr));
    m.eval_driver(8);
    EXPECT_TRUE(m.driver_results.at(8).linked_now);
}
