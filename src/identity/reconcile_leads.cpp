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
#include "jobs/job_run.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/spi.hpp"
#include "pg/srf.hpp"

#include <algorithm>
#include <atomic>
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
    s.link_threshold = jobs::setting_number(spi, "link_threshold");
    return s;
}

bool has(const std::vector<std::string> &v, const char *s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// ---- scope -----------------------------------------------------------------

// A pending lead in scope, with what identity_lead_state says of it.
struct WorkItem {
    int64_t id;
    std::string stage, outcome;
    bool fresh;  // checked today at the current epoch: same outcome again
};

struct Scope {
    int64_t processed = 0;
    std::vector<WorkItem> work;  // pending leads in scope, in lead order
};

struct Extra {
    int64_t id;
    bool null_date, pending;
    int32_t date;
    WorkItem w;
};

// Columns 0, 2, 3, 4 of the state queries below: lead_id, stage, outcome, fresh.
WorkItem read_work_item(const pg::RowReader &r) {
    return {r.int8(0), r.text(2).value_or("NEW"), r.text(3).value_or(""), r.boolean(4)};
}

Scope compute_scope(Spi &spi, const Args &a, int64_t epoch) {
    Scope sc;
    std::vector<std::optional<std::string>> state_stages;
    if (a.process_limbo && has(a.limbo_stages, "NO_IDENTITY")) {
        state_stages.emplace_back("NEW");
        state_stages.emplace_back("NO_IDENTITY");
    }
    if (a.process_limbo && has(a.limbo_stages, "NO_DRIVER")) state_stages.emplace_back("NO_DRIVER");
    bool tnc = a.process_limbo && has(a.limbo_stages, "TRIPS_NO_CLAIM");
    int64_t limit = a.row_limit;

    // Limbo leads outside the recent range (all of them without process_recent):
    // pending ones from the state index, TRIPS_NO_CLAIM ones (they need nothing
    // from this job but count as processed). Only the first `limit` of their
    // union can be in scope, so each list is cut at `limit`, and TRIPS_NO_CLAIM
    // leads are looked for only before the last pending lead of a full list.
    std::vector<Extra> pend, tncs;
    if (!state_stages.empty()) {
        spi.exec(
            "SELECT s.lead_id, s.lead_date, s.stage, s.outcome,"
            "       coalesce(s.stage IN ('NO_IDENTITY', 'NO_DRIVER') AND s.checked_epoch = $5"
            "                AND s.checked_on = CURRENT_DATE, false)"
            "  FROM canon.identity_lead_state s"
            "  WHERE s.stage = ANY($1)"
            "    AND (NOT $2 OR s.lead_date IS NULL OR s.lead_date < CURRENT_DATE - $3)"
            "  ORDER BY s.lead_date NULLS LAST, s.lead_id LIMIT $4",
            {pg::p_text_array(state_stages), pg::p_bool(a.process_recent), pg::p_int4(a.days_back),
             pg::p_int8(limit), pg::p_int8(epoch)},
            true);
        pg::RowReader r(spi);
        for (uint64_t i = 0; i < spi.rows(); i++) {
            r.load(i);
            pend.push_back({r.int8(0), r.is_null(1), true, r.int4(1), read_work_item(r)});
        }
    }
    if (tnc) {
        bool bounded = (int64_t)pend.size() == limit;
        // A full pending list bounds the search at its last lead; one ending
        // in a NULL date bounds nothing (every dated lead sorts before it).
        pg::Param bdate = pg::p_null(DATEOID);
        pg::Param bid = pg::p_int8(0);
        if (bounded && !pend.back().null_date) {
            bdate = pg::p_date(pend.back().date);
            bid = pg::p_int8(pend.back().id);
        }
        spi.exec(
            "SELECT t.lead_id, t.lead_date FROM ct4._identity_trips_no_claim("
            "  CASE WHEN $1 THEN CURRENT_DATE - $2 END, $3, $4, $5) t",
            {pg::p_bool(a.process_recent), pg::p_int4(a.days_back), bdate, bid, pg::p_int8(limit)},
            true);
        pg::RowReader r(spi);
        for (uint64_t i = 0; i < spi.rows(); i++) {
            r.load(i);
            tncs.push_back({r.int8(0), false, false, r.int4(1), {}});  // never NULL-dated
        }
    }
    // Merge in lead order (NULL dates last); a lead in both lists is pending.
    std::vector<Extra> extras;
    {
        auto before = [](const Extra &x, const Extra &y) {
            if (x.null_date != y.null_date) return y.null_date;
            if (x.null_date) return x.id < y.id;
            if (x.date != y.date) return x.date < y.date;
            return x.id < y.id;
        };
        size_t i = 0, j = 0;
        while (i < pend.size() || j < tncs.size()) {
            if (j == tncs.size() || (i < pend.size() && !before(tncs[j], pend[i]))) {
                if (j < tncs.size() && tncs[j].id == pend[i].id) j++;
                extras.push_back(std::move(pend[i++]));
            } else {
                extras.push_back(std::move(tncs[j++]));
            }
        }
    }
    auto take = [&](bool null_dates) {
        for (auto &e : extras) {
            if (e.null_date != null_dates || sc.processed >= limit) continue;
            sc.processed++;
            if (e.pending) sc.work.push_back(std::move(e.w));
        }
    };
    if (!a.process_recent) {
        take(false);
        take(true);
        return sc;
    }
    // Order of the scope: older limbo leads, the recent range, NULL-dated limbo leads.
    take(false);
    int64_t room = limit - sc.processed;
    if (room > 0) {
        // Counted up to room + 1 (no order needed): more than room means the
        // limit cuts the range.
        auto n = spi.scalar_int8(
            "SELECT count(*) FROM (SELECT 1 FROM raw.module_ct_cabinet_leads l"
            " WHERE l.lead_date >= CURRENT_DATE - $1 LIMIT $2) r",
            {pg::p_int4(a.days_back), pg::p_int8(room + 1)});
        int64_t recent = std::min(n.value_or(0), room);
        pg::Param bdate = pg::p_null(DATEOID);
        int64_t bid = 0;
        if (n.value_or(0) > room) {  // the limit cuts the range: find its last lead
            spi.exec(
                "SELECT l.lead_date, l.lead_id FROM raw.module_ct_cabinet_leads l"
                " WHERE l.lead_date >= CURRENT_DATE - $1 ORDER BY l.lead_date, l.lead_id"
                " OFFSET $2 LIMIT 1",
                {pg::p_int4(a.days_back), pg::p_int8(room - 1)}, true);
            pg::RowReader r(spi);
            r.load(0);
            bdate = pg::p_date(r.int4(0));
            bid = r.int8(1);
        }
        if (recent > 0) {
            spi.exec(
                "SELECT s.lead_id, s.lead_date, s.stage, s.outcome,"
                "       coalesce(s.stage IN ('NO_IDENTITY', 'NO_DRIVER') AND s.checked_epoch = $4"
                "                AND s.checked_on = CURRENT_DATE, false)"
                "  FROM canon.identity_lead_state s"
                " WHERE s.lead_date >= CURRENT_DATE - $1"
                "   AND ($2::date IS NULL OR (s.lead_date, s.lead_id) <= ($2::date, $3))",
                {pg::p_int4(a.days_back), bdate, pg::p_int8(bid), pg::p_int8(epoch)}, true);
            // Sorted here, not by ORDER BY: without it the planner reads the
            // pending index as a bitmap, page by page, which right after a big
            // run (its old index entries not yet vacuumed) costs half as much.
            std::vector<std::pair<std::pair<int32_t, int64_t>, WorkItem>> rows;
            rows.reserve(spi.rows());
            pg::RowReader r(spi);
            for (uint64_t i = 0; i < spi.rows(); i++) {
                r.load(i);
                rows.push_back({{r.int4(1), r.int8(0)}, read_work_item(r)});
            }
            std::sort(rows.begin(), rows.end(),
                      [](const auto &x, const auto &y) { return x.first < y.first; });
            for (auto &row : rows) sc.work.push_back(std::move(row.second));
        }
        sc.processed += recent;
    }
    take(true);
    return sc;
}

// ---- reading ---------------------------------------------------------------

// Fresh (skipped) leads of the scope, kept as their state rows: a no-op run
// over many of them builds no Lead for them. They join Matcher::leads, in
// scope order, only when the run changes something (materialize).
struct Skipped {
    std::vector<WorkItem> items;
    std::vector<size_t> order;
    bool materialized = false;
};

Lead skipped_lead(WorkItem &w, size_t order) {
    Lead l;
    l.id = w.id;
    l.order = order;
    l.stage = std::move(w.stage);
    l.prev_outcome = std::move(w.outcome);
    l.skipped = true;
    return l;
}

void materialize(Matcher &m, Skipped &sk) {
    if (sk.materialized) return;
    sk.materialized = true;
    std::vector<Lead> all;
    all.reserve(m.leads.size() + sk.items.size());
    size_t j = 0;
    for (Lead &l : m.leads) {
        for (; j < sk.items.size() && sk.order[j] < l.order; j++)
            all.push_back(skipped_lead(sk.items[j], sk.order[j]));
        all.push_back(std::move(l));
    }
    for (; j < sk.items.size(); j++) all.push_back(skipped_lead(sk.items[j], sk.order[j]));
    m.leads = std::move(all);
}

// The leads in work, in scope order. Fresh leads are skipped: nothing of them
// is read unless the run changes something (load_skipped). The others: raw
// fields, link and whether the person has a driver, in one query.
void load_work(Spi &spi, Matcher &m, std::vector<WorkItem> &work, Skipped &sk) {
    std::vector<int64_t> ids;
    size_t fresh =
        (size_t)std::count_if(work.begin(), work.end(), [](const WorkItem &w) { return w.fresh; });
    m.leads.reserve(work.size() - fresh);
    ids.reserve(work.size() - fresh);
    for (size_t i = 0; i < work.size(); i++) {
        WorkItem &w = work[i];
        if (w.fresh) {
            sk.items.push_back(std::move(w));
            sk.order.push_back(i);
            continue;
        }
        Lead l;
        l.id = w.id;
        l.order = i;
        l.stage = std::move(w.stage);
        l.prev_outcome = std::move(w.outcome);
        ids.push_back(l.id);
        m.leads.push_back(std::move(l));
    }
    if (ids.empty()) return;
    spi.exec(
        "SELECT w.ord, l.full_name, l.phone, l.license_number, l.plate, li.person_key,"
        "       EXISTS (SELECT 1 FROM canon.identity_links d WHERE d.source_table = 'drivers'"
        "                  AND d.person_key = li.person_key)"
        "  FROM unnest($1::bigint[]) WITH ORDINALITY w(lead_id, ord)"
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
    // A lead deleted since the scope was read is out of the run.
    size_t k = 0;
    for (size_t i = 0; i < m.leads.size(); i++)
        if (found[i]) {
            if (k != i) m.leads[k] = std::move(m.leads[i]);
            k++;
        }
    m.leads.resize(k);
}

// Link and raw fields of the skipped leads, read only when the run changed
// something: an unlinked one may have to be re-decided, a linked one shares a
// re-decided driver result of its person.
void load_skipped(Spi &spi, Matcher &m, Skipped &sk) {
    materialize(m, sk);
    std::vector<int64_t> ids;
    std::unordered_map<int64_t, size_t> pos;
    for (size_t i = 0; i < m.leads.size(); i++)
        if (m.leads[i].skipped) {
            ids.push_back(m.leads[i].id);
            pos[m.leads[i].id] = i;
        }
    if (ids.empty()) return;
    spi.exec(
        "SELECT l.lead_id, l.full_name, l.phone, l.license_number, l.plate, li.person_key,"
        "       EXISTS (SELECT 1 FROM canon.identity_links d WHERE d.source_table = 'drivers'"
        "                  AND d.person_key = li.person_key)"
        "  FROM raw.module_ct_cabinet_leads l"
        "  JOIN unnest($1::bigint[]) w(lead_id) ON l.lead_id = w.lead_id"
        "  LEFT JOIN canon.identity_links li"
        "    ON li.source_table = 'module_ct_cabinet_leads' AND li.source_pk = l.lead_id::text",
        {pg::p_int8_array(ids)}, true);
    pg::RowReader r(spi);
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        Lead &l = m.leads[pos.at(r.int8(0))];
        l.person = r.int8(5, 0);
        if (l.person) {
            // What the run itself decided for the person is newer than the table.
            auto ins = m.persons.try_emplace(l.person);
            if (ins.second) ins.first->second.has_driver = r.boolean(6);
            continue;
        }
        l.raw = {r.text(1), r.text(2), r.text(3), r.text(4)};
        l.keys = core::normalize_keys(l.raw);
        l.loaded = true;
    }
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
        "   WHERE " CT4_KEYS_MATCH("l") " UNION SELECT unnest($4::bigint[]))"
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

void eval_lead(Matcher &m, Lead &l, Counts &c) {
    try {
        m.eval_identity(l);
    } catch (const pg::PgError &) {
        throw;
    } catch (const std::exception &) {
        l.error = true;  // one bad row never aborts the run
        c.errors++;
    }
}

// Identity of every stale unlinked lead in `batch`, after one candidate query.
void identity_batch(Spi &spi, Matcher &m, const std::vector<Lead *> &batch, Counts &c) {
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
    for (Lead *l : need)
        if (m.identity_stale(*l)) eval_lead(m, *l, c);
}

// Driver step of every due person of the leads, one driver query per batch.
bool driver_pass(Spi &spi, Matcher &m) {
    std::vector<int64_t> due;
    for (const Lead &l : m.leads)
        if (l.person && !l.skipped && m.driver_step_due(l.person)) due.push_back(l.person);
    std::sort(due.begin(), due.end());  // person order: deterministic across runs
    due.erase(std::unique(due.begin(), due.end()), due.end());
    if (due.empty()) return false;
    for (size_t i = 0; i < due.size(); i += kBatch) {
        std::vector<int64_t> part(due.begin() + i, due.begin() + std::min(due.size(), i + kBatch));
        load_drivers_of_persons(spi, m, part);
        for (int64_t p : part)
            if (m.driver_step_due(p)) m.eval_driver(p);
    }
    return true;
}

// ---- writing ---------------------------------------------------------------

struct LeadOutcome {
    std::string stage, outcome;
    OptStr unmatched_code;
};

const char *lead_unmatched_code(Decision d) {
    return core::decision_code(d);
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

    Scope scope = compute_scope(spi, a, epoch);
    c.processed = scope.processed;
    Skipped skipped;
    load_work(spi, m, scope.work, skipped);
    m.reserve(m.leads.size());
    int64_t base_done = scope.processed - (int64_t)m.leads.size();

    // Pass 1: identity, oldest lead first, a batch of leads per query.
    for (size_t i = 0; i < m.leads.size(); i += kBatch) {
        std::vector<Lead *> batch;
        for (size_t j = i; j < std::min(m.leads.size(), i + kBatch); j++)
            batch.push_back(&m.leads[j]);
        identity_batch(spi, m, batch, c);
        run.progress(base_done + (int64_t)std::min(m.leads.size(), i + kBatch), scope.processed,
                     c.list());
    }
    // Then drivers, then whatever the run's own links made stale, until stable.
    bool skipped_loaded = false;
    for (int round = 0; round < kMaxRounds; round++) {
        bool moved = driver_pass(spi, m);
        if (m.changed() && !skipped_loaded) {
            load_skipped(spi, m, skipped);
            skipped_loaded = true;
        }
        std::vector<Lead *> stale;
        if (m.changed()) {
            std::vector<Lead *> skipped;
            for (Lead &l : m.leads)
                if (l.skipped && l.loaded && !l.person) skipped.push_back(&l);
            load_candidates(spi, m, skipped, {});
            for (Lead *l : skipped)
                if (m.touched_by_run(*l)) l->skipped = false;  // re-decide it below
        }
        for (Lead &l : m.leads)
            if (!l.skipped && l.loaded && m.identity_stale(l)) stale.push_back(&l);
        for (size_t i = 0; i < stale.size(); i += kBatch) {
            std::vector<Lead *> part(stale.begin() + i,
                                     stale.begin() + std::min(stale.size(), i + kBatch));
            identity_batch(spi, m, part, c);
        }
        if (!moved && stale.empty()) break;
    }
    // A skipped linked lead whose person this run re-decided shares that result.
    for (Lead &l : m.leads)
        if (l.skipped && l.person && m.driver_results.count(l.person)) l.skipped = false;

    // Outcomes and counters. A skipped lead counts by its stored outcome.
    auto count_prev = [&](const std::string &p) {
        if (p == "NO_CANDIDATES" || p == "INVALID_DATA")
            c.still_no_candidates++;
        else if (p == "AMBIGUOUS" || p == "WEAK_MATCH" || p.rfind("DRIVER_", 0) == 0)
            c.conflicts++;
    };
    if (!skipped.materialized)
        for (const WorkItem &w : skipped.items) count_prev(w.outcome);
    std::vector<LeadOutcome> out(m.leads.size());
    for (size_t i = 0; i < m.leads.size(); i++) {
        Lead &l = m.leads[i];
        LeadOutcome &o = out[i];
        if (l.error) continue;
        if (l.skipped) {
            count_prev(l.prev_outcome);
            continue;
        }
        if (l.linked_now) c.newly_linked++;
        if (!l.person) {
            o.stage = "NO_IDENTITY";
            o.outcome = lead_unmatched_code(l.decision);
            o.unmatched_code = o.outcome;
            if (l.decision == Decision::NoCandidates || l.decision == Decision::InvalidData)
                c.still_no_candidates++;
            else
                c.conflicts++;
            continue;
        }
        const Person &p = m.persons.at(l.person);
        auto r = m.driver_results.find(l.person);
        if (p.has_driver) {
            o.stage = "DONE";  // its state row is deleted: no outcome to keep
        } else {
            o.stage = "NO_DRIVER";
            o.outcome = "NONE";
            if (r != m.driver_results.end() && r->second.decision != Decision::NoCandidates) {
                const DriverResult &d = r->second;
                o.outcome = d.conflict                          ? "DRIVER_CONFLICT"
                            : d.decision == Decision::Ambiguous ? "DRIVER_AMBIGUOUS"
                                                                : "DRIVER_WEAK_MATCH";
                o.unmatched_code = o.outcome;
                c.conflicts++;
            }
        }
    }
    c.newly_driver_mapped = (int64_t)m.new_driver_links.size();

    if (a.dry_run) {
        put_result("DRY_RUN");
        return (Datum)0;
    }

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
    // The links and their evidence are built on a second thread while the
    // unmatched rows and lead states are written (0.3-0.6 s of C++ off the
    // run's path); they are inserted last. Until links.get() nothing changes
    // `m` or `new_keys_of`: the thread reads them.
    const Matcher &cm = m;
    core::Background<LinkRows> links(
        [&](const std::atomic<bool> &stop) { return build_link_rows(cm, real, stop); });
    // The links the thread builds: every lead and driver linked now.
    int64_t link_count = c.newly_linked + c.newly_driver_mapped;

    // Today's unmatched rows: refreshed in place, and removed for leads that
    // no longer have an unmatched outcome.
    core::JsonbWriter w;
    std::vector<OptStr> u_pk, u_code, cleared;
    std::vector<std::string> u_det;
    for (size_t i = 0; i < cm.leads.size(); i++) {
        const Lead &l = cm.leads[i];
        if (l.error || l.skipped) continue;
        if (!out[i].unmatched_code) {
            cleared.emplace_back(std::to_string(l.id));
            continue;
        }
        u_pk.emplace_back(std::to_string(l.id));
        u_code.push_back(out[i].unmatched_code);
        if (l.person)
            driver_unmatched_details(w, cm, l.person, cm.driver_results.at(l.person), real);
        else
            lead_unmatched_details(w, cm, l, real);
        u_det.push_back(w.finish());
    }
    if (!u_pk.empty())
        spi.exec(
            "INSERT INTO canon.identity_unmatched AS x"
            " (source_table, source_pk, reason_code, details, snapshot_date, run_id)"
            " SELECT 'module_ct_cabinet_leads', u.pk, u.code, u.det, CURRENT_DATE, $1"
            "   FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS u(pk, code, det)"
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

    // Every lead in work is pending, so it has its identity_lead_state row:
    // a lead that is done now leaves the table, the others are updated.
    std::vector<int64_t> s_id, done_id;
    std::vector<OptStr> s_stage, s_outcome;
    std::vector<size_t> pending;
    for (size_t i = 0; i < cm.leads.size(); i++) {
        const Lead &l = cm.leads[i];
        if (l.error || l.skipped) continue;
        if (out[i].stage == "DONE")
            done_id.push_back(l.id);
        else
            pending.push_back(i);
    }
    // In primary-key order, like the links.
    std::sort(done_id.begin(), done_id.end());
    std::sort(pending.begin(), pending.end(),
              [&](size_t x, size_t y) { return cm.leads[x].id < cm.leads[y].id; });
    for (size_t i : pending) {
        s_id.push_back(cm.leads[i].id);
        s_stage.emplace_back(out[i].stage);
        s_outcome.emplace_back(out[i].outcome);
    }
    if (!done_id.empty())
        spi.exec(
            "DELETE FROM canon.identity_lead_state s USING unnest($1::bigint[]) AS d(id)"
            " WHERE s.lead_id = d.id",
            {pg::p_int8_array(done_id)});
    // Every lead of a person that existed before the run and got its driver
    // now is done, in scope or not (a person made in this run has no lead
    // outside the run's work).
    std::vector<int64_t> driver_persons;
    for (int64_t p : cm.new_driver_links)
        if (!is_temp_person(p)) driver_persons.push_back(p);
    if (!driver_persons.empty())
        spi.exec(
            "DELETE FROM canon.identity_lead_state s"
            " USING unnest($1::bigint[]) AS p(person_key)"
            "  JOIN canon.identity_links il"
            "    ON il.person_key = p.person_key AND il.source_table = 'module_ct_cabinet_leads'"
            " WHERE s.lead_id = il.source_pk::bigint",
            {pg::p_int8_array(driver_persons)});
    // The run's links move the epoch; a run whose epoch moved under it
    // (raw.drivers changed meanwhile) stamps the old one, so its leads are
    // checked again next time.
    int64_t stamp = epoch;
    if (link_count > 0) {
        auto e = spi.scalar_int8(
            "INSERT INTO canon.identity_epoch AS e (id, epoch) VALUES (true, 1)"
            " ON CONFLICT (id) DO UPDATE SET epoch = e.epoch + 1 RETURNING e.epoch");
        if (e && *e == epoch + 1) stamp = *e;
    }
    if (!s_id.empty())
        spi.exec(
            "UPDATE canon.identity_lead_state s"
            "   SET stage = u.st, outcome = u.o, checked_epoch = $1, checked_on = CURRENT_DATE"
            "  FROM (SELECT unnest($2::bigint[]) AS id, unnest($3::text[]) AS st,"
            "               unnest($4::text[]) AS o) u"
            " WHERE s.lead_id = u.id"
            "   AND (s.stage, s.outcome, s.checked_epoch, s.checked_on) IS DISTINCT FROM"
            "       (u.st, u.o, $1, CURRENT_DATE)",
            {pg::p_int8(stamp), pg::p_int8_array(s_id), pg::p_text_array(s_stage),
             pg::p_text_array(s_outcome)});

    // Links: evidence is binary jsonb (identity/evidence.hpp) and travels as
    // one jsonb[]: nothing is parsed.
    LinkRows lr = links.get();
    // Nothing of what the run decided is needed any more: it is freed on a
    // second thread during the links insert (the matcher alone is about a
    // million small blocks; freeing them took 0.3 s). The last owner of
    // `done` is the thread's body, so the frees happen there.
    struct Done {
        Matcher m;
        Scope scope;
        Skipped skipped;
        std::vector<LeadOutcome> out;
    };
    auto done = std::make_shared<Done>(
        Done{std::move(m), std::move(scope), std::move(skipped), std::move(out)});
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
            "   FROM (SELECT unnest($2::text[]) AS t, unnest($3::text[]) AS pk,"
            "                unnest($4::bigint[]) AS person, unnest($5::text[]) AS rule,"
            "                unnest($6::text[]) AS score, unnest($7::jsonb[]) AS ev) u",
            {pg::p_int8(run.run_id()), pg::p_text_array(lr.table), pg::p_text_array(lr.pk),
             pg::p_int8_array(lr.person), pg::p_text_array(lr.rule), pg::p_text_array(lr.score),
             pg::p_jsonb_array(lr.evidence)});

    put_result("SUCCESS");
    return (Datum)0;
}

}  // namespace ct4::identity

CT4_FUNCTION(ct4_reconcile_leads_pipeline, ct4::identity::reconcile_leads_pipeline)
