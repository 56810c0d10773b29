// The incremental path: a no-op run reads one index range of
// ops.claims_driver_state and the in-scope rows of ops.claims_invalid_leads,
// and nothing else. Drivers marked dirty by the triggers (schema/210), and
// drivers never decided, are recomputed from the raw tables with the same
// queries as the raw path and stored again. Correctness never rests on a
// guess: when the cache's window_days or milestones differ from the current
// ones, or its facts do not decode, the drivers are recomputed.
#include "claims/claims_cache.hpp"

#include "pg/snapshot.hpp"

#include "claims/claims_cache.sql.hpp"
#include "claims/claims_load.sql.hpp"
#include "core/claims_cache_codec.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

#include <algorithm>
#include <climits>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace ct4::claims {

namespace sql = ct4::sql::claims_cache;  // src/claims/claims_cache.sql

namespace {

constexpr size_t kDriverBatch = 20000;
constexpr size_t kWriteBatch = 10000;
// A rebuild over every lead scans the trips table once (TripScan) instead
// of probing it per driver when drivers x this >= its estimated rows.
constexpr double kScanRowsPerProbe = 32;
// "Nothing covered": a day past any lead_date (year 7475), still a valid date.
constexpr cc::Day kNoCoverage = 2000000;
// The cache covers at most the leads of the last kHorizon days (more when a
// run with a larger days_back had it covered already): a rare full re-scan
// decides its older leads from the raw tables and does not store them.
constexpr int32_t kHorizon = 90;

struct Driver {
    std::string id;
    int64_t person = 0;
    cc::DriverInput in;
};

pg::Param p_bytea_array(const std::vector<std::string> &v) {
    size_t n = v.size();
    Datum *elems = (Datum *)pg::guarded([&] { return palloc(sizeof(Datum) * (n ? n : 1)); });
    for (size_t i = 0; i < n; i++) {
        const char *src = v[i].data();
        size_t len = v[i].size();
        elems[i] = pg::guarded([&] {
            bytea *b = (bytea *)palloc(len + VARHDRSZ);
            SET_VARSIZE(b, len + VARHDRSZ);
            memcpy(VARDATA(b), src, len);
            return PointerGetDatum(b);
        });
    }
    Datum d = pg::guarded([&] {
        return PointerGetDatum(construct_array(elems, (int)n, BYTEAOID, -1, false, TYPALIGN_INT));
    });
    return {BYTEAARRAYOID, d, false};
}

// The elements of a bigint[] (palloc'd by deconstruct_array, freed with
// the run's memory context); sets n.
Datum *int8_elems(Datum d, int &n) {
    Datum *elems = nullptr;
    bool *nulls = nullptr;
    n = 0;
    pg::guarded([&] {
        ArrayType *a = DatumGetArrayTypeP(d);
        deconstruct_array(a, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
    });
    return elems;
}

// ledger rows flattened as [claim_id, milestone_value, lead_id, lead_date, ...]
std::vector<cc::LedgerClaim> claims_of_array(Datum d) {
    int n;
    Datum *elems = int8_elems(d, n);
    std::vector<cc::LedgerClaim> out;
    for (int i = 0; i + 3 < n; i += 4)
        out.push_back({DatumGetInt64(elems[i]), (int32_t)DatumGetInt64(elems[i + 1]),
                       DatumGetInt64(elems[i + 2]), (cc::Day)DatumGetInt64(elems[i + 3])});
    return out;
}

// ops.claims_driver_state.reported: [lead_id, milestone_value, ...]
std::vector<std::pair<int64_t, int32_t>> reported_of_array(Datum d) {
    int n;
    Datum *elems = int8_elems(d, n);
    std::vector<std::pair<int64_t, int32_t>> out;
    for (int i = 0; i + 1 < n; i += 2)
        out.emplace_back(DatumGetInt64(elems[i]), (int32_t)DatumGetInt64(elems[i + 1]));
    return out;
}

std::optional<cc::Day> last_lead_date(const cc::DriverInput &in) {
    std::optional<cc::Day> last;
    for (const auto &l : in.leads)
        if (l.lead_date && (!last || *l.lead_date > *last)) last = l.lead_date;
    return last;
}

// What one pass of the incremental path works on: the validity of the cache,
// the decisions so far, and what its phases hand to each other.
struct CachedPass {
    CachedPass(pg::Spi &s, const ScopeOptions &o, const Context &c) : spi(s), opt(o), ctx(c) {}
    pg::Spi &spi;
    const ScopeOptions &opt;
    const Context &ctx;
    bool write = false, valid = false;
    cc::Day covered = kNoCoverage, new_cover = kNoCoverage;
    Decisions out;
    std::vector<cc::GapRow> rows;
    DriverIndex driver_ix;
    // Dirty marks (the ones seen are deleted at the end, by mark).
    std::unordered_map<std::string, int64_t> dirty_drivers;
    std::vector<int64_t> dirty_lead_ids, dirty_lead_marks;
    std::unordered_set<int64_t> fresh_leads;
    std::unordered_map<std::string, int64_t> fresh_drivers;  // driver -> person
    std::shared_ptr<CacheUpdate> update = std::make_shared<CacheUpdate>();
    PersonLeads all_leads;  // every lead, when a rebuild read them all
    bool all_leads_known = false;
    std::unordered_set<std::string> have_state;
    std::vector<bool> from_cache;                  // by driver_ix: decided from the cache
    std::unordered_set<std::string> stored_state;  // recomputed drivers whose state is written
    std::vector<std::optional<std::string>> drop;  // states of drivers with no dated lead

    int64_t driver_of(const std::string &id, int64_t person) {
        return driver_ix.of(out, id, person);
    }
    // Returns the driver's index.
    int64_t decide(const std::string &id, int64_t person, const cc::DriverInput &in) {
        int64_t ix = driver_of(id, person);
        out.driver_person[(size_t)ix] = person;
        pg::check_interrupts();
        for (auto &r : cc::decide_driver(in, ctx.milestones, ctx.window_days, ctx.cutoff, false,
                                         pg::check_interrupts)) {
            r.driver_ix = ix;
            rows.push_back(std::move(r));
        }
        return ix;
    }
    // The INVALID row of a lead in scope that fails a lead-level condition.
    void add_lead_row(const CacheUpdate::InvalidLead &l) {
        bool in_scope = !l.date || *l.date >= ctx.cutoff;
        const char *why =
            cc::lead_condition(l.date.has_value(), l.person.has_value(), l.driver.has_value());
        if (!why || !in_scope) return;
        cc::GapRow r{};
        r.decision = cc::Decision::Invalid;
        r.reason = why;
        r.lead_id = l.lead_id;
        r.lead_date = l.date;
        r.driver_ix = l.driver ? driver_of(*l.driver, l.person.value_or(0)) : -1;
        r.reported = l.reported;
        rows.push_back(std::move(r));
    }
};

using InvalidLead = CacheUpdate::InvalidLead;

// 1. The dirty marks the triggers left.
void read_dirty_marks(CachedPass &p) {
    if (p.valid) {
        p.spi.exec(sql::dirty_drivers);
        const int driver = p.spi.column("driver_id"), driver_mark = p.spi.column("mark");
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++)
            p.dirty_drivers.emplace(*p.spi.get_text(i, driver), p.spi.get_int8(i, driver_mark));
        free_result();
        p.spi.exec(sql::dirty_leads);
        const int lead = p.spi.column("lead_id"), lead_mark = p.spi.column("mark");
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++) {
            p.dirty_lead_ids.push_back(p.spi.get_int8(i, lead));
            p.dirty_lead_marks.push_back(p.spi.get_int8(i, lead_mark));
        }
        free_result();
    }
}

