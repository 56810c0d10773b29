// The in-memory side of one identity run: leads in work, the persons and
// drivers loaded for them (with the keys of their rows and the run's own
// links), and the decisions. The
// PostgreSQL I/O (batched look-ups, batched writes) is in reconcile_leads.cpp;
// this file calls no SQL, so everything a decision needs is explicit here.
#pragma once

#include "core/match.hpp"
#include "core/string_map.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ct4::identity {

enum KeyType { kPhone = 0, kLicense = 1, kPlate = 2, kName = 3 };
extern const char *const kKeyTypeNames[4];

// "0<value>" etc.: one string per (key type, normalized value).
std::string key_id(int type, const std::string &value);
// Calls f(type, value) for each search key (phone, license, plate) of a row.
template <class F>
void for_each_search_key(const core::Keys &k, F f) {
    if (k.phone) f(kPhone, *k.phone);
    if (k.license) f(kLicense, *k.license);
    if (k.plate) f(kPlate, *k.plate);
}
// Calls f(type, value) for each key of a row, the name included.
template <class F>
void for_each_key(const core::Keys &k, F f) {
    for_each_search_key(k, f);
    if (k.name) f(kName, *k.name);
}
// True when pred(type, value) holds for a search key of a row (stops there).
template <class P>
bool any_search_key(const core::Keys &k, P pred) {
    return (k.phone && pred(kPhone, *k.phone)) || (k.license && pred(kLicense, *k.license)) ||
           (k.plate && pred(kPlate, *k.plate));
}

// Handles of persons made in this run sort after every stored person_key, in
// creation order, which is also the order their real keys get.
constexpr int64_t kTempPersonBase = INT64_C(1) << 60;
inline bool is_temp_person(int64_t p) {
    return p >= kTempPersonBase;
}

// Which search key types a candidate had when a row linked to it: all the
// evidence's "compared" needs of its keys (equal / different / missing).
struct KeyPresence {
    bool phone = false, license = false, plate = false;
};
KeyPresence presence_of(const core::CandidateKeys &k);

// A search key held by more than core::kMaxPersonsPerKey persons (drivers).
struct KeyOverBound {
    int type;
    std::string value;
    size_t holders;
};

struct Person {
    core::CandidateKeys keys;
    bool has_driver = false;
    int64_t version = 0;                       // last change of its keys in this run (0: none)
    std::vector<std::string> blocked_drivers;  // ct4.unlink: never its driver (C0 rule 2)
};

struct Lead {
    int64_t id = 0;
    size_t order = 0;                 // position in the run's scope
    std::string stage, prev_outcome;  // from canon.identity_lead_state
    int64_t state_version = 0;        // its state row's version when read
    bool loaded = false;              // raw fields read
    core::RawFields raw;
    core::Keys keys;
    int64_t person = 0;  // 0: not linked
    bool linked_now = false, new_person = false, error = false;
    int64_t eval_version = -1;  // -1: identity not (yet) decided in this run
    core::Decision decision = core::Decision::NoCandidates;
    std::vector<core::Scored> ranked;           // identity candidates (index = person)
    std::vector<KeyOverBound> keys_over_bound;  // keys that found no candidate (too shared)
    KeyPresence linked_keys;                    // the person's keys when the lead linked to it
    // C0 rule 2: persons this lead must never link to again (ct4.unlink), the
    // candidates among them (set apart before ranking), and whether one of
    // them would have been the unique best (outcome BLOCKED, no link).
    std::vector<int64_t> blocked_persons;
    std::vector<core::Scored> blocked_ranked;
    bool blocked = false;
};

struct Driver {
    std::string id;
    core::Keys keys;
    int64_t linked_person = 0;  // stored link or one made in this run
};

struct DriverResult {
    core::Decision decision = core::Decision::NoCandidates;
    std::vector<core::Scored> ranked;           // index = position in Matcher::drivers
    std::vector<KeyOverBound> keys_over_bound;  // keys that found no candidate (too shared)
    std::vector<core::Scored> blocked_ranked;   // candidates blocked for the person
    bool blocked = false;                       // one of them would have been the unique best
    bool conflict = false;
    bool linked_now = false;
    int64_t checked_version = -1;
    KeyPresence person_keys;  // the person's keys when the driver linked
};

class Matcher {
  public:
    explicit Matcher(core::MatchSettings s) : settings_(s) {}
    const core::MatchSettings &settings() const { return settings_; }

    std::vector<Lead> leads;  // in processing order
    std::unordered_map<int64_t, Person> persons;
    std::unordered_set<int64_t> loaded_persons;  // stored persons whose keys are all loaded
    std::vector<Driver> drivers;
    std::unordered_map<int64_t, DriverResult> driver_results;
    std::vector<int64_t> new_driver_links;  // persons whose driver was linked in this run
    int64_t new_person_count = 0;

    // Identity side: ingest the normalized keys of a row linked to a stored person.
    void add_stored_keys(int64_t person, const core::Keys &k);
    // Marks the key as looked up among the stored persons; false when it was already.
    bool mark_identity_queried(const std::string &kid) {
        bool &q = keys_[kid].queried;
        return !q && (q = true);
    }

    // Driver side.
    void add_driver(Driver d);
    // Stored persons not loaded yet whose linked driver (loaded) shares a
    // search key with `k`: identity candidates found through raw.drivers.
    void persons_of_drivers(const core::Keys &k, std::vector<int64_t> &out) const;
    // Marks the key as looked up in raw.drivers; false when it was already.
    bool mark_driver_queried(const std::string &kid) {
        bool &q = keys_[kid].driver_queried;
        return !q && (q = true);
    }

    // Decides the identity of an unlinked lead (links it when the rules say so).
    void eval_identity(Lead &l);
    // True when something the lead's last decision used has changed since.
    bool identity_stale(const Lead &l) const;

    // Driver step for a person without a driver.
    bool driver_step_due(int64_t person) const;
    void eval_driver(int64_t person);

    bool changed() const { return version_ > 0; }
    // Sizes the hash tables for a run over `leads` leads (no rehashing).
    void reserve(size_t leads);

  private:
    void add_run_keys(int64_t person, const core::Keys &k);
    bool add_person_key(Person &p, int64_t person, int type, const std::string &value,
                        int64_t version);
    std::vector<int64_t> identity_candidates(const core::Keys &k,
                                             std::vector<KeyOverBound> &over) const;

    core::MatchSettings settings_;
    int64_t version_ = 0;
    // Everything known of one search key (key id), in one hash entry: one
    // look-up and one node per key instead of five.
    struct KeyEntry {
        std::vector<int64_t> persons;  // persons holding the key
        std::vector<size_t> drivers;   // loaded drivers holding it (index in drivers)
        int64_t version = 0;           // last change in this run (0: none)
        bool queried = false, driver_queried = false;  // looked up in raw leads / raw.drivers
    };
    const KeyEntry *find_key(int type, const std::string &value) const {
        return keys_.find(key_id(type, value));
    }
    core::StringMap<KeyEntry> keys_;    // by key id
    core::StringMap<bool> driver_ids_;  // loaded drivers
};

}  // namespace ct4::identity
