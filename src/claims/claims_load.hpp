// Reading claim inputs from the raw tables, shared by the full (raw) and the
// incremental (cached) decision paths of claims_engine.
#pragma once

#include "core/claims_rules.hpp"
#include "pg/spi.hpp"

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace ct4::claims {

namespace cc = ct4::core::claims;

struct Context {
    int32_t window_days = 14;
    cc::Day cutoff = 0;  // current_date - days_back
    std::vector<cc::Milestone> milestones;
    std::string signature;  // "value:trips,..." of ct4.milestones, for the cache
};
Context load_context(pg::Spi &spi, int32_t days_back);

// Every lead of a set of persons, already read (a first run over all leads
// reads them all anyway): sorted by person for look-ups.
struct PersonLeads {
    struct Row {
        int64_t person;
        cc::DriverLead lead;
    };
    std::vector<Row> rows;
    void sort();  // after adding rows
    void leads_of(int64_t person, std::vector<cc::DriverLead> &out) const;
};

// The trips a driver's decisions need: from its first lead_date to the end
// of its last lead's window, [from, to) in days. nullopt: no dated lead.
std::optional<std::pair<cc::Day, cc::Day>> trip_range(const std::vector<cc::DriverLead> &leads,
                                                      int32_t window_days);

// The trips of many drivers from ONE sequential read of raw.summary_daily
// through an SPI cursor (a chunk of rows at a time), each row kept when it
// falls in its driver's range. For scopes that cover most drivers (a full
// first run): one primary-key probe per driver fetches a heap page per trip
// row, since trip rows are stored by the day they were loaded, not by driver.
class TripScan {
  public:
    // Driver k is ids[k] with its range [from[k], to[k]) (empty: none).
    void read(pg::Spi &spi, const std::vector<std::string> &ids, const std::vector<cc::Day> &from,
              const std::vector<cc::Day> &to);
    // Driver k's trips, sorted by date.
    void trips_of(size_t k, std::vector<cc::DayTrips> &out) const;

  private:
    std::vector<uint32_t> start_;  // driver k's trips are trips_[start_[k] .. start_[k + 1])
    std::vector<cc::DayTrips> trips_;
};

// Every lead of each person (in scope or not) and each driver's trips from
// its first lead_date to the end of its last lead's window: one query each
// for the whole batch (no lead query when `known` holds them, no trips query
// when `scanned` holds them: ids[k] is its driver scanned_base + k). ids[k]
// is the driver of persons[k].
std::vector<cc::DriverInput> load_inputs(pg::Spi &spi, const std::vector<std::string> &ids,
                                         const std::vector<int64_t> &persons, int32_t window_days,
                                         const PersonLeads *known = nullptr,
                                         const TripScan *scanned = nullptr,
                                         size_t scanned_base = 0);

// The ledger rows of each driver into inputs[k].claims (one query).
void load_claims(pg::Spi &spi, const std::vector<std::string> &ids,
                 std::vector<cc::DriverInput> &inputs);

// Reads an int4/int8 column of the current SPI result without the per-value
// PG_TRY of Spi::get_*: SPI_getbinval only reports errors through
// SPI_result (it never ereports), and the columns are by-value integers.
inline int64_t fast_int(uint64_t row, int col, bool *isnull, bool is_int8) {
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, isnull);
    if (*isnull) return 0;
    return is_int8 ? DatumGetInt64(d) : DatumGetInt32(d);
}

void free_result();

}  // namespace ct4::claims