// 2. Lead-level conditions of the uncovered part of the scope and of the
// dirty leads, then the cached ones of the rest.
void decide_leads(CachedPass &p) {
    // A rebuild whose scope starts at or before the oldest lead reads every
    // lead here (with its person): the batches below then take each person's
    // leads from memory instead of one index probe per person.
    if (!p.valid) {
        p.spi.exec(sql::oldest_lead_day);
        const int oldest = p.spi.column("oldest");
        p.all_leads_known = p.spi.is_null(0, oldest) || p.spi.get_int4(0, oldest) >= p.ctx.cutoff;
    }
    {
        cc::Day hi = std::min(p.covered, kNoCoverage);
        int64_t uncovered = 0;
        if (p.ctx.cutoff < hi) {
            p.spi.exec(sql::uncovered_leads,
                       {pg::p_int4(p.ctx.cutoff), pg::p_int4(std::max(hi, p.ctx.cutoff))});
            uncovered = p.spi.get_int8(0, p.spi.column("uncovered"));
        }
        p.spi.exec(uncovered > 200000 ? sql::fresh_leads_hash : sql::fresh_leads_probe,
                   {pg::p_int4(p.ctx.cutoff), pg::p_int4(std::max(hi, p.ctx.cutoff)),
                    pg::p_bool(!p.valid), pg::p_int8_array(p.dirty_lead_ids)},
                   true);
        const size_t fresh = (size_t)p.spi.rows();  // 1 000 000 on a first full run
        p.fresh_leads.reserve(fresh);
        p.fresh_drivers.reserve(fresh);
        p.driver_ix.ix.reserve(fresh);
        pg::RowReader rr(p.spi);  // one deform per row, text without output functions
        const int lead = rr.column("lead_id"), date = rr.column("lead_date"),
                  person = rr.column("person_key"), driver = rr.column("driver_id");
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++) {
            rr.load(i);
            InvalidLead l{rr.int8(lead), std::nullopt, std::nullopt, std::nullopt};
            if (!p.fresh_leads.insert(l.lead_id).second) continue;
            if (!rr.is_null(date)) l.date = rr.int4(date);
            if (!rr.is_null(person)) l.person = rr.int8(person);
            l.driver = rr.text(driver);
            if (p.all_leads_known && l.person)
                p.all_leads.rows.push_back({*l.person, {l.lead_id, l.date}});
            if (l.driver && l.date) p.fresh_drivers.emplace(*l.driver, l.person.value_or(0));
            if (cc::lead_condition(l.date.has_value(), l.person.has_value(), l.driver.has_value()))
                if (!l.date || *l.date >= p.new_cover) p.update->invalid.push_back(l);
            p.add_lead_row(l);
        }
        free_result();
    }
    p.all_leads.sort();
    if (p.valid) {
        p.spi.exec(sql::cached_invalid_leads, {pg::p_int4(p.ctx.cutoff)}, true);
        const int lead = p.spi.column("lead_id"), date = p.spi.column("lead_date"),
                  person = p.spi.column("person_key"), driver = p.spi.column("driver_id"),
                  reported = p.spi.column("reported");
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++) {
            InvalidLead l{p.spi.get_int8(i, lead), std::nullopt, std::nullopt, std::nullopt};
            if (p.fresh_leads.count(l.lead_id)) continue;
            if (!p.spi.is_null(i, date)) l.date = p.spi.get_int4(i, date);
            if (!p.spi.is_null(i, person)) l.person = p.spi.get_int8(i, person);
            l.driver = p.spi.get_text(i, driver);
            l.reported = p.spi.get_bool(i, reported);
            p.add_lead_row(l);
        }
        free_result();
    }
}

