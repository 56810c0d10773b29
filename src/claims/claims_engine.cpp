#include "claims/claims_engine.hpp"

#include "jobs/job_run.hpp"

#include <algorithm>
#include <unordered_map>

namespace ct4::claims {

namespace cc = ct4::core::claims;

namespace {

// Drivers per batch: bounds the SPI result of one trips query (about
// 20 rows per driver) while keeping the number of queries small.
constexpr size_t kDriverBatch = 20000;

// Reads an int4/int8 column of the current SPI result without the per-value
// PG_TRY of Spi::get_*: SPI_getbinval only reports errors through
// SPI_result (it never ereports), and the columns are by-value integers.
// Used on the hot paths (millions of trip rows).
inline int64_t fast_int(uint64_t row, int col, bool *isnull, bool is_int8) {
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, isnull);
    if (*isnull) return 0;
    return is_int8 ? DatumGetInt64(d) : DatumGetInt32(d);
}

void free_result() {
    pg::guarded([] {
        if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
    });
}

// The LATERAL ... OFFSET 0 subqueries below keep the planner from hashing
// whole tables (identity_links, the ledger): each outer row is one index
// probe, so the work grows with the rows in scope, not with table sizes.
const char *kScopeLeads =
    "SELECT l.lead_id, l.lead_date - DATE '2000-01-01', p.person_key, p.driver_id"
    "  FROM (SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s"
    "         WHERE s.lead_date >= DATE '2000-01-01' + $1"
    "        UNION ALL"
    "        SELECT s.lead_id, s.lead_date FROM raw.module_ct_cabinet_leads s"
    "         WHERE s.lead_date IS NULL) l"
    "  LEFT JOIN LATERAL ("
    "       SELECT ll.person_key,"
    "              (SELECT dl.source_pk FROM canon.identity_links dl"
    "                WHERE dl.source_table = 'drivers' AND dl.person_key = ll.person_key) AS "
    "driver_id"
    "         FROM canon.identity_links ll"
    "        WHERE ll.source_table = 'module_ct_cabinet_leads'"
    "          AND ll.source_pk = l.lead_id::pg_catalog.text OFFSET 0) p ON true";

// The ledger rows of the drivers in scope, plus (re-verification) every
// ledger row whose lead_date is in scope.
const char *kLedger =
    "SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id, c.lead_date"
    "  FROM pg_catalog.unnest($1::pg_catalog.text[]) AS d(driver_id)"
    "  CROSS JOIN LATERAL (SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id,"
    "                             c.lead_date - DATE '2000-01-01' AS lead_date"
    "                        FROM ops.cabinet_claims_14d c WHERE c.driver_id = d.driver_id OFFSET "
    "0) c"
    " UNION "
    "SELECT c.claim_id, c.driver_id, c.milestone_value, c.lead_id,"
    "       c.lead_date - DATE '2000-01-01'"
    "  FROM ops.cabinet_claims_14d c"
    " WHERE $2 AND c.lead_date >= DATE '2000-01-01' + $3";

// Every lead of each driver's person, in scope or not: eligibility depends
// on the driver's earlier leads too. By person_key: an index scan per person.
const char *kPersonLeads =
    "SELECT d.k::pg_catalog.int4, x.lead_id, x.lead_date"
    "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) WITH ORDINALITY AS d(person_key, k)"
    "  CROSS JOIN LATERAL ("
    "       SELECT l.lead_id, l.lead_date - DATE '2000-01-01' AS lead_date"
    "         FROM canon.identity_links ll"
    "         JOIN raw.module_ct_cabinet_leads l"
    "           ON l.lead_id = CASE WHEN ll.source_pk OPERATOR(pg_catalog.~) '^[0-9]{1,18}$'"
    "                               THEN ll.source_pk::pg_catalog.int8 END"
    "        WHERE ll.source_table = 'module_ct_cabinet_leads' AND ll.person_key = d.person_key"
    "       OFFSET 0) x";

// The persons of drivers known only from the ledger (re-verification).
const char *kDriverPersons =
    "SELECT dl.source_pk, dl.person_key FROM canon.identity_links dl"
    " WHERE dl.source_table = 'drivers' AND dl.source_pk = ANY ($1::pg_catalog.text[])";

// The trips of each driver between its first lead_date and the end of its
// last lead's window: read once, in one query per batch.
const char *kTrips =
    "SELECT d.k::pg_catalog.int4, s.trip_date - DATE '2000-01-01', s.count_orders_completed"
    "  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
    "pg_catalog.unnest($2::pg_catalog.int4[]),"
    "                  pg_catalog.unnest($3::pg_catalog.int4[]))"
    "       WITH ORDINALITY AS d(driver_id, lo, hi, k)"
    "  JOIN raw.summary_daily s ON s.driver_id = d.driver_id"
    "   AND s.trip_date >= DATE '2000-01-01' + d.lo AND s.trip_date < DATE '2000-01-01' + d.hi";

}  // namespace

