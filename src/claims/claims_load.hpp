// Reading claim inputs from the raw tables, shared by the full (raw) and the
// incremental (cached) decision paths of claims_engine.
#pragma once

#include "core/claims_rules.hpp"
#include "pg/spi.hpp"

#include <cstdint>
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

// Every lead of each person (in scope or not) and each driver's trips from
// its first lead_date to the end of its last lead's window: one query each
// for the whole batch (no lead query when `known` holds them). ids[k] is the
// driver of persons[k].
std::vector<cc::DriverInput> load_inputs(pg::Spi &spi, const std::vector<std::string> &ids,
                                         const std::vector<int64_t> &persons, int32_t window_days,
                                         const PersonLeads *known = nullptr);

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

// JIT costs ~0.5 s per big statement and wins nothing on these plans: off
// for the run's statements, restored afterwards (also on error, by the
// transaction's SET LOCAL semantics).
class JitOff {
  public:
    explicit JitOff(pg::Spi &spi);
    ~JitOff();

  private:
    pg::Spi &spi_;
    std::string old_;
    int exceptions_;
};

}  // namespace ct4::claims