// 3. Cached drivers in scope, except the dirty ones.
void decide_cached_drivers(CachedPass &p) {
    if (p.valid) {
        p.spi.exec(sql::cached_drivers, {pg::p_int4(p.ctx.cutoff)}, true);
        const int driver = p.spi.column("driver_id"), person = p.spi.column("person_key"),
                  facts_col = p.spi.column("facts") + 1, claims_col = p.spi.column("claims") + 1,
                  reported_col = p.spi.column("reported") + 1;  // 1-based for SPI_getbinval
        // Sized once: rehashing ~30 000 string keys showed in the no-op profile.
        const size_t cached = (size_t)p.spi.rows();
        p.have_state.reserve(cached);
        p.driver_ix.ix.reserve(p.driver_ix.ix.size() + cached);
        p.out.drivers.reserve(p.out.drivers.size() + cached);
        p.out.driver_person.reserve(p.out.driver_person.size() + cached);
        p.rows.reserve(p.rows.size() + 2 * cached);
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++) {
            std::string id = *p.spi.get_text(i, driver);
            p.have_state.insert(id);
            if (p.dirty_drivers.count(id)) continue;
            bool isnull;
            Datum facts =
                SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, facts_col, &isnull);
            Driver d{id, p.spi.get_int8(i, person), {}};
            const char *bytes = nullptr;
            size_t len = 0;
            pg::guarded([&] {
                bytea *b = DatumGetByteaPP(facts);
                bytes = VARDATA_ANY(b);
                len = VARSIZE_ANY_EXHDR(b);
            });
            if (!cc::decode_facts(bytes, len, d.in)) {
                p.dirty_drivers.emplace(id, -1);  // recompute; no mark to delete
                continue;
            }
            Datum claims =
                SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, claims_col, &isnull);
            if (!isnull) d.in.claims = claims_of_array(claims);
            const size_t first_row = p.rows.size();
            size_t ix = (size_t)p.decide(d.id, d.person, d.in);
            if (p.from_cache.size() <= ix) p.from_cache.resize(ix + 1 + cached);
            p.from_cache[ix] = true;
            Datum rep =
                SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, reported_col, &isnull);
            if (!isnull) {
                auto pairs = reported_of_array(rep);
                for (size_t k = first_row; k < p.rows.size(); k++) {
                    cc::GapRow &r = p.rows[k];
                    if (r.decision != cc::Decision::Invalid || !r.milestone_value) continue;
                    std::pair<int64_t, int32_t> key{r.lead_id, *r.milestone_value};
                    r.reported = std::find(pairs.begin(), pairs.end(), key) != pairs.end();
                }
            }
            p.out.drivers_from_cache++;
        }
        free_result();
    }
}

