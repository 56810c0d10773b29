// SQL wrappers of the pure cron evaluator (src/core/cron.hpp):
// ct4.cron_next, ct4.cron_prev, ct4.cron_interval, ct4.cron_local_to_utc,
// ct4.cron_error.
#include "core/cron.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "utils/timestamp.h"
}

#include <stdexcept>
#include <string>

namespace {

constexpr int64_t kPgEpochOffset = 946684800;  // 2000-01-01 in Unix seconds

int64_t to_unix(TimestampTz ts) {
    int64_t s = ts / USECS_PER_SEC;
    if (ts % USECS_PER_SEC < 0) s -= 1;  // floor
    return s + kPgEpochOffset;
}
TimestampTz from_unix(int64_t s) {
    return (s - kPgEpochOffset) * USECS_PER_SEC;
}

ct4::core::CronSchedule parse_arg(const std::string &expr) {
    try {
        return ct4::core::parse_cron(expr);
    } catch (const std::invalid_argument &e) {
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                             "expr is not a valid cron expression: " + std::string(e.what()),
                             "expr: " + expr);
    }
}

TimestampTz arg_ts(FunctionCallInfo fcinfo, int i, const char *name) {
    ct4::pg::require_not_null(fcinfo, i, name);
    TimestampTz t = PG_GETARG_TIMESTAMPTZ(i);
    if (TIMESTAMP_NOT_FINITE(t))
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                             std::string(name) + " must be finite");
    return t;
}

// ct4.cron_next / ct4.cron_prev: the fire after / before a time (NULL: none).
template <typename Step>
Datum cron_fire_sql(FunctionCallInfo fcinfo, const char *time_arg, Step step) {
    auto sched = parse_arg(ct4::pg::arg_text(fcinfo, 0, "expr"));
    auto fire = step(sched, to_unix(arg_ts(fcinfo, 1, time_arg)));
    if (!fire) {
        fcinfo->isnull = true;
        return (Datum)0;
    }
    return TimestampTzGetDatum(from_unix(*fire));
}

Datum cron_next_sql(FunctionCallInfo fcinfo) {
    return cron_fire_sql(fcinfo, "after", ct4::core::cron_next);
}

Datum cron_prev_sql(FunctionCallInfo fcinfo) {
    return cron_fire_sql(fcinfo, "before", ct4::core::cron_prev);
}

Datum cron_interval_sql(FunctionCallInfo fcinfo) {
    auto sched = parse_arg(ct4::pg::arg_text(fcinfo, 0, "expr"));
    auto gap = ct4::core::cron_interval(sched, to_unix(arg_ts(fcinfo, 1, "after")));
    if (!gap) {
        fcinfo->isnull = true;
        return (Datum)0;
    }
    Interval *iv = (Interval *)ct4::pg::guarded([] { return palloc0(sizeof(Interval)); });
    iv->time = *gap * USECS_PER_SEC;
    return IntervalPGetDatum(iv);
}

Datum cron_local_to_utc_sql(FunctionCallInfo fcinfo) {
    std::string expr = ct4::pg::arg_text(fcinfo, 0, "expr");
    int32_t off = ct4::pg::arg_int4(fcinfo, 1, "utc_offset_seconds");
    std::string out;
    try {
        out = ct4::core::cron_local_to_utc(expr, off);
    } catch (const std::invalid_argument &e) {
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                             "expr cannot be converted to UTC: " + std::string(e.what()),
                             "expr: " + expr + ", utc_offset_seconds: " + std::to_string(off),
                             "Write the schedule so that it stays one cron line after the shift, "
                             "or schedule in timezone 'UTC'.");
    }
    return ct4::pg::text_datum(out);
}

// NULL when expr is a valid schedule, else what is wrong with it (the
// schedule triggers quote it when they refuse a value).
Datum cron_error_sql(FunctionCallInfo fcinfo) {
    std::string expr = ct4::pg::arg_text(fcinfo, 0, "expr");
    std::string error;
    if (ct4::core::cron_valid(expr, &error)) {
        fcinfo->isnull = true;
        return (Datum)0;
    }
    return ct4::pg::text_datum(error);
}

}  // namespace

CT4_FUNCTION(ct4_cron_error, cron_error_sql)
CT4_FUNCTION(ct4_cron_next, cron_next_sql)
CT4_FUNCTION(ct4_cron_prev, cron_prev_sql)
CT4_FUNCTION(ct4_cron_interval, cron_interval_sql)
CT4_FUNCTION(ct4_cron_local_to_utc, cron_local_to_utc_sql)
