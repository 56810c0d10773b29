// ct4.reconcile_leads_pipeline (SPEC 4.1): the identity job, a jobs::Job
// (arguments, run record, lock, JIT, counters: jobs/job.hpp). Its body, in
// one transaction:
//   read:   the due leads in scope (identity/scope.hpp) and their rows;
//   decide: identity per batch of leads (one candidate query per batch),
//           driver step per batch of persons (one driver query per batch),
//           repeated on what this run changed until nothing moves, so a
//           rerun finds nothing;
//   write:  one statement per table (arrays + unnest).
// Its SQL is src/identity/reconcile_leads.sql.
#include "core/match.hpp"
#include "identity/evidence.hpp"
#include "identity/matcher.hpp"
#include "identity/scope.hpp"
#include "identity/reconcile_leads.sql.hpp"
#include "jobs/job.hpp"
#include "pg/spi.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <vector>

namespace ct4::identity {

namespace {

using core::Decision;
using pg::Spi;
using OptStr = std::optional<std::string>;
namespace sql = ct4::sql::reconcile_leads;  // src/identity/reconcile_leads.sql

constexpr size_t kBatch = 2000;
constexpr int kMaxRounds = 20;
const char *const kLeads = "module_ct_cabinet_leads";

struct Args {
    int32_t days_back, row_limit;
    bool process_recent, process_limbo, dry_run;
    std::vector<std::string> limbo_stages;
};

Args read_args(jobs::Job &job) {
    Args a;
    a.days_back = job.int_arg(0, "days_back", 0, 36500);
    a.row_limit = job.int_arg(1, "row_limit", 1, 100000000);
    a.process_recent = job.bool_arg(2, "process_recent");
    a.process_limbo = job.bool_arg(3, "process_limbo");
    a.limbo_stages = job.text_array_arg(4, "limbo_stages");
    a.dry_run = job.dry_run_arg(5);
    for (const auto &s : a.limbo_stages)
        if (s != "NO_IDENTITY" && s != "NO_DRIVER" && s != "TRIPS_NO_CLAIM")
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "limbo_stages contains an unknown stage \"" + s + "\"",
                            "Known stages: NO_IDENTITY, NO_DRIVER, TRIPS_NO_CLAIM.");
    return a;
}

core::MatchSettings read_settings(Spi &spi) {
    core::MatchSettings s;
    s.score_license = jobs::setting_number(spi, "score_license");
    s.score_phone = jobs::setting_number(spi, "score_phone");
    s.score_plate = jobs::setting_number(spi, "score_plate");
    s.score_name = jobs::setting_number(spi, "score_name");
    s.name_similarity_min = jobs::setting_number(spi, "name_similarity_min");
    s.name_token_similarity_min = jobs::setting_number(spi, "name_token_similarity_min");
    s.link_threshold = jobs::setting_number(spi, "link_threshold");
    return s;
}

// ---- reading ---------------------------------------------------------------

// The leads in work (every one is due: identity/scope.hpp), in scope order:
// raw fields, link and whether the person has a driver, in one query, and
// the persons each one is blocked from (C0 rule 2), when there are blocks.
void load_work(Spi &spi, Matcher &m, std::vector<WorkItem> &work, bool any_blocks) {
    std::vector<int64_t> ids;
    m.leads.reserve(work.size());
    ids.reserve(work.size());
    for (size_t i = 0; i < work.size(); i++) {
        WorkItem &w = work[i];
        Lead l;
        l.id = w.id;
        l.order = i;
        l.stage = std::move(w.stage);
        l.prev_outcome = std::move(w.outcome);
        l.state_version = w.version;
        ids.push_back(l.id);
        m.leads.push_back(std::move(l));
    }
    if (ids.empty()) return;
    spi.exec(sql::work_leads, {pg::p_int8_array(ids)}, true);
    std::vector<char> found(m.leads.size(), 0);
    pg::RowReader r(spi);
    const int ord = r.column("ord"), name = r.column("full_name"), phone = r.column("phone"),
              license = r.column("license_number"), plate = r.column("plate"),
              person = r.column("person_key"), has_driver = r.column("has_driver");
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        size_t at = (size_t)(r.int8(ord) - 1);  // m.leads holds exactly the ids, in order
        if (at >= m.leads.size())
            throw pg::Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: bad ordinality");
        Lead &l = m.leads[at];
        found[at] = 1;
        l.person = r.int8(person, 0);
        if (l.person) m.persons[l.person].has_driver = r.boolean(has_driver);
        l.loaded = true;
        l.raw = {r.text(name), r.text(phone), r.text(license), r.text(plate)};
        l.keys = core::normalize_keys(l.raw);
    }
    if (any_blocks) {
        spi.exec(sql::work_lead_blocks, {pg::p_int8_array(ids)}, true);
        const int block_ord = spi.column("ord"), blocked = spi.column("person_key");
        for (uint64_t i = 0; i < spi.rows(); i++)
            m.leads[(size_t)(spi.get_int8(i, block_ord) - 1)].blocked_persons.push_back(
                spi.get_int8(i, blocked));
    }
    // A lead deleted since the scope was read is out of the run.
    size_t k = 0;
    for (size_t i = 0; i < m.leads.size(); i++)
        if (found[i]) {
            if (k != i) m.leads[k] = std::move(m.leads[i]);
            k++;
        }
    m.leads.resize(k);
}

