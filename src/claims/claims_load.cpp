#include "claims/claims_load.hpp"

#include "claims/claims_load.sql.hpp"
#include "jobs/job_run.hpp"

#include <algorithm>
#include <exception>
#include <climits>
#include <cstring>
#include <string_view>

extern "C" {
#include "utils/date.h"
#include "fmgr.h"
}

namespace ct4::claims {

namespace sql = ct4::sql::claims_load;  // src/claims/claims_load.sql

void free_result() {
    pg::guarded([] {
        if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
    });
}

Context load_context(pg::Spi &spi, int32_t days_back) {
    Context c;
    c.window_days = (int32_t)jobs::setting_number(spi, "window_days");
    if (c.window_days < 1 || c.window_days > 3660)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "setting \"window_days\" must be between 1 and 3660",
                        "value: " + std::to_string(c.window_days));
    spi.exec(sql::window_cutoff, {pg::p_int4(days_back)});
    c.cutoff = (cc::Day)spi.get_int4(0, spi.column("cutoff"));
    spi.exec(sql::milestones);
    const int value = spi.column("milestone_value"), trips = spi.column("trips_required");
    for (uint64_t i = 0; i < spi.rows(); i++) {
        c.milestones.push_back({spi.get_int4(i, value), spi.get_int4(i, trips)});
        if (i) c.signature += ",";
        c.signature += std::to_string(c.milestones.back().value) + ":" +
                       std::to_string(c.milestones.back().trips_required);
    }
    free_result();
    return c;
}

void PersonLeads::sort() {
    std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        return a.person != b.person ? a.person < b.person : a.lead.lead_id < b.lead.lead_id;
    });
}

void PersonLeads::leads_of(int64_t person, std::vector<cc::DriverLead> &out) const {
    auto it = std::lower_bound(rows.begin(), rows.end(), person,
                               [](const Row &r, int64_t p) { return r.person < p; });
    for (; it != rows.end() && it->person == person; ++it) out.push_back(it->lead);
}

std::optional<std::pair<cc::Day, cc::Day>> trip_range(const std::vector<cc::DriverLead> &leads,
                                                      int32_t window_days) {
    std::optional<cc::Day> first, last;
    for (const auto &l : leads) {
        if (!l.lead_date) continue;
        if (!first || *l.lead_date < *first) first = l.lead_date;
        if (!last || *l.lead_date > *last) last = l.lead_date;
    }
    if (!first) return std::nullopt;
    return std::make_pair(*first, *last + window_days);
}

namespace {
// Rows per cursor fetch: ~13 MB of SPI tuples at a time.
constexpr long kScanFetch = 200000;
}  // namespace

namespace {
uint64_t hash_id(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBULL;
    return h ^ (h >> 32);
}
}  // namespace