// The drivers to recompute (ids[k] is the driver of persons[k]).
struct ToRecompute {
    std::vector<std::string> ids;
    std::vector<int64_t> persons;
};

// 4a. Which drivers to recompute: the dirty ones and the drivers of fresh
// leads without a state.
ToRecompute drivers_to_recompute(CachedPass &p) {
    // A fresh lead's read gave its driver's person already; only the dirty
    // drivers' persons are looked up. In driver_id order: the trips and
    // ledger reads below probe indexes led by driver_id.
    std::vector<std::optional<std::string>> todo;
    for (const auto &[id, mark] : p.dirty_drivers) todo.emplace_back(id);
    std::vector<std::pair<std::string, int64_t>> known;
    known.reserve(p.fresh_drivers.size());
    for (const auto &[id, person] : p.fresh_drivers)
        if (!p.have_state.count(id) && !p.dirty_drivers.count(id)) known.emplace_back(id, person);
    std::sort(known.begin(), known.end());
    ToRecompute todo_drivers;
    std::vector<std::string> &ids = todo_drivers.ids;
    std::vector<int64_t> &persons = todo_drivers.persons;
    ids.reserve(known.size() + todo.size());
    persons.reserve(known.size() + todo.size());
    for (auto &[id, person] : known) {
        ids.push_back(std::move(id));
        persons.push_back(person);
    }
    known = {};
    const size_t looked_up = ids.size();  // the dirty drivers' rows follow
    if (!todo.empty()) {
        p.spi.exec(ct4::sql::claims_load::driver_persons, {pg::p_text_array(todo)}, true);
        const int driver = p.spi.column("driver_id"), person = p.spi.column("person_key");
        for (uint64_t i = 0, n = p.spi.rows(); i < n; i++) {
            ids.push_back(*p.spi.get_text(i, driver));
            persons.push_back(p.spi.get_int8(i, person));
        }
        free_result();
    }
    std::unordered_set<std::string> linked(ids.begin() + (long)looked_up, ids.end());
    for (const auto &t : todo)
        if (!linked.count(*t)) p.drop.push_back(t);
    return todo_drivers;
}