// The drivers each of `persons` is blocked from (C0 rule 2), for its driver step.
void load_driver_blocks(Spi &spi, Matcher &m, const std::vector<int64_t> &persons) {
    std::vector<int64_t> stored;
    for (int64_t p : persons)
        if (!is_temp_person(p)) stored.push_back(p);
    if (stored.empty()) return;
    spi.exec(sql::driver_blocks, {pg::p_int8_array(stored)}, true);
    const int person = spi.column("person_key"), driver = spi.column("driver_id");
    for (uint64_t i = 0; i < spi.rows(); i++)
        m.persons.at(spi.get_int8(i, person))
            .blocked_drivers.push_back(spi.get_text(i, driver).value_or(""));
}

// Not yet queried search keys, by type: the = ANY arrays of a key look-up.
struct KeyLists {
    std::vector<OptStr> values[3];  // phone, license, plate
    bool empty() const { return values[0].empty() && values[1].empty() && values[2].empty(); }
    // Sorted: an index scan sorts each = ANY array, presorted input is cheap.
    void sort() {
        for (auto &v : values) std::sort(v.begin(), v.end());
    }
};

// One query: every stored person linked to a raw lead that shares a not yet
// queried search key of `leads`, plus the persons in `person_keys`, each with
// the raw fields of every row linked to it (its keys are those rows' keys).
void load_persons(Spi &spi, Matcher &m, const std::vector<Lead *> &leads,
                  const std::vector<int64_t> &person_keys) {
    KeyLists q;
    for (Lead *l : leads)
        for_each_search_key(l->keys, [&](int t, const std::string &v) {
            if (m.mark_identity_queried(key_id(t, v))) q.values[t].emplace_back(v);
        });
    std::vector<int64_t> wanted;
    for (int64_t p : person_keys)
        if (!is_temp_person(p) && !m.loaded_persons.count(p)) wanted.push_back(p);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (q.empty() && wanted.empty()) return;
    q.sort();
    spi.exec_planned(sql::persons_by_keys,
                     {pg::p_text_array(q.values[0]), pg::p_text_array(q.values[1]),
                      pg::p_text_array(q.values[2]), pg::p_int8_array(wanted)},
                     true);
    // Rows of persons loaded before (found again by another key) add nothing.
    std::unordered_set<int64_t> now;
    pg::RowReader r(spi);
    const int person_key = r.column("person_key"), is_driver = r.column("is_driver"),
              name = r.column("full_name"), phone = r.column("phone"),
              license = r.column("license_number"), plate = r.column("plate");
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        int64_t p = r.int8(person_key);
        if (!now.count(p) && !m.loaded_persons.insert(p).second) continue;  // loaded before
        now.insert(p);
        Person &person = m.persons[p];
        person.has_driver |= r.boolean(is_driver);
        m.add_stored_keys(
            p, core::normalize_keys({r.text(name), r.text(phone), r.text(license), r.text(plate)}));
    }
}

