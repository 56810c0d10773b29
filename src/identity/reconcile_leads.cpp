// ct4.reconcile_leads_pipeline (SPEC 4.1): the identity job. One transaction:
//   1. arguments, run record, lock (second caller: SKIPPED_LOCKED at once);
//   2. scope: the first row_limit leads of (recent ∪ limbo) in lead order,
//      counted from indexes; only its pending leads are read;
//   3. identity per batch of leads (one candidate query per batch), driver
//      step per batch of persons (one driver query per batch), repeated on
//      what this run changed until nothing moves, so a rerun finds nothing;
//   4. the writes, one statement per table (arrays + unnest);
//   5. the counters: run record and result row.
#include "core/background.hpp"
#include "core/match.hpp"
#include "identity/evidence.hpp"
#include "identity/matcher.hpp"
#include "identity/scope.hpp"
#include "jobs/job_run.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/spi.hpp"
#include "pg/srf.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <vector>

namespace ct4::identity {

namespace {

using core::Decision;
using pg::Spi;
using OptStr = std::optional<std::string>;

constexpr size_t kBatch = 2000;
constexpr int kMaxRounds = 20;
const char *const kLeads = "module_ct_cabinet_leads";

struct Args {
    int32_t days_back, row_limit;
    bool process_recent, process_limbo, dry_run;
    std::vector<std::string> limbo_stages;
};

Args read_args(FunctionCallInfo fcinfo) {
    Args a;
    a.days_back = pg::arg_int4(fcinfo, 0, "days_back");
    a.row_limit = pg::arg_int4(fcinfo, 1, "row_limit");
    a.process_recent = pg::arg_bool(fcinfo, 2, "process_recent");
    a.process_limbo = pg::arg_bool(fcinfo, 3, "process_limbo");
    a.limbo_stages = pg::arg_text_array(fcinfo, 4, "limbo_stages");
    a.dry_run = pg::arg_bool(fcinfo, 5, "dry_run");
    pg::require_range("days_back", a.days_back, 0, 36500);
    pg::require_range("row_limit", a.row_limit, 1, 100000000);
    for (const auto &s : a.limbo_stages)
        if (s != "NO_IDENTITY" && s != "NO_DRIVER" && s != "TRIPS_NO_CLAIM")
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "limbo_stages contains an unknown stage \"" + s + "\"",
                            "Known stages: NO_IDENTITY, NO_DRIVER, TRIPS_NO_CLAIM.");
    return a;
}

std::string args_json(const Args &a) {
    std::string st = "[";
    for (size_t i = 0; i < a.limbo_stages.size(); i++)
        st += (i ? "," : "") + jobs::json_string(a.limbo_stages[i]);
    auto b = [](bool v) { return v ? "true" : "false"; };
    return "{\"days_back\":" + std::to_string(a.days_back) +
           ",\"row_limit\":" + std::to_string(a.row_limit) +
           ",\"process_recent\":" + b(a.process_recent) +
           ",\"process_limbo\":" + b(a.process_limbo) + ",\"limbo_stages\":" + st +
           "],\"dry_run\":" + b(a.dry_run) + "}";
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
    spi.exec(
        "SELECT w.ord, l.full_name, l.phone, l.license_number, l.plate, li.person_key,"
        "       EXISTS (SELECT 1 FROM canon.identity_links d WHERE d.source_table = 'drivers'"
        "                  AND d.person_key = li.person_key)"
        "  FROM pg_catalog.unnest($1::bigint[]) WITH ORDINALITY w(lead_id, ord)"
        "  JOIN raw.module_ct_cabinet_leads l ON l.lead_id = w.lead_id"
        "  LEFT JOIN canon.identity_links li"
        "    ON li.source_table = 'module_ct_cabinet_leads' AND li.source_pk = w.lead_id::text",
        {pg::p_int8_array(ids)}, true);
    std::vector<char> found(m.leads.size(), 0);
    pg::RowReader r(spi);
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        size_t at = (size_t)(r.int8(0) - 1);  // m.leads holds exactly the ids, in order
        if (at >= m.leads.size())
            throw pg::Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: bad ordinality");
        Lead &l = m.leads[at];
        found[at] = 1;
        l.person = r.int8(5, 0);
        if (l.person) m.persons[l.person].has_driver = r.boolean(6);
        l.loaded = true;
        l.raw = {r.text(1), r.text(2), r.text(3), r.text(4)};
        l.keys = core::normalize_keys(l.raw);
    }
    if (any_blocks) {
        spi.exec(
            "SELECT w.ord, b.person_key FROM pg_catalog.unnest($1::bigint[]) WITH ORDINALITY "
            "w(lead_id, ord)"
            "  JOIN canon.identity_blocks b ON b.source_table = 'module_ct_cabinet_leads'"
            "   AND b.source_pk = w.lead_id::text AND b.lifted_at IS NULL",
            {pg::p_int8_array(ids)}, true);
        for (uint64_t i = 0; i < spi.rows(); i++)
            m.leads[(size_t)(spi.get_int8(i, 0) - 1)].blocked_persons.push_back(spi.get_int8(i, 1));
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
    spi.exec(
        "SELECT b.person_key, b.source_pk FROM canon.identity_blocks b"
        " WHERE b.source_table = 'drivers' AND b.lifted_at IS NULL"
        "   AND b.person_key = ANY ($1::bigint[])",
        {pg::p_int8_array(stored)}, true);
    for (uint64_t i = 0; i < spi.rows(); i++)
        m.persons.at(spi.get_int8(i, 0)).blocked_drivers.push_back(spi.get_text(i, 1).value_or(""));
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

// The search-key expressions of the expression indexes in
// schema/100_identity.sql (on raw leads as l, on raw.drivers as d), compared
// in the indexes' collation "C".
#define CT4_KEYS_MATCH(t)                                       \
    "((ct4.normalize_phone(" t                                  \
    ".phone) COLLATE pg_catalog.\"C\") = ANY($1)"               \
    " OR (pg_catalog.\"left\"(ct4.normalize_license(" t         \
    ".license_number), 64) COLLATE pg_catalog.\"C\") = ANY($2)" \
    " OR (pg_catalog.\"left\"(ct4.normalize_plate(" t           \
    ".plate), 64) COLLATE pg_catalog.\"C\")"                    \
    " = ANY($3))"

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
    spi.exec_planned(
        "WITH p AS ("
        "  SELECT li.person_key FROM raw.module_ct_cabinet_leads l"
        "    JOIN canon.identity_links li"
        "      ON li.source_table = 'module_ct_cabinet_leads' AND li.source_pk = l.lead_id::text"
        "   WHERE " CT4_KEYS_MATCH("l") " UNION SELECT pg_catalog.unnest($4::bigint[]))"
        // Its leads and its driver, each through its partial person index.
        " SELECT il.person_key, false, l.full_name, l.phone, l.license_number, l.plate"
        "   FROM p JOIN canon.identity_links il"
        "     ON il.source_table = 'module_ct_cabinet_leads' AND il.person_key = p.person_key"
        "   LEFT JOIN raw.module_ct_cabinet_leads l ON l.lead_id::text = il.source_pk"
        " UNION ALL"
        " SELECT il.person_key, true, d.full_name, d.phone, d.license_number, d.plate"
        "   FROM p JOIN canon.identity_links il"
        "     ON il.source_table = 'drivers' AND il.person_key = p.person_key"
        "   LEFT JOIN raw.drivers d ON d.driver_id = il.source_pk",
        {pg::p_text_array(q.values[0]), pg::p_text_array(q.values[1]),
         pg::p_text_array(q.values[2]), pg::p_int8_array(wanted)},
        true);
    // Rows of persons loaded before (found again by another key) add nothing.
    std::unordered_set<int64_t> now;
    pg::RowReader r(spi);
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        int64_t p = r.int8(0);
        if (!now.count(p) && !m.loaded_persons.insert(p).second) continue;  // loaded before
        now.insert(p);
        Person &person = m.persons[p];
        person.has_driver |= r.boolean(1);
        m.add_stored_keys(p, core::normalize_keys({r.text(2), r.text(3), r.text(4), r.text(5)}));
    }
}