// 4b. Recompute them from the raw tables, a batch of drivers at a time.
void recompute_drivers(CachedPass &p, const ToRecompute &todo_drivers, const Progress &progress) {
    const std::vector<std::string> &ids = todo_drivers.ids;
    const std::vector<int64_t> &persons = todo_drivers.persons;
    // Under the run's lock (write) an empty ledger stays empty until the
    // filing: no ledger probes per batch (45 queries in a first full run).
    bool ledger_empty = false;
    if (p.write) {
        p.spi.exec(sql::any_claim);
        ledger_empty = !p.spi.get_bool(0, p.spi.column("any_claim"));
    }
    // A rebuild over every lead reads the trips with one sequential scan
    // instead of a primary-key probe per driver when the drivers are many
    // for the table: on the bench a probe cost as much as scanning ~50 rows
    // (trip rows lie where the day they were loaded put them, a heap page
    // each); kScanRowsPerProbe keeps a margin.
    TripScan scan;
    bool scanned = false;
    if (p.all_leads_known && !ids.empty()) {
        p.spi.exec(sql::trips_estimate);
        int64_t estimated = p.spi.get_int8(0, p.spi.column("estimated_rows"));
        scanned = (double)ids.size() * kScanRowsPerProbe >= (double)estimated;
    }
    if (scanned) {
        std::vector<cc::Day> from(ids.size(), 0), to(ids.size(), 0);
        std::vector<cc::DriverLead> leads;
        for (size_t k = 0; k < ids.size(); k++) {
            leads.clear();
            p.all_leads.leads_of(persons[k], leads);
            if (auto range = trip_range(leads, p.ctx.window_days))
                std::tie(from[k], to[k]) = *range;
        }
        scan.read(p.spi, ids, from, to);
        p.out.trips_scanned = true;
    }
    const int64_t total = (int64_t)ids.size();
    for (size_t lo = 0; lo < ids.size(); lo += kDriverBatch) {
        size_t hi = std::min(ids.size(), lo + kDriverBatch);
        std::vector<std::string> batch_ids(ids.begin() + (long)lo, ids.begin() + (long)hi);
        std::vector<int64_t> batch_persons(persons.begin() + (long)lo, persons.begin() + (long)hi);
        auto inputs =
            load_inputs(p.spi, batch_ids, batch_persons, p.ctx.window_days,
                        p.all_leads_known ? &p.all_leads : nullptr, scanned ? &scan : nullptr, lo);
        if (!ledger_empty) load_claims(p.spi, batch_ids, inputs);
        for (size_t k = 0; k < batch_ids.size(); k++) {
            auto last = last_lead_date(inputs[k]);
            if (!last) {
                p.drop.emplace_back(batch_ids[k]);
                continue;
            }
            if (p.write && *last >= p.new_cover) {
                p.stored_state.insert(batch_ids[k]);
                p.update->states.push_back(
                    {batch_ids[k], batch_persons[k], *last, cc::encode_facts(inputs[k])});
            }
            if (*last >= p.ctx.cutoff) p.decide(batch_ids[k], batch_persons[k], inputs[k]);
        }
        p.out.drivers_recomputed += (int64_t)batch_ids.size();
        if (progress) progress((int64_t)hi, total, (int64_t)p.rows.size());
        pg::check_interrupts();
    }
}