// One query: raw.drivers rows sharing a not yet queried search key.
void load_drivers(Spi &spi, Matcher &m, KeyLists &q) {
    if (q.empty()) return;
    q.sort();
    spi.exec_planned(sql::drivers_by_keys,
                     {pg::p_text_array(q.values[0]), pg::p_text_array(q.values[1]),
                      pg::p_text_array(q.values[2])},
                     true);
    pg::RowReader r(spi);
    const int id = r.column("driver_id"), name = r.column("full_name"), phone = r.column("phone"),
              license = r.column("license_number"), plate = r.column("plate"),
              person = r.column("person_key");
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        Driver d;
        d.id = r.text(id).value_or("");
        core::RawFields raw{r.text(name), r.text(phone), r.text(license), r.text(plate)};
        d.keys = core::normalize_keys(raw);
        d.linked_person = r.int8(person, 0);
        m.add_driver(std::move(d));
    }
}

void want_driver_key(Matcher &m, KeyLists &q, int t, const std::string &v) {
    if (m.mark_driver_queried(key_id(t, v))) q.values[t].emplace_back(v);
}

// The candidates of unlinked `leads`: the persons linked to a raw lead or to
// a raw driver sharing a search key (the drivers read here serve the driver
// step too), plus the stored persons in `persons`.
void load_candidates(Spi &spi, Matcher &m, const std::vector<Lead *> &leads,
                     std::vector<int64_t> persons) {
    KeyLists q;
    for (Lead *l : leads)
        for_each_search_key(l->keys,
                            [&](int t, const std::string &v) { want_driver_key(m, q, t, v); });
    load_drivers(spi, m, q);
    for (Lead *l : leads) m.persons_of_drivers(l->keys, persons);
    load_persons(spi, m, leads, persons);
}

// The drivers sharing a search key with any of `persons`.
void load_drivers_of_persons(Spi &spi, Matcher &m, const std::vector<int64_t> &persons) {
    KeyLists q;
    for (int64_t p : persons) {
        const auto &k = m.persons.at(p).keys;
        const std::vector<std::string> *vals[3] = {&k.phones, &k.licenses, &k.plates};
        for (int t = 0; t < 3; t++)
            for (const auto &v : *vals[t]) want_driver_key(m, q, t, v);
    }
    load_drivers(spi, m, q);
}

// ---- deciding --------------------------------------------------------------

struct Counts {
    int64_t processed = 0, newly_linked = 0, newly_driver_mapped = 0, still_no_candidates = 0,
            conflicts = 0, errors = 0;
    jobs::Counters list() const {
        return {{"processed", processed},
                {"newly_linked", newly_linked},
                {"newly_driver_mapped", newly_driver_mapped},
                {"still_no_candidates", still_no_candidates},
                {"conflicts", conflicts},
                {"errors", errors}};
    }
};

void eval_lead(Matcher &m, Lead &l) {
    try {
        m.eval_identity(l);
    } catch (const pg::PgError &) {
        throw;
    } catch (const std::exception &) {
        l.error = true;  // one bad row never aborts the run (counted in errors)
    }
}

// Identity of every stale unlinked lead in `batch`, after one candidate query.
void identity_batch(Spi &spi, Matcher &m, const std::vector<Lead *> &batch) {
    std::vector<Lead *> need;
    std::vector<int64_t> persons;
    for (Lead *l : batch) {
        if (!l->loaded) continue;
        if (!l->person)
            need.push_back(l);
        else if (!m.loaded_persons.count(l->person))
            persons.push_back(l->person);
    }
    load_candidates(spi, m, need, std::move(persons));
    // Interrupts per lead: a cancel, statement_timeout or max_runtime stops
    // the run within one lead's bounded work (core::kMaxPersonsPerKey, ...).
    for (Lead *l : need) {
        pg::check_interrupts();
        if (m.identity_stale(*l)) eval_lead(m, *l);
    }
}

// Driver step of every due person of the leads, one driver query per batch
// (and one for the blocks of the persons seen for the first time, if any).
bool driver_pass(Spi &spi, Matcher &m, bool any_blocks,
                 const std::function<void(size_t, size_t)> &progress) {
    std::vector<int64_t> due;
    for (const Lead &l : m.leads)
        if (l.person && m.driver_step_due(l.person)) due.push_back(l.person);
    std::sort(due.begin(), due.end());  // person order: deterministic across runs
    due.erase(std::unique(due.begin(), due.end()), due.end());
    if (due.empty()) return false;
    for (size_t i = 0; i < due.size(); i += kBatch) {
        std::vector<int64_t> part(due.begin() + i, due.begin() + std::min(due.size(), i + kBatch));
        load_drivers_of_persons(spi, m, part);
        if (any_blocks) {
            std::vector<int64_t> first;
            for (int64_t p : part)
                if (!m.driver_results.count(p)) first.push_back(p);
            load_driver_blocks(spi, m, first);
        }
        for (int64_t p : part) {
            pg::check_interrupts();
            if (m.driver_step_due(p)) m.eval_driver(p);
        }
        progress(std::min(due.size(), i + kBatch), due.size());
    }
    return true;
}