Decisions decide_scope(pg::Spi &spi, const ScopeOptions &opt, const Progress &progress) {
    Decisions out;
    out.window_days = (int32_t)jobs::setting_number(spi, "window_days");
    if (out.window_days < 1 || out.window_days > 3660)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "setting \"window_days\" must be between 1 and 3660",
                        "value: " + std::to_string(out.window_days));
    out.cutoff =
        (cc::Day)*spi.scalar_int8("SELECT (CURRENT_DATE - $1::pg_catalog.int4) - DATE '2000-01-01'",
                                  {pg::p_int4(opt.days_back)});

    std::vector<cc::Milestone> milestones;
    spi.exec("SELECT milestone_value, trips_required FROM ct4.milestones ORDER BY milestone_value");
    for (uint64_t i = 0; i < spi.rows(); i++)
        milestones.push_back({spi.get_int4(i, 0), spi.get_int4(i, 1)});
    free_result();

    std::unordered_map<std::string, int64_t> driver_ix;
    auto driver_of = [&](const std::string &id) {
        auto [it, added] = driver_ix.emplace(id, (int64_t)out.drivers.size());
        if (added) {
            out.drivers.push_back(id);
            out.driver_person.push_back(0);
        }
        return it->second;
    };

    // 1. Leads in scope: lead-level conditions now, drivers to decide later.
    std::vector<cc::GapRow> rows;
    spi.exec(kScopeLeads, {pg::p_int4(out.cutoff)});
    for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
        bool has_date = !spi.is_null(i, 1), has_person = !spi.is_null(i, 2);
        auto driver = spi.get_text(i, 3);
        int64_t ix = driver ? driver_of(*driver) : -1;
        if (ix >= 0) out.driver_person[(size_t)ix] = spi.get_int8(i, 2);
        if (const char *why = cc::lead_condition(has_date, has_person, driver.has_value())) {
            cc::GapRow r{};
            r.decision = cc::Decision::Invalid;
            r.reason = why;
            r.lead_id = spi.get_int8(i, 0);
            if (has_date) r.lead_date = spi.get_int4(i, 1);
            r.driver_ix = ix;
            rows.push_back(std::move(r));
        }
    }
    free_result();

    // 2. Ledger rows of those drivers (and, re-verifying, of the leads in scope).
    std::vector<std::optional<std::string>> scope_drivers(out.drivers.begin(), out.drivers.end());
    std::vector<std::vector<cc::LedgerClaim>> claims_of(out.drivers.size());
    spi.exec(kLedger,
             {pg::p_text_array(scope_drivers), pg::p_bool(opt.reverify), pg::p_int4(out.cutoff)});
    for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
        int64_t ix = driver_of(*spi.get_text(i, 1));
        if ((size_t)ix >= claims_of.size()) claims_of.resize((size_t)ix + 1);
        claims_of[(size_t)ix].push_back(
            {spi.get_int8(i, 0), spi.get_int4(i, 2), spi.get_int8(i, 3), spi.get_int4(i, 4)});
    }
    free_result();
    claims_of.resize(out.drivers.size());
    std::vector<std::optional<std::string>> unknown;
    for (size_t k = 0; k < out.drivers.size(); k++)
        if (out.driver_person[k] == 0) unknown.emplace_back(out.drivers[k]);
    if (!unknown.empty()) {
        spi.exec(kDriverPersons, {pg::p_text_array(unknown)});
        for (uint64_t i = 0, n = spi.rows(); i < n; i++)
            out.driver_person[(size_t)driver_ix[*spi.get_text(i, 0)]] = spi.get_int8(i, 1);
        free_result();
    }

    // 3. Per batch of drivers: all their leads, their trips once, decide.
    const int64_t total = (int64_t)out.drivers.size();
    for (size_t lo = 0; lo < out.drivers.size(); lo += kDriverBatch) {
        size_t hi = std::min(out.drivers.size(), lo + kDriverBatch);
        size_t nb = hi - lo;
        std::vector<std::optional<std::string>> ids(out.drivers.begin() + (long)lo,
                                                    out.drivers.begin() + (long)hi);
        std::vector<std::vector<cc::DriverLead>> leads(nb);
        std::vector<int64_t> persons(out.driver_person.begin() + (long)lo,
                                     out.driver_person.begin() + (long)hi);
        spi.exec(kPersonLeads, {pg::p_int8_array(persons)});
        for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
            bool null_k, null_id, null_d;
            size_t k = (size_t)fast_int(i, 0, &null_k, false) - 1;
            int64_t lead_id = fast_int(i, 1, &null_id, true);
            int64_t d = fast_int(i, 2, &null_d, false);
            leads[k].push_back(
                {lead_id, null_d ? std::nullopt : std::optional<cc::Day>((cc::Day)d)});
        }
        free_result();

        // Trip range per driver: first lead_date .. last lead's window end.
        std::vector<std::optional<std::string>> trip_ids;
        std::vector<int32_t> from, to;
        std::vector<size_t> trip_k;
        for (size_t k = 0; k < nb; k++) {
            std::optional<cc::Day> first, last;
            for (const auto &l : leads[k]) {
                if (!l.lead_date) continue;
                if (!first || *l.lead_date < *first) first = l.lead_date;
                if (!last || *l.lead_date > *last) last = l.lead_date;
            }
            if (!first) continue;
            trip_ids.push_back(ids[k]);
            from.push_back(*first);
            to.push_back(*last + out.window_days);
            trip_k.push_back(k);
        }
        std::vector<std::vector<cc::DayTrips>> trips(nb);
        if (!trip_ids.empty()) {
            spi.exec(kTrips,
                     {pg::p_text_array(trip_ids), pg::p_int4_array(from), pg::p_int4_array(to)});
            for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
                bool n1, n2, n3;
                size_t j = (size_t)fast_int(i, 0, &n1, false) - 1;
                cc::Day d = (cc::Day)fast_int(i, 1, &n2, false);
                int32_t c = (int32_t)fast_int(i, 2, &n3, false);
                trips[trip_k[j]].push_back({d, c});
            }
            free_result();
        }

        for (size_t k = 0; k < nb; k++) {
            cc::DriverInput in;
            in.leads = std::move(leads[k]);
            in.trips = std::move(trips[k]);
            std::sort(in.trips.begin(), in.trips.end(),
                      [](const cc::DayTrips &a, const cc::DayTrips &b) { return a.date < b.date; });
            in.claims = std::move(claims_of[lo + k]);
            auto decided =
                cc::decide_driver(in, milestones, out.window_days, out.cutoff, opt.reverify);
            for (auto &r : decided) {
                r.driver_ix = (int64_t)(lo + k);
                rows.push_back(std::move(r));
            }
        }
        if (progress) progress((int64_t)hi, total, (int64_t)rows.size());
        pg::check_interrupts();
    }

    std::sort(rows.begin(), rows.end(), cc::row_before);
    rows.resize(cc::limit_prefix(rows, opt.row_limit));
    out.rows = std::move(rows);
    return out;
}

}  // namespace ct4::claims