// 5. What to store after the filing (store_cache), with the INVALID rows
// this run reports (counts): stored with the lead or the driver they
// belong to, so that later runs over the same inputs skip them.
void prepare_cache_update(CachedPass &p) {
    // this run reports (counts): stored with the lead or the driver they
    // belong to, so that later runs over the same inputs skip them.
    if (p.write) {
        std::unordered_map<int64_t, size_t> fresh_invalid;
        for (size_t k = 0; k < p.update->invalid.size(); k++)
            fresh_invalid.emplace(p.update->invalid[k].lead_id, k);
        for (const auto &r : p.rows) {
            if (r.decision != cc::Decision::Invalid || r.reported) continue;
            if (!r.milestone_value) {  // lead level
                if (!p.fresh_leads.count(r.lead_id))
                    p.update->reported_leads.push_back(r.lead_id);
                else if (auto it = fresh_invalid.find(r.lead_id); it != fresh_invalid.end())
                    p.update->invalid[it->second].reported = true;
                continue;
            }
            const std::string &id = p.out.drivers[(size_t)r.driver_ix];
            // A recomputed driver that is stored: its state is rewritten with
            // reported = '{}' first. A recomputed one not stored: nothing.
            bool cached =
                (size_t)r.driver_ix < p.from_cache.size() && p.from_cache[(size_t)r.driver_ix];
            if (!cached && !p.stored_state.count(id)) continue;
            p.update->reported_drivers.emplace_back(id);
            p.update->reported_lead_ids.push_back(r.lead_id);
            p.update->reported_milestones.push_back(*r.milestone_value);
        }
        p.update->drop = std::move(p.drop);
        p.update->touched_leads.assign(p.fresh_leads.begin(), p.fresh_leads.end());
        p.update->touched_leads.insert(p.update->touched_leads.end(), p.dirty_lead_ids.begin(),
                                       p.dirty_lead_ids.end());
        for (const auto &[id, mark] : p.dirty_drivers)
            if (mark >= 0) {
                p.update->mark_drivers.emplace_back(id);
                p.update->mark_driver_marks.push_back(mark);
            }
        p.update->mark_leads = std::move(p.dirty_lead_ids);
        p.update->mark_lead_marks = std::move(p.dirty_lead_marks);
        p.update->rebuilt = !p.valid;
        p.update->window_days = p.ctx.window_days;
        p.update->signature = p.ctx.signature;
        p.update->covered_from = p.new_cover;
        p.out.cache_update = std::move(p.update);
    }
}

}  // namespace

std::optional<Decisions> decide_cached(pg::Spi &spi, const ScopeOptions &opt, const Context &ctx,
                                       const Progress &progress) {
    CachedPass p(spi, opt, ctx);
    p.write = opt.write_cache;
    // The ledger is part of the cached facts: no other writer between our
    // read of it and our commit (the job is its only writer anyway).
    if (p.write) spi.exec(sql::lock_ledger);

    spi.exec(sql::cache_meta);
    p.valid = spi.rows() == 1 && spi.get_int4(0, spi.column("window_days")) == ctx.window_days &&
              spi.get_text(0, spi.column("milestones")).value_or("") == ctx.signature;
    p.covered = p.valid ? (cc::Day)spi.get_int4(0, spi.column("covered_from")) : kNoCoverage;
    free_result();
    const cc::Day today = ctx.cutoff + opt.days_back;
    p.new_cover = std::min(p.covered, std::max(ctx.cutoff, today - kHorizon));
    std::optional<pg::FreshSnapshot> after_writers;
    if (!p.valid) {
        if (!p.write) return std::nullopt;
        // Writers whose triggers saw no cache skipped their marks
        // (ct4._claims_cache_active): wait for them to commit, then read with
        // a snapshot that sees them; later writers wait for our commit.
        spi.exec(sql::lock_for_rebuild);
        spi.exec(sql::reset_cache);
        after_writers.emplace();
    }
    p.out.cached = true;
    p.out.window_days = ctx.window_days;
    p.out.cutoff = ctx.cutoff;

    read_dirty_marks(p);
    decide_leads(p);
    decide_cached_drivers(p);
    recompute_drivers(p, drivers_to_recompute(p), progress);
    cut_rows(p.rows, opt);
    prepare_cache_update(p);
    p.out.rows = std::move(p.rows);
    return std::move(p.out);
}

