#include "claims/claims_engine.hpp"

#include "claims/claims_cache.hpp"
#include "claims/claims_load.hpp"
#include "claims/claims_engine.sql.hpp"
#include "claims/claims_load.sql.hpp"
#include "jobs/job_run.hpp"

#include <algorithm>
#include <unordered_map>

namespace ct4::claims {

namespace cc = ct4::core::claims;
namespace sql = ct4::sql::claims_engine;  // src/claims/claims_engine.sql

namespace {

// Drivers per batch: bounds the SPI result of one trips query (about
// 20 rows per driver) while keeping the number of queries small.
constexpr size_t kDriverBatch = 20000;

}  // namespace

namespace {

// Every driver in scope from the raw tables.
Decisions decide_raw(pg::Spi &spi, const ScopeOptions &opt, const Context &ctx,
                     const Progress &progress) {
    Decisions out;
    out.window_days = ctx.window_days;
    out.cutoff = ctx.cutoff;
    const auto &milestones = ctx.milestones;

    DriverIndex driver_ix;
    auto driver_of = [&](const std::string &id) { return driver_ix.of(out, id); };

    // 1. Leads in scope: lead-level conditions now, drivers to decide later.
    std::vector<cc::GapRow> rows;
    spi.exec(sql::scope_leads, {pg::p_int4(out.cutoff)});
    const int lead = spi.column("lead_id"), date = spi.column("lead_date"),
              person = spi.column("person_key"), driver_col = spi.column("driver_id");
    for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
        bool has_date = !spi.is_null(i, date), has_person = !spi.is_null(i, person);
        auto driver = spi.get_text(i, driver_col);
        int64_t ix = driver ? driver_of(*driver) : -1;
        if (ix >= 0) out.driver_person[(size_t)ix] = spi.get_int8(i, person);
        if (const char *why = cc::lead_condition(has_date, has_person, driver.has_value())) {
            cc::GapRow r{};
            r.decision = cc::Decision::Invalid;
            r.reason = why;
            r.lead_id = spi.get_int8(i, lead);
            if (has_date) r.lead_date = spi.get_int4(i, date);
            r.driver_ix = ix;
            rows.push_back(std::move(r));
        }
    }
    free_result();

    // 2. Ledger rows of those drivers (and, re-verifying, of the leads in scope).
    std::vector<std::optional<std::string>> scope_drivers(out.drivers.begin(), out.drivers.end());
    std::vector<std::vector<cc::LedgerClaim>> claims_of(out.drivers.size());
    spi.exec(sql::ledger,
             {pg::p_text_array(scope_drivers), pg::p_bool(opt.reverify), pg::p_int4(out.cutoff)});
    {
        const int claim = spi.column("claim_id"), driver = spi.column("driver_id"),
                  milestone = spi.column("milestone_value"), lead = spi.column("lead_id"),
                  date = spi.column("lead_date");
        for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
            int64_t ix = driver_of(*spi.get_text(i, driver));
            if ((size_t)ix >= claims_of.size()) claims_of.resize((size_t)ix + 1);
            claims_of[(size_t)ix].push_back({spi.get_int8(i, claim), spi.get_int4(i, milestone),
                                             spi.get_int8(i, lead), spi.get_int4(i, date)});
        }
    }
    free_result();
    claims_of.resize(out.drivers.size());
    std::vector<std::optional<std::string>> unknown;
    for (size_t k = 0; k < out.drivers.size(); k++)
        if (out.driver_person[k] == 0) unknown.emplace_back(out.drivers[k]);
    if (!unknown.empty()) {
        spi.exec(ct4::sql::claims_load::driver_persons, {pg::p_text_array(unknown)});
        const int driver = spi.column("driver_id"), person = spi.column("person_key");
        for (uint64_t i = 0, n = spi.rows(); i < n; i++)
            out.driver_person[(size_t)driver_ix.ix[*spi.get_text(i, driver)]] =
                spi.get_int8(i, person);
        free_result();
    }

    // 3. Per batch of drivers: all their leads, their trips once, decide.
    const int64_t total = (int64_t)out.drivers.size();
    for (size_t lo = 0; lo < out.drivers.size(); lo += kDriverBatch) {
        size_t hi = std::min(out.drivers.size(), lo + kDriverBatch);
        size_t nb = hi - lo;
        std::vector<std::string> ids(out.drivers.begin() + (long)lo,
                                     out.drivers.begin() + (long)hi);
        std::vector<int64_t> persons(out.driver_person.begin() + (long)lo,
                                     out.driver_person.begin() + (long)hi);
        auto inputs = load_inputs(spi, ids, persons, out.window_days);
        for (size_t k = 0; k < nb; k++) {
            cc::DriverInput &in = inputs[k];
            in.claims = std::move(claims_of[lo + k]);
            pg::check_interrupts();  // per driver: a cancel stops the run within a second
            auto decided = cc::decide_driver(in, milestones, out.window_days, out.cutoff,
                                             opt.reverify, pg::check_interrupts);
            for (auto &r : decided) {
                r.driver_ix = (int64_t)(lo + k);
                rows.push_back(std::move(r));
            }
        }
        if (progress) progress((int64_t)hi, total, (int64_t)rows.size());
        pg::check_interrupts();
    }

    cut_rows(rows, opt);
    out.rows = std::move(rows);
    out.drivers_recomputed = total;
    return out;
}

}  // namespace

void cut_rows(std::vector<cc::GapRow> &rows, const ScopeOptions &opt) {
    std::sort(rows.begin(), rows.end(), cc::row_before);
    if (opt.job_selection)
        cc::select_for_run(rows, opt.row_limit);
    else
        rows.resize(cc::limit_prefix(rows, opt.row_limit));
}

Decisions decide_scope(pg::Spi &spi, const ScopeOptions &opt, const Progress &progress) {
    jobs::JitOff jit(spi);
    Context ctx = load_context(spi, opt.days_back);
    if (opt.use_cache && !opt.reverify)
        if (auto d = decide_cached(spi, opt, ctx, progress)) return std::move(*d);
    return decide_raw(spi, opt, ctx, progress);
}

}  // namespace ct4::claims