void TripScan::read(pg::Spi &spi, const std::vector<std::string> &ids,
                    const std::vector<cc::Day> &from, const std::vector<cc::Day> &to) {
    const size_t n = ids.size();
    // Open addressing on the ids' hashes, each slot holding what a row needs
    // (its driver's range and trip count, the id's first 8 bytes), and the
    // slots of a block of rows prefetched before they are probed: the scan
    // is bound by cache misses on a table of 900 000 drivers (a node-based
    // map cost ~5 misses per row, ~6 s of 19.5 M rows).
    struct Slot {
        uint32_t h;
        uint32_t k;  // UINT32_MAX: empty
        cc::Day from, to;
        uint32_t count;
        uint32_t len;
        char head[8];  // the id's first bytes, zero-padded
    };
    static_assert(sizeof(Slot) == 32, "two slots per cache line");
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    const size_t mask = cap - 1;
    std::vector<Slot> slots(cap, Slot{0, UINT32_MAX, 0, 0, 0, 0, {}});
    for (size_t k = 0; k < n; k++) {
        if (from[k] >= to[k]) continue;
        uint64_t h = hash_id(ids[k].data(), ids[k].size());
        size_t i = h & mask;
        while (slots[i].k != UINT32_MAX) i = (i + 1) & mask;
        Slot &sl = slots[i];
        sl = {(uint32_t)(h >> 32), (uint32_t)k, from[k], to[k], 0, (uint32_t)ids[k].size(), {}};
        std::memcpy(sl.head, ids[k].data(), std::min<size_t>(8, ids[k].size()));
    }
    struct Rec {
        uint32_t slot;
        cc::DayTrips t;
    };
    std::vector<Rec> recs;
    struct Row {
        uint64_t h;
        const char *p;
        size_t len;
        cc::Day d;
        int32_t count;
    };
    constexpr size_t kBlock = 32;
    Row block[kBlock];
    auto probe = [&](const Row &row) {
        char head[8] = {};
        std::memcpy(head, row.p, std::min<size_t>(8, row.len));
        const uint32_t h32 = (uint32_t)(row.h >> 32);
        for (size_t i = row.h & mask; slots[i].k != UINT32_MAX; i = (i + 1) & mask) {
            Slot &sl = slots[i];
            if (sl.h != h32 || sl.len != row.len || std::memcmp(sl.head, head, 8) != 0) continue;
            if (row.len > 8 && std::memcmp(ids[sl.k].data() + 8, row.p + 8, row.len - 8) != 0)
                continue;
            // This driver's row: kept when inside its range.
            if (row.d >= sl.from && row.d < sl.to) {
                recs.push_back({(uint32_t)i, {row.d, row.count}});
                sl.count++;
            }
            return;
        }
    };
    {
        pg::Cursor cur(spi, sql::scan_trips, {});
        int date_col = 0, count_col = 0, id_col = 0;  // 1-based, as SPI_getbinval takes them
        while (uint64_t got = cur.fetch(kScanFetch)) {
            TupleDesc desc = SPI_tuptable->tupdesc;
            if (!date_col) {
                date_col = spi.column("trip_date") + 1;
                count_col = spi.column("count_orders_completed") + 1;
                id_col = spi.column("driver_id") + 1;
            }
            for (uint64_t r0 = 0; r0 < got; r0 += kBlock) {
                size_t nb = (size_t)std::min<uint64_t>(kBlock, got - r0);
                size_t m = 0;
                for (size_t j = 0; j < nb; j++) {
                    // SPI_getbinval never ereports; driver_id is a short
                    // text (detoasted, through the guard, only if not).
                    HeapTuple tup = SPI_tuptable->vals[r0 + j];
                    bool n1, n2, n3;
                    Datum date = SPI_getbinval(tup, desc, date_col, &n1);
                    Datum count = SPI_getbinval(tup, desc, count_col, &n2);
                    Datum id = SPI_getbinval(tup, desc, id_col, &n3);
                    if (n1 || n2 || n3) continue;  // NOT NULL columns
                    struct varlena *v = (struct varlena *)DatumGetPointer(id);
                    if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v))
                        v = pg::guarded([&] { return pg_detoast_datum_packed(v); });
                    Row &row = block[m++];
                    row.p = VARDATA_ANY(v);
                    row.len = VARSIZE_ANY_EXHDR(v);
                    row.h = hash_id(row.p, row.len);
                    row.d = (cc::Day)DatumGetDateADT(date);
                    row.count = DatumGetInt32(count);
                    __builtin_prefetch(&slots[row.h & mask]);
                }
                for (size_t j = 0; j < m; j++) probe(block[j]);
            }
            pg::check_interrupts();
        }
    }
    start_.assign(n + 1, 0);
    for (const Slot &sl : slots)
        if (sl.k != UINT32_MAX) start_[sl.k + 1] = sl.count;
    for (size_t k = 0; k < n; k++) start_[k + 1] += start_[k];
    trips_.resize(recs.size());
    {
        std::vector<uint32_t> at(start_.begin(), start_.end() - 1);
        for (const Rec &r : recs) trips_[at[slots[r.slot].k]++] = r.t;
    }
    recs = {};
    for (size_t k = 0; k < n; k++)
        std::sort(trips_.begin() + start_[k], trips_.begin() + start_[k + 1],
                  [](const cc::DayTrips &a, const cc::DayTrips &b) { return a.date < b.date; });
}