void store_cache(pg::Spi &spi, const Decisions &d) {
    if (!d.cache_update) return;
    const CacheUpdate &u = *d.cache_update;

    for (size_t w = 0; w < u.states.size(); w += kWriteBatch) {
        size_t e = std::min(u.states.size(), w + kWriteBatch);
        std::vector<std::optional<std::string>> ids;
        std::vector<int64_t> persons;
        std::vector<int32_t> lasts;
        std::vector<std::string> facts;
        for (size_t i = w; i < e; i++) {
            const auto &st = u.states[i];
            ids.emplace_back(st.driver_id);
            persons.push_back(st.person);
            lasts.push_back(st.last_lead_date);
            facts.push_back(st.facts);
        }
        spi.exec(u.rebuilt ? sql::insert_driver_states : sql::upsert_driver_states,
                 {pg::p_text_array(ids), pg::p_int8_array(persons), pg::p_int4_array(lasts),
                  p_bytea_array(facts)});
        pg::check_interrupts();
    }
    if (!u.drop.empty()) spi.exec(sql::delete_driver_states, {pg::p_text_array(u.drop)});
    if (!u.touched_leads.empty())
        spi.exec(sql::delete_invalid_leads, {pg::p_int8_array(u.touched_leads)});
    for (size_t w = 0; w < u.invalid.size(); w += kWriteBatch) {
        size_t e = std::min(u.invalid.size(), w + kWriteBatch);
        std::vector<int64_t> id;
        std::vector<int32_t> date;
        std::vector<std::optional<std::string>> person, driver;
        std::vector<bool> reported;
        for (size_t i = w; i < e; i++) {
            const auto &l = u.invalid[i];
            reported.push_back(l.reported);
            id.push_back(l.lead_id);
            date.push_back(l.date.value_or(INT32_MIN));
            person.push_back(l.person ? std::optional<std::string>(std::to_string(*l.person))
                                      : std::nullopt);
            driver.push_back(l.driver);
        }
        spi.exec(sql::insert_invalid_leads,
                 {pg::p_int8_array(id), pg::p_int4_array(date), pg::p_text_array(person),
                  pg::p_text_array(driver), pg::p_bool_array(reported)});
    }
    if (!u.reported_leads.empty())
        spi.exec(sql::report_invalid_leads, {pg::p_int8_array(u.reported_leads)});
    if (!u.reported_drivers.empty())
        spi.exec(sql::report_driver_gaps,
                 {pg::p_text_array(u.reported_drivers), pg::p_int8_array(u.reported_lead_ids),
                  pg::p_int8_array(u.reported_milestones)});
    if (!u.mark_drivers.empty())
        spi.exec(sql::clear_dirty_drivers,
                 {pg::p_text_array(u.mark_drivers), pg::p_int8_array(u.mark_driver_marks)});
    if (!u.mark_leads.empty())
        spi.exec(sql::clear_dirty_leads,
                 {pg::p_int8_array(u.mark_leads), pg::p_int8_array(u.mark_lead_marks)});
    // An incremental run only updates the meta row: if an invalidation
    // deleted it meanwhile, writers may have skipped their marks since, so it
    // stays deleted and the next run rebuilds.
    if (!u.rebuilt) {
        spi.exec(sql::update_meta,
                 {pg::p_int4(u.window_days), pg::p_text(u.signature), pg::p_int4(u.covered_from)});
        return;
    }
    spi.exec(sql::upsert_meta,
             {pg::p_int4(u.window_days), pg::p_text(u.signature), pg::p_int4(u.covered_from)});
}

}  // namespace ct4::claims
