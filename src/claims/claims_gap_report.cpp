// ct4.claims_gap_report(days_back, row_limit): the per-gap decisions of the
// claims job (same C++ code, re-verification included), read-only, ready
// for \copy ... CSV HEADER.
#include "claims/claims_engine.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/srf.hpp"

extern "C" {
#include "utils/date.h"
}

namespace {

namespace cc = ct4::core::claims;
using namespace ct4::pg;

Datum claims_gap_report(FunctionCallInfo fcinfo) {
    int32_t days_back = arg_int4(fcinfo, 0, "days_back");
    require_range("days_back", days_back, 0, 36500);
    int32_t row_limit = arg_int4(fcinfo, 1, "row_limit");
    require_range("row_limit", row_limit, 1, 100000000);

    RowSink sink(fcinfo);
    Spi spi;
    auto d = ct4::claims::decide_scope(spi, {days_back, row_limit, true, false, false, false}, {});
    for (const auto &r : d.rows) {
        OutCol driver = out_null();
        if (r.driver_ix >= 0) driver = {text_datum(d.drivers[(size_t)r.driver_ix]), false};
        OutCol date = r.lead_date ? OutCol{DateADTGetDatum(*r.lead_date), false} : out_null();
        OutCol ms =
            r.milestone_value ? OutCol{Int32GetDatum(*r.milestone_value), false} : out_null();
        sink.put_row({driver,
                      {Int64GetDatum(r.lead_id), false},
                      date,
                      ms,
                      {text_datum(cc::decision_name(r.decision)), false},
                      {text_datum(r.reason), false}});
    }
    return (Datum)0;
}

}  // namespace

CT4_FUNCTION(ct4_claims_gap_report, claims_gap_report)