void TripScan::trips_of(size_t k, std::vector<cc::DayTrips> &out) const {
    out.assign(trips_.begin() + start_[k], trips_.begin() + start_[k + 1]);
}

std::vector<cc::DriverInput> load_inputs(pg::Spi &spi, const std::vector<std::string> &ids,
                                         const std::vector<int64_t> &persons, int32_t window_days,
                                         const PersonLeads *known, const TripScan *scanned,
                                         size_t scanned_base) {
    size_t nb = ids.size();
    std::vector<cc::DriverInput> in(nb);
    if (nb == 0) return in;
    if (known) {
        for (size_t k = 0; k < nb; k++) known->leads_of(persons[k], in[k].leads);
    } else {
        spi.exec(sql::person_leads, {pg::p_int8_array(persons)}, true);
        const int k_col = spi.column("k"), id_col = spi.column("lead_id"),
                  date_col = spi.column("lead_date");
        for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
            bool null_k, null_id, null_d;
            size_t k = (size_t)fast_int(i, k_col, &null_k, false) - 1;
            int64_t lead_id = fast_int(i, id_col, &null_id, true);
            int64_t d = fast_int(i, date_col, &null_d, false);
            in[k].leads.push_back(
                {lead_id, null_d ? std::nullopt : std::optional<cc::Day>((cc::Day)d)});
        }
        free_result();
    }

    if (scanned) {
        for (size_t k = 0; k < nb; k++) scanned->trips_of(scanned_base + k, in[k].trips);
        return in;
    }
    // Trip range per driver: first lead_date .. last lead's window end.
    std::vector<std::optional<std::string>> trip_ids;
    std::vector<int32_t> from, to;
    std::vector<size_t> trip_k;
    for (size_t k = 0; k < nb; k++) {
        auto range = trip_range(in[k].leads, window_days);
        if (!range) continue;
        trip_ids.emplace_back(ids[k]);
        from.push_back(range->first);
        to.push_back(range->second);
        trip_k.push_back(k);
    }
    if (!trip_ids.empty()) {
        spi.exec(sql::trips,
                 {pg::p_text_array(trip_ids), pg::p_int4_array(from), pg::p_int4_array(to)}, true);
        const int k_col = spi.column("k"), day_col = spi.column("trip_day"),
                  count_col = spi.column("count_orders_completed");
        for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
            bool n1, n2, n3;
            size_t j = (size_t)fast_int(i, k_col, &n1, false) - 1;
            cc::Day d = (cc::Day)fast_int(i, day_col, &n2, false);
            int32_t c = (int32_t)fast_int(i, count_col, &n3, false);
            in[trip_k[j]].trips.push_back({d, c});
        }
        free_result();
    }
    for (auto &x : in)
        std::sort(x.trips.begin(), x.trips.end(),
                  [](const cc::DayTrips &a, const cc::DayTrips &b) { return a.date < b.date; });
    return in;
}

void load_claims(pg::Spi &spi, const std::vector<std::string> &ids,
                 std::vector<cc::DriverInput> &inputs) {
    if (ids.empty()) return;
    std::vector<std::optional<std::string>> arr(ids.begin(), ids.end());
    spi.exec(sql::ledger_of_drivers, {pg::p_text_array(arr)}, true);
    const int k_col = spi.column("k"), claim = spi.column("claim_id"),
              milestone = spi.column("milestone_value"), lead = spi.column("lead_id"),
              date = spi.column("lead_date");
    for (uint64_t i = 0, n = spi.rows(); i < n; i++) {
        bool a, b, c, d, e;
        size_t k = (size_t)fast_int(i, k_col, &a, false) - 1;
        inputs[k].claims.push_back(
            {fast_int(i, claim, &b, true), (int32_t)fast_int(i, milestone, &c, false),
             fast_int(i, lead, &d, true), (cc::Day)fast_int(i, date, &e, false)});
    }
    free_result();
}

}  // namespace ct4::claims
