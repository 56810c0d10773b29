#include "jobs/job.hpp"

#include "pg/args.hpp"
#include "pg/datum.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/timestamp.h"
}

#include <utility>

namespace ct4::jobs {

Job::Job(FunctionCallInfo fcinfo, JobSpec spec)
    : spec_(std::move(spec)), fcinfo_(fcinfo), sink_(fcinfo) {
    for (const char *name : spec_.counters) counters_.emplace_back(name, 0);
}

void Job::record_arg(const char *name, const std::string &json) {
    args_ += (args_.size() > 1 ? "," : "") + json_string(name) + ":" + json;
}

int32_t Job::int_arg(int i, const char *name, int32_t lo, int32_t hi) {
    int32_t v = pg::arg_int4(fcinfo_, i, name);
    pg::require_range(name, v, lo, hi);
    record_arg(name, std::to_string(v));
    return v;
}

bool Job::bool_arg(int i, const char *name) {
    bool v = pg::arg_bool(fcinfo_, i, name);
    record_arg(name, v ? "true" : "false");
    return v;
}

std::vector<std::string> Job::text_array_arg(int i, const char *name) {
    std::vector<std::string> v = pg::arg_text_array(fcinfo_, i, name);
    std::string json = "[";
    for (size_t k = 0; k < v.size(); k++) json += (k ? "," : "") + json_string(v[k]);
    record_arg(name, json + "]");
    return v;
}

namespace {
// A time or day as its JSON value (ISO 8601, as jsonb writes it).
std::string json_datetime(Datum value, Oid type) {
    const char *s = pg::guarded(
        [&] { return (const char *)JsonEncodeDateTime(nullptr, value, type, nullptr); });
    return "\"" + std::string(s) + "\"";
}
}  // namespace

Datum Job::timestamptz_arg(int i, const char *name) {
    Datum v = TimestampTzGetDatum(pg::arg_timestamptz(fcinfo_, i, name));
    record_arg(name, json_datetime(v, TIMESTAMPTZOID));
    return v;
}

Datum Job::date_arg(int i, const char *name) {
    Datum v = DateADTGetDatum(pg::arg_date(fcinfo_, i, name));
    record_arg(name, json_datetime(v, DATEOID));
    return v;
}

void Job::result_column(const char *name, Datum value, bool isnull) {
    for (auto &[col, out] : result_columns_)
        if (col == name) {
            out = {value, isnull};
            return;
        }
    result_columns_.emplace_back(name, pg::OutCol{value, isnull});
}

bool Job::dry_run_arg(int i) {
    dry_run_ = bool_arg(i, "dry_run");
    return dry_run_;
}

int64_t &Job::counter(const char *name) {
    for (auto &c : counters_)
        if (c.first == name) return c.second;
    throw pg::Error(ERRCODE_INTERNAL_ERROR, std::string("ct4_jobs: job ") + spec_.name +
                                                " has no counter \"" + name + "\"");
}

void Job::progress(const char *phase, int64_t done, int64_t total, const char *unit,
                   const std::function<Counters()> &shown) {
    record_->progress(phase, done, total, unit,
                      shown ? shown : std::function<Counters()>([this] { return counters_; }));
}

Datum Job::run(const std::function<void(Job &)> &body) {
    record_.emplace(spi_, spec_.name, args_ + "}", spec_.source_tables);
    const char *status = "SKIPPED_LOCKED";
    if (record_->try_lock()) {
        std::optional<JitOff> jit;
        if (spec_.jit_off) jit.emplace(spi_);
        body(*this);
        jit.reset();  // the caller's setting back before the record is written
        status = dry_run_ ? "DRY_RUN" : "SUCCESS";
    } else {
        std::string m = std::string("ct4 ") + spec_.name + " run " + std::to_string(run_id()) +
                        ": SKIPPED_LOCKED (another run holds the lock)";
        const char *c = m.c_str();
        pg::guarded([&] { ereport(NOTICE, (errmsg("%s", c))); });
    }
    record_->finish(status, counters_, details_);
    if (spec_.counter_row) put_counter_row(status);
    return (Datum)0;
}

const pg::OutCol *Job::result_column_value(const std::string &name) const {
    for (const auto &[col, out] : result_columns_)
        if (col == name) return &out;
    return nullptr;
}

// The result row, column by column by name: run_id, status, duration_ms, a
// result column set by the job, and each other column the counter of that
// name (SPEC 4: one row of named counters).
void Job::put_counter_row(const char *status) {
    double ms = record_->elapsed_ms();
    std::vector<pg::OutCol> row;
    for (int i = 0; i < sink_.columns(); i++) {
        std::string col = sink_.column_name(i);
        if (col == "run_id")
            row.push_back({Int64GetDatum(run_id()), false});
        else if (col == "status")
            row.push_back({pg::text_datum(status), false});
        else if (col == "duration_ms")
            row.push_back({Float8GetDatum(ms), false});
        else if (const pg::OutCol *v = result_column_value(col))
            row.push_back(*v);
        else
            row.push_back({Int32GetDatum((int32_t)counter(col.c_str())), false});
    }
    sink_.put_row(row);
}

}  // namespace ct4::jobs
