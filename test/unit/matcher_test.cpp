// identity::Matcher on its own (no database): the SPEC 4.1 decisions of one
// run over leads, stored persons and drivers handed to it in memory, as
// reconcile_leads.cpp hands them over after its look-ups.
#include "identity/matcher.hpp"

#include <gtest/gtest.h>

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