// ---- writing ---------------------------------------------------------------

// The identity_unmatched reason of an unlinked lead, and of a linked lead
// whose person has no driver (nullptr: it linked its driver now).
const char *lead_unmatched_code(const Lead &l) {
    return l.blocked ? "BLOCKED" : core::decision_code(l.decision);
}
const char *driver_unmatched_code(const DriverResult &d) {
    if (d.linked_now) return nullptr;
    if (d.blocked) return "DRIVER_BLOCKED";
    if (d.conflict) return "DRIVER_CONFLICT";
    switch (d.decision) {
        case Decision::Ambiguous:
            return "DRIVER_AMBIGUOUS";
        case Decision::WeakMatch:
            return "DRIVER_WEAK_MATCH";
        default:
            return "DRIVER_NO_CANDIDATES";
    }
}

struct LeadOutcome {
    std::string stage;  // NO_IDENTITY | NO_DRIVER | DONE (its state row is deleted)
    OptStr outcome;     // the reason code kept in its state row and identity_unmatched
};

// The counters over the first `upto` leads (the ones decided so far: a
// progress line shows the counters as they are at that moment) and, with
// `out`, each one's outcome.
Counts tally(const Matcher &m, size_t upto, std::vector<LeadOutcome> *out) {
    Counts c;
    c.processed = (int64_t)upto;
    c.newly_driver_mapped = (int64_t)m.new_driver_links.size();
    if (out) out->assign(upto, {});
    for (size_t i = 0; i < upto; i++) {
        const Lead &l = m.leads[i];
        if (l.error) {
            c.errors++;
            continue;
        }
        if (l.linked_now) c.newly_linked++;
        LeadOutcome o;
        if (!l.person) {
            o.stage = "NO_IDENTITY";
            o.outcome = lead_unmatched_code(l);
            if (!l.blocked &&
                (l.decision == Decision::NoCandidates || l.decision == Decision::InvalidData))
                c.still_no_candidates++;
            else
                c.conflicts++;
        } else if (m.persons.at(l.person).has_driver) {
            o.stage = "DONE";
        } else {
            o.stage = "NO_DRIVER";
            auto r = m.driver_results.find(l.person);
            if (r != m.driver_results.end()) {
                o.outcome = driver_unmatched_code(r->second);
                // DRIVER_NO_CANDIDATES counts in neither (SPEC 4.1).
                if (!r->second.linked_now && *o.outcome != std::string("DRIVER_NO_CANDIDATES"))
                    c.conflicts++;
            }
        }
        if (out) (*out)[i] = std::move(o);
    }
    return c;
}

// The run's links in primary-key order (each insert lands next to the
// previous one in the index: 25 % cheaper than lead order for 168 000 links),
// with their evidence. Pure C++ on what the run decided.
struct LinkRows {
    std::vector<OptStr> table, pk, rule, score;
    std::vector<int64_t> person;
    std::vector<std::string> evidence;  // binary jsonb
};

