#include "identity/matcher.hpp"

#include <algorithm>

namespace ct4::identity {

using core::Decision;

const char *const kKeyTypeNames[4] = {"phone", "license", "plate", "name"};

std::string key_id(int type, const std::string &value) {
    std::string s;
    s.reserve(value.size() + 1);
    s.push_back((char)('0' + type));
    s += value;
    return s;
}

KeyPresence presence_of(const core::CandidateKeys &k) {
    return {!k.phones.empty(), !k.licenses.empty(), !k.plates.empty()};
}

namespace {
// A person's names, kept sorted and at most core::kMaxNamesCompared of them
// (the first in byte order, whatever order its rows are read in): the work
// per candidate stays bounded when hostile rows give one person thousands of
// names. True when the name is new and kept.
bool add_person_name(core::CandidateKeys &k, const std::string &name) {
    auto &v = k.names;
    auto at = std::lower_bound(v.begin(), v.end(), name);
    if (at != v.end() && *at == name) return false;
    if (v.size() >= core::kMaxNamesCompared) {
        k.names_capped = true;
        if (at == v.end()) return false;
        v.pop_back();
        at = std::lower_bound(v.begin(), v.end(), name);
    }
    v.insert(at, name);
    return true;
}

std::vector<std::string> &slot(core::CandidateKeys &c, int type) {
    switch (type) {
        case kPhone:
            return c.phones;
        case kLicense:
            return c.licenses;
        case kPlate:
            return c.plates;
        default:
            return c.names;
    }
}
}  // namespace

// Returns true when the person did not have this key yet; a search key then
// takes `version` (a change made by this run) unless it is 0.
bool Matcher::add_person_key(Person &p, int64_t person, int type, const std::string &value,
                             int64_t version) {
    auto &v = slot(p.keys, type);
    if (type == kName) return add_person_name(p.keys, value);
    if (std::find(v.begin(), v.end(), value) != v.end()) return false;
    v.push_back(value);
    if (type != kName) {
        KeyEntry &e = keys_[key_id(type, value)];
        e.persons.push_back(person);
        if (version) e.version = version;
    }
    return true;
}

void Matcher::add_stored_keys(int64_t person, const core::Keys &k) {
    Person &p = persons[person];
    for_each_key(k, [&](int t, const std::string &v) { add_person_key(p, person, t, v, 0); });
}

void Matcher::add_run_keys(int64_t person, const core::Keys &k) {
    Person &p = persons[person];
    for_each_key(k, [&](int t, const std::string &v) {
        if (add_person_key(p, person, t, v, version_ + 1)) p.version = ++version_;
    });
}

std::vector<int64_t> Matcher::identity_candidates(const core::Keys &k,
                                                  std::vector<KeyOverBound> &over) const {
    std::vector<int64_t> out;
    over.clear();
    for_each_search_key(k, [&](int t, const std::string &v) {
        const KeyEntry *e = find_key(t, v);
        if (!e) return;
        if (e->persons.size() > core::kMaxPersonsPerKey)
            over.push_back({t, v, e->persons.size()});
        else
            out.insert(out.end(), e->persons.begin(), e->persons.end());
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

namespace {
// C0 rule 2: a blocked (row, candidate) pair is set apart before ranking, so
// the others decide as usual. Moves the blocked ones of `ranked` into
// `blocked`.
template <class IsBlocked>
void set_apart_blocked(std::vector<core::Scored> &ranked, std::vector<core::Scored> &blocked,
                       IsBlocked is_blocked) {
    blocked.clear();
    auto rest = std::stable_partition(ranked.begin(), ranked.end(),
                                      [&](const core::Scored &c) { return !is_blocked(c); });
    blocked.assign(rest, ranked.end());
    ranked.erase(rest, ranked.end());
}
// True when, with the blocked candidates back among the others, one of them
// would be the unique best the rules link to (the outcome is then BLOCKED).
template <class Decide>
bool blocked_would_link(const std::vector<core::Scored> &ranked,
                        const std::vector<core::Scored> &blocked, Decide decide) {
    if (blocked.empty()) return false;
    std::vector<core::Scored> all(ranked);
    all.insert(all.end(), blocked.begin(), blocked.end());
    if (decide(all) != Decision::Link) return false;
    return std::any_of(blocked.begin(), blocked.end(),
                       [&](const core::Scored &b) { return b.index == all[0].index; });
}

// A row whose keys are all too shared has no candidate: no new person (it
// would duplicate one of them), a person must decide.
Decision over_bound(Decision d, bool any_over) {
    return any_over && (d == Decision::NewPerson || d == Decision::NoCandidates ||
                        d == Decision::InvalidData)
               ? Decision::Ambiguous
               : d;
}
}  // namespace

void Matcher::eval_identity(Lead &l) {
    l.ranked.clear();
    for (int64_t p : identity_candidates(l.keys, l.keys_over_bound))
        l.ranked.push_back({p, core::score_candidate(l.keys, persons.at(p).keys, settings_)});
    set_apart_blocked(l.ranked, l.blocked_ranked, [&](const core::Scored &c) {
        return std::find(l.blocked_persons.begin(), l.blocked_persons.end(), c.index) !=
               l.blocked_persons.end();
    });
    l.decision = over_bound(core::decide_identity(l.raw, l.keys, l.ranked, settings_),
                            !l.keys_over_bound.empty());
    l.blocked = l.decision != Decision::Link &&
                blocked_would_link(l.ranked, l.blocked_ranked, [&](std::vector<core::Scored> &all) {
                    return core::decide_identity(l.raw, l.keys, all, settings_);
                });
    if (l.blocked) {
        // no link, no new person: a person must decide
    } else if (l.decision == Decision::Link) {
        l.person = l.ranked[0].index;
        l.linked_now = true;
        l.linked_keys = presence_of(persons.at(l.person).keys);
        add_run_keys(l.person, l.keys);
    } else if (l.decision == Decision::NewPerson) {
        l.person = kTempPersonBase + ++new_person_count;
        l.linked_now = l.new_person = true;
        add_run_keys(l.person, l.keys);
    }
    l.eval_version = version_;
}

bool Matcher::identity_stale(const Lead &l) const {
    if (l.person != 0 || l.error) return false;
    if (l.eval_version < 0) return true;
    if (any_search_key(l.keys, [&](int t, const std::string &v) {
            const KeyEntry *e = find_key(t, v);
            return e && e->version > l.eval_version;
        }))
        return true;
    for (const auto *list : {&l.ranked, &l.blocked_ranked})
        for (const auto &c : *list)
            if (persons.at(c.index).version > l.eval_version) return true;
    return false;
}

void Matcher::reserve(size_t n) {
    persons.reserve(n);
    driver_results.reserve(n);
    keys_.reserve(4 * n);
    driver_ids_.reserve(n);
    drivers.reserve(n);
}

void Matcher::add_driver(Driver d) {
    bool &loaded = driver_ids_[d.id];
    if (loaded) return;
    loaded = true;
    size_t i = drivers.size();
    for_each_search_key(
        d.keys, [&](int t, const std::string &v) { keys_[key_id(t, v)].drivers.push_back(i); });
    drivers.push_back(std::move(d));
}

void Matcher::persons_of_drivers(const core::Keys &k, std::vector<int64_t> &out) const {
    for_each_search_key(k, [&](int t, const std::string &v) {
        const KeyEntry *e = find_key(t, v);
        if (!e) return;
        for (size_t i : e->drivers) {
            int64_t p = drivers[i].linked_person;
            if (p && !is_temp_person(p) && !loaded_persons.count(p)) out.push_back(p);
        }
    });
}

bool Matcher::driver_step_due(int64_t person) const {
    const Person &p = persons.at(person);
    if (p.has_driver) return false;
    auto it = driver_results.find(person);
    return it == driver_results.end() || p.version > it->second.checked_version;
}

void Matcher::eval_driver(int64_t person) {
    Person &p = persons.at(person);
    DriverResult &r = driver_results[person];
    std::vector<size_t> cands;
    const std::vector<std::string> *vals[3] = {&p.keys.phones, &p.keys.licenses, &p.keys.plates};
    r.keys_over_bound.clear();
    for (int t = 0; t < 3; t++)
        for (const auto &v : *vals[t]) {
            const KeyEntry *e = find_key(t, v);
            if (!e) continue;
            if (e->drivers.size() > core::kMaxPersonsPerKey)
                r.keys_over_bound.push_back({t, v, e->drivers.size()});
            else
                cands.insert(cands.end(), e->drivers.begin(), e->drivers.end());
        }
    std::sort(cands.begin(), cands.end());
    cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
    r.ranked.clear();
    for (size_t i : cands)
        r.ranked.push_back({(int64_t)i, core::score_candidate(drivers[i].keys, p.keys, settings_)});
    set_apart_blocked(r.ranked, r.blocked_ranked, [&](const core::Scored &c) {
        const std::string &id = drivers[(size_t)c.index].id;
        return std::find(p.blocked_drivers.begin(), p.blocked_drivers.end(), id) !=
               p.blocked_drivers.end();
    });
    // Ties are ordered by driver_id, not by load order, so runs are deterministic.
    r.decision = over_bound(core::decide_driver(r.ranked, settings_), !r.keys_over_bound.empty());
    if (r.decision == Decision::Ambiguous || r.decision == Decision::WeakMatch) {
        std::stable_sort(r.ranked.begin(), r.ranked.end(),
                         [&](const core::Scored &a, const core::Scored &b) {
                             if (a.score.total != b.score.total)
                                 return a.score.total > b.score.total;
                             return drivers[(size_t)a.index].id < drivers[(size_t)b.index].id;
                         });
    }
    int64_t taken_by =
        r.decision == Decision::Link ? drivers[(size_t)r.ranked[0].index].linked_person : 0;
    r.conflict = taken_by != 0 && taken_by != person;
    r.blocked = (r.decision != Decision::Link || r.conflict) &&
                blocked_would_link(r.ranked, r.blocked_ranked, [&](std::vector<core::Scored> &all) {
                    return core::decide_driver(all, settings_);
                });
    if (r.decision == Decision::Link && !r.conflict) {
        Driver &d = drivers[(size_t)r.ranked[0].index];
        d.linked_person = person;
        p.has_driver = true;
        r.person_keys = presence_of(p.keys);
        r.linked_now = true;
        new_driver_links.push_back(person);
        add_run_keys(person, d.keys);
    }
    r.checked_version = persons.at(person).version;
}

}  // namespace ct4::identity