// One query: raw.drivers rows sharing a not yet queried search key.
void load_drivers(Spi &spi, Matcher &m, KeyLists &q) {
    if (q.empty()) return;
    q.sort();
    spi.exec_planned(
        "SELECT d.driver_id, d.full_name, d.phone, d.license_number, d.plate, il.person_key"
        "  FROM raw.drivers d"
        "  LEFT JOIN canon.identity_links il"
        "    ON il.source_table = 'drivers' AND il.source_pk = d.driver_id"
        " WHERE " CT4_KEYS_MATCH("d"),
        {pg::p_text_array(q.values[0]), pg::p_text_array(q.values[1]),
         pg::p_text_array(q.values[2])},
        true);
    pg::RowReader r(spi);
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        Driver d;
        d.id = r.text(0).value_or("");
        core::RawFields raw{r.text(1), r.text(2), r.text(3), r.text(4)};
        d.keys = core::normalize_keys(raw);
        d.linked_person = r.int8(5, 0);
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
// with their evidence. Pure C++ on what the run decided: it runs on a second
// thread while the unmatched rows and lead states are written, and stops early
// when `stop` is set (the run is failing).
struct LinkRows {
    std::vector<OptStr> table, pk, rule, score;
    std::vector<int64_t> person;
    std::vector<std::string> evidence;  // binary jsonb
};

LinkRows build_link_rows(const Matcher &m, const PersonKeyOf &real, const std::atomic<bool> &stop) {
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
        if (n % 1024 == 0 && stop) break;
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

}  // namespace

Datum reconcile_leads_pipeline(FunctionCallInfo fcinfo) {
    Args a = read_args(fcinfo);
    pg::RowSink sink(fcinfo);
    Spi spi;
    jobs::JobRun run(spi, "reconcile_leads_pipeline", args_json(a), {kLeads});
    Counts c;
    OptStr jit;
    auto put_result = [&](const char *status) {
        if (jit) spi.exec("SELECT pg_catalog.set_config('jit', $1, true)", {pg::p_text(jit)});
        run.finish(status, c.list());
        double ms = run.elapsed_ms();
        auto i4 = [](int64_t v) { return pg::OutCol{Int32GetDatum((int32_t)v), false}; };
        Datum st = pg::text_datum(status);
        sink.put_row({{Int64GetDatum(run.run_id()), false},
                      {st, false},
                      i4(c.processed),
                      i4(c.newly_linked),
                      i4(c.newly_driver_mapped),
                      i4(c.still_no_candidates),
                      i4(c.conflicts),
                      i4(c.errors),
                      {Float8GetDatum(ms), false}});
    };
    if (!run.try_lock()) {
        put_result("SKIPPED_LOCKED");
        return (Datum)0;
    }
    // Many small planned statements: JIT compilation would cost more than
    // they run (about 0.5 s per batch query). Off for the run, restored after.
    jit = spi.scalar_text("SELECT pg_catalog.current_setting('jit')");
    spi.exec("SELECT pg_catalog.set_config('jit', 'off', true)");
    Matcher m(read_settings(spi));
    int64_t epoch =
        spi.scalar_int8("SELECT coalesce((SELECT e.epoch FROM canon.identity_epoch e), 0)")
            .value_or(0);
    bool any_blocks =
        spi.scalar_int8(
               "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM canon.identity_blocks b"
               " WHERE b.lifted_at IS NULL LIMIT 1) x")
            .value_or(0) > 0;

    // The due leads in scope (identity/scope.hpp); nothing else is read.
    std::vector<WorkItem> work = take_scope(
        spi, {a.days_back, a.row_limit, a.process_recent, a.process_limbo, a.limbo_stages}, epoch);
    load_work(spi, m, work, any_blocks);
    m.reserve(m.leads.size());
    const size_t total = m.leads.size();
    auto progress = [&](const char *phase, const char *unit, int64_t done, int64_t of,
                        size_t decided) {
        run.progress(phase, done, of, unit, [&] { return tally(m, decided, nullptr).list(); });
    };

    // Pass 1: identity, oldest lead first, a batch of leads per query.
    for (size_t i = 0; i < total; i += kBatch) {
        size_t end = std::min(total, i + kBatch);
        std::vector<Lead *> batch;
        for (size_t j = i; j < end; j++) batch.push_back(&m.leads[j]);
        identity_batch(spi, m, batch);
        progress("identity", "leads", (int64_t)end, (int64_t)total, end);
    }
    // Then drivers, then whatever the run's own links made stale, until stable.
    for (int round = 0; round < kMaxRounds; round++) {
        bool moved = driver_pass(spi, m, any_blocks, [&](size_t done, size_t of) {
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

    std::vector<LeadOutcome> out;
    c = tally(m, total, &out);
    if (a.dry_run) {
        put_result("DRY_RUN");
        return (Datum)0;
    }
    run.progress("writing", 0, 0, "", [&] { return c.list(); });

    // The writes below unnest their arrays in the select list (ProjectSet):
    // rows stream into the INSERT, where unnest in FROM would first copy
    // every row into a tuplestore (about 20 % of a 500 000-row insert).

    // Real keys of the persons this run made, in creation order.
    std::vector<int64_t> new_keys_of;
    if (m.new_person_count > 0) {
        spi.exec(
            "INSERT INTO canon.persons (created_by_run)"
            " SELECT $1 FROM pg_catalog.generate_series(1, $2) RETURNING person_key",
            {pg::p_int8(run.run_id()), pg::p_int8(m.new_person_count)});
        for (uint64_t i = 0; i < spi.rows(); i++) new_keys_of.push_back(spi.get_int8(i, 0));
        std::sort(new_keys_of.begin(), new_keys_of.end());
    }
    PersonKeyOf real = [&](int64_t p) {
        return is_temp_person(p) ? new_keys_of.at((size_t)(p - kTempPersonBase - 1)) : p;
    };
    Touched touched = touched_by_run(m, real);
    // The links and their evidence are built on a second thread while the
    // unmatched rows and lead states are written (0.3-0.6 s of C++ off the
    // run's path); they are inserted last. Until links.get() nothing changes
    // `m` or `new_keys_of`: the thread reads them.
    const Matcher &cm = m;
    core::Background<LinkRows> links(
        [&](const std::atomic<bool> &stop) { return build_link_rows(cm, real, stop); });

    // Today's unmatched rows: refreshed in place, and removed for leads that
    // no longer have an unmatched outcome.
    core::JsonbWriter w;
    std::vector<OptStr> u_pk, u_code, cleared;
    std::vector<std::string> u_det;
    for (size_t i = 0; i < cm.leads.size(); i++) {
        const Lead &l = cm.leads[i];
        if (l.error) continue;
        if (!out[i].outcome) {
            cleared.emplace_back(std::to_string(l.id));
            continue;
        }
        u_pk.emplace_back(std::to_string(l.id));
        u_code.push_back(out[i].outcome);
        unmatched_details(w, cm, l, real);
        u_det.push_back(w.finish());
    }
    if (!u_pk.empty())
        spi.exec(
            "INSERT INTO canon.identity_unmatched AS x"
            " (source_table, source_pk, reason_code, details, snapshot_date, run_id)"
            " SELECT 'module_ct_cabinet_leads', u.pk, u.code, u.det, CURRENT_DATE, $1"
            "   FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]),"
            "                  pg_catalog.unnest($4::jsonb[])) AS u(pk, code, det)"
            " ON CONFLICT (source_table, source_pk, snapshot_date) DO UPDATE"
            "   SET reason_code = EXCLUDED.reason_code, details = EXCLUDED.details,"
            "       run_id = EXCLUDED.run_id"
            " WHERE (x.reason_code, x.details) IS DISTINCT FROM (EXCLUDED.reason_code, "
            "EXCLUDED.details)",
            {pg::p_int8(run.run_id()), pg::p_text_array(u_pk), pg::p_text_array(u_code),
             pg::p_jsonb_array(u_det)});
    if (!cleared.empty())
        spi.exec(
            "DELETE FROM canon.identity_unmatched x WHERE x.source_table = "
            "'module_ct_cabinet_leads'"
            "   AND x.snapshot_date = CURRENT_DATE AND x.source_pk = ANY($1)",
            {pg::p_text_array(cleared)});

    // Every lead in work has its identity_lead_state row: a lead that is done
    // now leaves the table, the others get their outcome, both only over the
    // version the run read (a change committed meanwhile keeps the row due:
    // the next run decides it again). In primary-key order, like the links.
    std::vector<size_t> order;
    for (size_t i = 0; i < cm.leads.size(); i++)
        if (!cm.leads[i].error) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&](size_t x, size_t y) { return cm.leads[x].id < cm.leads[y].id; });
    std::vector<int64_t> s_id, s_ver, done_id, done_ver, work_ids;
    std::vector<OptStr> s_stage, s_outcome;
    for (size_t i : order) {
        const Lead &l = cm.leads[i];
        if (out[i].stage == "DONE") {
            done_id.push_back(l.id);
            done_ver.push_back(l.state_version);
        } else {
            s_id.push_back(l.id);
            s_ver.push_back(l.state_version);
            s_stage.emplace_back(out[i].stage);
            s_outcome.push_back(out[i].outcome);
        }
    }
    for (const Lead &l : cm.leads) work_ids.push_back(l.id);
    std::sort(work_ids.begin(), work_ids.end());
    if (!done_id.empty())
        spi.exec(
            "DELETE FROM canon.identity_lead_state s"
            " USING (SELECT pg_catalog.unnest($1::bigint[]) AS id, pg_catalog.unnest($2::bigint[]) "
            "AS v) d"
            " WHERE s.lead_id = d.id AND s.version = d.v",
            {pg::p_int8_array(done_id), pg::p_int8_array(done_ver)});
    // Every lead of a person that existed before the run and got its driver
    // now is done, in scope or not (a person made in this run has no lead
    // outside the run's work; a change to such a lead cannot undo it: links
    // never change).
    std::vector<int64_t> driver_persons;
    for (int64_t p : cm.new_driver_links)
        if (!is_temp_person(p)) driver_persons.push_back(p);
    if (!driver_persons.empty())
        spi.exec(
            "DELETE FROM canon.identity_lead_state s"
            " USING pg_catalog.unnest($1::bigint[]) AS p(person_key)"
            "  JOIN canon.identity_links il"
            "    ON il.person_key = p.person_key AND il.source_table = 'module_ct_cabinet_leads'"
            " WHERE s.lead_id = il.source_pk::bigint",
            {pg::p_int8_array(driver_persons)});
    // What the run linked changes the inputs of pending leads outside it.
    // Marked one by one below (after the links, whose rows the marking
    // reads); when they are too many, the epoch moves instead, and the run's
    // own leads take the new epoch unless someone else moved it meanwhile
    // (then they are due again too).
    bool mark = !touched.persons.empty() &&
                spi.scalar_int8(
                       "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM canon.identity_lead_state s"
                       " WHERE NOT s.lead_id = ANY ($1::bigint[]) LIMIT 1) x",
                       {pg::p_int8_array(work_ids)})
                        .value_or(0) > 0;
    int64_t stamp = epoch;
    if (mark && (int64_t)touched.persons.size() >
                    spi.scalar_int8("SELECT ct4._identity_bulk_rows()").value_or(0)) {
        mark = false;
        auto e = spi.scalar_int8(
            "INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)"
            " ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1 RETURNING e.epoch");
        if (e && *e == epoch + 1) stamp = *e;
    }
    if (!s_id.empty())
        spi.exec(
            "UPDATE canon.identity_lead_state s"
            "   SET stage = u.st, outcome = u.o, changed = false, inputs_changed = false,"
            "       checked_run = $1, checked_epoch = $2"
            "  FROM (SELECT pg_catalog.unnest($3::bigint[]) AS id, pg_catalog.unnest($4::bigint[]) "
            "AS v,"
            "               pg_catalog.unnest($5::text[]) AS st, pg_catalog.unnest($6::text[]) AS "
            "o) u"
            " WHERE s.lead_id = u.id AND s.version = u.v",
            {pg::p_int8(run.run_id()), pg::p_int8(stamp), pg::p_int8_array(s_id),
             pg::p_int8_array(s_ver), pg::p_text_array(s_stage), pg::p_text_array(s_outcome)});

    // Links: evidence is binary jsonb (identity/evidence.hpp) and travels as
    // one jsonb[]: nothing is parsed.
    LinkRows lr = links.get();
    // Nothing of what the run decided is needed any more: it is freed on a
    // second thread during the links insert (the matcher alone is about a
    // million small blocks; freeing them took 0.3 s). The last owner of
    // `done` is the thread's body, so the frees happen there.
    struct Done {
        Matcher m;
        std::vector<WorkItem> work;
        std::vector<LeadOutcome> out;
    };
    auto done = std::make_shared<Done>(Done{std::move(m), std::move(work), std::move(out)});
    core::Background<bool> freeing([d = std::move(done)](const std::atomic<bool> &) mutable {
        d.reset();
        return true;
    });
    if (!lr.pk.empty())
        spi.exec(
            "INSERT INTO canon.identity_links"
            " (source_table, source_pk, person_key, match_rule, match_score, evidence, linked_at, "
            "run_id)"
            " SELECT u.t, u.pk, u.person, u.rule, u.score::real, u.ev, pg_catalog.now(), $1"
            "   FROM (SELECT pg_catalog.unnest($2::text[]) AS t, pg_catalog.unnest($3::text[]) AS "
            "pk,"
            "                pg_catalog.unnest($4::bigint[]) AS person, "
            "pg_catalog.unnest($5::text[]) AS rule,"
            "                pg_catalog.unnest($6::text[]) AS score, "
            "pg_catalog.unnest($7::jsonb[]) AS ev) u",
            {pg::p_int8(run.run_id()), pg::p_text_array(lr.table), pg::p_text_array(lr.pk),
             pg::p_int8_array(lr.person), pg::p_text_array(lr.rule), pg::p_text_array(lr.score),
             pg::p_jsonb_array(lr.evidence)});
    if (mark)
        spi.exec("SELECT ct4._identity_mark_inputs($1, $2, $3, $4, $5)",
                 {pg::p_text_array(touched.phones), pg::p_text_array(touched.licenses),
                  pg::p_text_array(touched.plates), pg::p_int8_array(touched.persons),
                  pg::p_int8_array(work_ids)});

    put_result("SUCCESS");
    return (Datum)0;
}

}  // namespace ct4::identity

CT4_FUNCTION(ct4_reconcile_leads_pipeline, ct4::identity::reconcile_leads_pipeline)