LinkRows build_link_rows(const Matcher &m, const PersonKeyOf &real) {
    struct Ref {
        bool lead;  // else a driver ("drivers" sorts before "module_ct_cabinet_leads")
        std::string pk;
        size_t at;  // in m.leads or m.new_driver_links
    };
    std::vector<Ref> refs;
    refs.reserve(m.leads.size() + m.new_driver_links.size());
    for (size_t i = 0; i < m.leads.size(); i++)
        if (m.leads[i].linked_now && !m.leads[i].error)
            refs.push_back({true, std::to_string(m.leads[i].id), i});
    for (size_t i = 0; i < m.new_driver_links.size(); i++) {
        const DriverResult &r = m.driver_results.at(m.new_driver_links[i]);
        refs.push_back({false, m.drivers[(size_t)r.ranked[0].index].id, i});
    }
    std::sort(refs.begin(), refs.end(),
              [](const Ref &x, const Ref &y) { return x.lead != y.lead ? y.lead : x.pk < y.pk; });
    LinkRows out;
    for (auto *v : {&out.table, &out.pk, &out.rule, &out.score}) v->reserve(refs.size());
    out.person.reserve(refs.size());
    out.evidence.reserve(refs.size());
    core::JsonbWriter w;
    for (size_t n = 0; n < refs.size(); n++) {
        Ref &ref = refs[n];
        if (ref.lead) {
            const Lead &l = m.leads[ref.at];
            lead_link_evidence(w, m, l, real);
            out.table.emplace_back(kLeads);
            out.person.push_back(real(l.person));
            if (l.new_person) {
                out.rule.emplace_back("NEW_PERSON");
                out.score.emplace_back(std::nullopt);
            } else {
                out.rule.emplace_back(core::match_rule(l.ranked[0].score));
                out.score.emplace_back(std::to_string(l.ranked[0].score.total));
            }
        } else {
            int64_t p = m.new_driver_links[ref.at];
            const DriverResult &r = m.driver_results.at(p);
            driver_link_evidence(w, m, p, r, real);
            out.table.emplace_back("drivers");
            out.person.push_back(real(p));
            out.rule.emplace_back(core::match_rule(r.ranked[0].score));
            out.score.emplace_back(std::to_string(r.ranked[0].score.total));
        }
        out.pk.emplace_back(std::move(ref.pk));
        out.evidence.push_back(w.finish());
    }
    return out;
}

// The unmatched details of lead `l` for its outcome code.
void unmatched_details(core::JsonbWriter &w, const Matcher &m, const Lead &l,
                       const PersonKeyOf &real) {
    if (!l.person)
        lead_unmatched_details(w, m, l, real);
    else
        driver_unmatched_details(w, m, l.person, m.driver_results.at(l.person), real);
}

// The pending leads outside this run whose inputs its links changed: the
// leads sharing a key with a person the run linked a row to (or made), the
// leads of those persons, and of the persons that share a key with a driver
// it linked (ct4._identity_mark_inputs). Returns false when they are too
// many to mark one by one (ct4._identity_bulk_rows()): the caller moves the
// epoch instead.
struct Touched {
    std::vector<int64_t> persons;                  // real keys
    std::vector<OptStr> phones, licenses, plates;  // of the drivers linked now
};
Touched touched_by_run(const Matcher &m, const PersonKeyOf &real) {
    Touched t;
    for (const auto &[p, person] : m.persons)
        if (person.version > 0) t.persons.push_back(real(p));
    std::sort(t.persons.begin(), t.persons.end());
    for (int64_t p : m.new_driver_links) {
        const Driver &d = m.drivers[(size_t)m.driver_results.at(p).ranked[0].index];
        if (d.keys.phone) t.phones.emplace_back(d.keys.phone);
        if (d.keys.license) t.licenses.emplace_back(d.keys.license);
        if (d.keys.plate) t.plates.emplace_back(d.keys.plate);
    }
    return t;
}

// ---- the run ---------------------------------------------------------------

// What a run reads and decides, kept for its writes.
struct Run {
    explicit Run(const core::MatchSettings &s) : m(s) {}
    Matcher m;
    std::vector<WorkItem> work;
    int64_t epoch = 0;
    bool any_blocks = false;
    std::vector<LeadOutcome> out;  // by lead, once decided
};

// Read: the epoch, whether any block exists, the due leads in scope
// (identity/scope.hpp; nothing else is read) and their rows.
void read_work(Spi &spi, const Args &a, Run &run) {
    spi.exec(sql::identity_epoch);
    run.epoch = spi.get_int8(0, spi.column("epoch"));
    spi.exec(sql::any_blocks);
    run.any_blocks = spi.get_bool(0, spi.column("any_blocks"));
    run.work = take_scope(
        spi, {a.days_back, a.row_limit, a.process_recent, a.process_limbo, a.limbo_stages},
        run.epoch);
    load_work(spi, run.m, run.work, run.any_blocks);
    run.m.reserve(run.m.leads.size());
}

// Decide: identity, oldest lead first, a batch of leads per query; then
// drivers, then whatever the run's own links made stale, until stable. The
// counters are the job's.
void decide(jobs::Job &job, Run &run) {
    Spi &spi = job.spi();
    Matcher &m = run.m;
    const size_t total = m.leads.size();
    auto progress = [&](const char *phase, const char *unit, int64_t done, int64_t of,
                        size_t decided) {
        job.progress(phase, done, of, unit, [&] { return tally(m, decided, nullptr).list(); });
    };
    for (size_t i = 0; i < total; i += kBatch) {
        size_t end = std::min(total, i + kBatch);
        std::vector<Lead *> batch;
        for (size_t j = i; j < end; j++) batch.push_back(&m.leads[j]);
        identity_batch(spi, m, batch);
        progress("identity", "leads", (int64_t)end, (int64_t)total, end);
    }
    for (int round = 0; round < kMaxRounds; round++) {
        bool moved = driver_pass(spi, m, run.any_blocks, [&](size_t done, size_t of) {
            progress("drivers", "persons", (int64_t)done, (int64_t)of, total);
        });
        std::vector<Lead *> stale;
        for (Lead &l : m.leads)
            if (l.loaded && m.identity_stale(l)) stale.push_back(&l);
        for (size_t i = 0; i < stale.size(); i += kBatch) {
            std::vector<Lead *> part(stale.begin() + i,
                                     stale.begin() + std::min(stale.size(), i + kBatch));
            identity_batch(spi, m, part);
        }
        if (!moved && stale.empty()) break;
    }
    for (const auto &[name, value] : tally(m, total, &run.out).list())
        job.counter(name.c_str()) = value;
}

// Write: persons, today's unmatched rows, lead states, links, then the marks
// of the pending leads outside the run whose inputs its links changed.
void write_results(jobs::Job &job, Run &run) {
    Spi &spi = job.spi();
    job.progress("writing", 0, 0, "");
    // Real keys of the persons this run made, in creation order.
    std::vector<int64_t> new_keys_of;
    if (run.m.new_person_count > 0) {
        spi.exec(sql::insert_persons,
                 {pg::p_int8(job.run_id()), pg::p_int8(run.m.new_person_count)});
        const int key = spi.column("person_key");
        for (uint64_t i = 0; i < spi.rows(); i++) new_keys_of.push_back(spi.get_int8(i, key));
        std::sort(new_keys_of.begin(), new_keys_of.end());
    }
    PersonKeyOf real = [&](int64_t p) {
        return is_temp_person(p) ? new_keys_of.at((size_t)(p - kTempPersonBase - 1)) : p;
    };
    const Matcher &decided = run.m;
    const std::vector<LeadOutcome> &out = run.out;
    Touched touched = touched_by_run(decided, real);

    // Today's unmatched rows: refreshed in place, and removed for leads that
    // no longer have an unmatched outcome.
    core::JsonbWriter w;
    std::vector<OptStr> unmatched_pk, unmatched_code, cleared;
    std::vector<std::string> unmatched_details_of;
    for (size_t i = 0; i < decided.leads.size(); i++) {
        const Lead &l = decided.leads[i];
        if (l.error) continue;
        if (!out[i].outcome) {
            cleared.emplace_back(std::to_string(l.id));
            continue;
        }
        unmatched_pk.emplace_back(std::to_string(l.id));
        unmatched_code.push_back(out[i].outcome);
        unmatched_details(w, decided, l, real);
        unmatched_details_of.push_back(w.finish());
    }
    if (!unmatched_pk.empty())
        spi.exec(sql::upsert_unmatched,
                 {pg::p_int8(job.run_id()), pg::p_text_array(unmatched_pk),
                  pg::p_text_array(unmatched_code), pg::p_jsonb_array(unmatched_details_of)});
    if (!cleared.empty()) spi.exec(sql::clear_unmatched, {pg::p_text_array(cleared)});

    // Every lead in work has its identity_lead_state row: a lead that is done
    // now leaves the table, the others get their outcome, both only over the
    // version the run read (a change committed meanwhile keeps the row due:
    // the next run decides it again). In primary-key order, like the links.
    std::vector<size_t> order;
    for (size_t i = 0; i < decided.leads.size(); i++)
        if (!decided.leads[i].error) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&](size_t x, size_t y) { return decided.leads[x].id < decided.leads[y].id; });
    std::vector<int64_t> state_id, state_version, done_id, done_version, work_ids;
    std::vector<OptStr> state_stage, state_outcome;
    for (size_t i : order) {
        const Lead &l = decided.leads[i];
        if (out[i].stage == "DONE") {
            done_id.push_back(l.id);
            done_version.push_back(l.state_version);
        } else {
            state_id.push_back(l.id);
            state_version.push_back(l.state_version);
            state_stage.emplace_back(out[i].stage);
            state_outcome.push_back(out[i].outcome);
        }
    }
    for (const Lead &l : decided.leads) work_ids.push_back(l.id);
    std::sort(work_ids.begin(), work_ids.end());
    if (!done_id.empty())
        spi.exec(sql::delete_done_states,
                 {pg::p_int8_array(done_id), pg::p_int8_array(done_version)});
    // Every lead of a person that existed before the run and got its driver
    // now is done, in scope or not (a person made in this run has no lead
    // outside the run's work; a change to such a lead cannot undo it: links
    // never change).
    std::vector<int64_t> driver_persons;
    for (int64_t p : decided.new_driver_links)
        if (!is_temp_person(p)) driver_persons.push_back(p);
    if (!driver_persons.empty())
        spi.exec(sql::delete_states_of_driver_persons, {pg::p_int8_array(driver_persons)});
    // What the run linked changes the inputs of pending leads outside it.
    // Marked one by one below (after the links, whose rows the marking
    // reads); when they are too many, the epoch moves instead, and the run's
    // own leads take the new epoch unless someone else moved it meanwhile
    // (then they are due again too).
    bool mark = false;
    if (!touched.persons.empty()) {
        spi.exec(sql::pending_outside_work, {pg::p_int8_array(work_ids)});
        mark = spi.get_bool(0, spi.column("any_pending"));
    }
    int64_t stamp = run.epoch;
    if (mark) {
        spi.exec(sql::bulk_rows);
        if ((int64_t)touched.persons.size() > spi.get_int8(0, spi.column("bulk_rows"))) {
            mark = false;
            auto e = spi.scalar_int8(sql::bump_epoch);
            if (e && *e == run.epoch + 1) stamp = *e;
        }
    }
    if (!state_id.empty())
        spi.exec(sql::update_states,
                 {pg::p_int8(job.run_id()), pg::p_int8(stamp), pg::p_int8_array(state_id),
                  pg::p_int8_array(state_version), pg::p_text_array(state_stage),
                  pg::p_text_array(state_outcome)});

    // Links, inserted last: evidence is binary jsonb (identity/evidence.hpp)
    // and travels as one jsonb[]: nothing is parsed. Built here, on the
    // backend's thread: no second thread in a backend (a second thread bought
    // less than a fifth of the run, docs/identity.md).
    LinkRows link_rows = build_link_rows(decided, real);
    if (!link_rows.pk.empty())
        spi.exec(sql::insert_links,
                 {pg::p_int8(job.run_id()), pg::p_text_array(link_rows.table),
                  pg::p_text_array(link_rows.pk), pg::p_int8_array(link_rows.person),
                  pg::p_text_array(link_rows.rule), pg::p_text_array(link_rows.score),
                  pg::p_jsonb_array(link_rows.evidence)});
    if (mark)
        spi.exec(sql::mark_inputs,
                 {pg::p_text_array(touched.phones), pg::p_text_array(touched.licenses),
                  pg::p_text_array(touched.plates), pg::p_int8_array(touched.persons),
                  pg::p_int8_array(work_ids)});
}

// The job: its counters are the result columns (by name) and the stats.
const jobs::JobSpec kIdentityJob{"reconcile_leads_pipeline",
                                 {kLeads},
                                 {"processed", "newly_linked", "newly_driver_mapped",
                                  "still_no_candidates", "conflicts", "errors"},
                                 true,
                                 // Many small planned statements: JIT would cost more than
                                 // they run (about 0.5 s per batch query).
                                 true};

}  // namespace

Datum reconcile_leads_pipeline(FunctionCallInfo fcinfo) {
    jobs::Job job(fcinfo, kIdentityJob);
    Args a = read_args(job);
    return job.run([&](jobs::Job &job) {
        Run run(read_settings(job.spi()));
        read_work(job.spi(), a, run);
        decide(job, run);
        if (!job.dry_run()) write_results(job, run);
    });
}

}  // namespace ct4::identity

CT4_FUNCTION(ct4_reconcile_leads_pipeline, ct4::identity::reconcile_leads_pipeline)
