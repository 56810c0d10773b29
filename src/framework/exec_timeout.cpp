// ct4._exec_with_timeout(command, max_runtime): runs a job's command and
// cancels it with SQLSTATE 57014 when it outlives max_runtime.
//
// statement_timeout cannot do this: its timer is armed once per top-level
// statement, and ct4.run_job is one CALL. So we arm the same STATEMENT_TIMEOUT
// timer ourselves around the command (keeping an earlier deadline of the
// session's own statement_timeout) and restore it afterwards.
#include "pg/args.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
}

#include <climits>
#include <string>

namespace {

int64_t interval_ms(const Interval *iv) {
    // Months count as 30 days, as justify_days does.
    return iv->time / 1000 + (int64_t)iv->day * 86400000LL + (int64_t)iv->month * 30 * 86400000LL;
}

// Arms STATEMENT_TIMEOUT for the command and puts the previous state back.
class RuntimeLimit {
  public:
    explicit RuntimeLimit(int64_t ms) {
        prev_active_ = ct4::pg::guarded([] { return get_timeout_active(STATEMENT_TIMEOUT); });
        if (prev_active_)
            prev_finish_ =
                ct4::pg::guarded([] { return get_timeout_finish_time(STATEMENT_TIMEOUT); });
        TimestampTz ours = ct4::pg::guarded([] { return GetCurrentTimestamp(); }) + ms * 1000;
        if (!prev_active_ || ours < prev_finish_) {
            ct4::pg::guarded([&] { enable_timeout_at(STATEMENT_TIMEOUT, ours); });
            armed_ = true;
        }
    }
    ~RuntimeLimit() {
        if (!armed_) return;
        try {
            TimestampTz prev = prev_finish_;
            bool active = prev_active_;
            ct4::pg::guarded([&] {
                disable_timeout(STATEMENT_TIMEOUT, false);
                if (active) enable_timeout_at(STATEMENT_TIMEOUT, prev);
            });
        } catch (...) {
        }
    }
    RuntimeLimit(const RuntimeLimit &) = delete;
    RuntimeLimit &operator=(const RuntimeLimit &) = delete;

  private:
    bool prev_active_ = false;
    bool armed_ = false;
    TimestampTz prev_finish_ = 0;
};

Datum exec_with_timeout(FunctionCallInfo fcinfo) {
    std::string command = ct4::pg::arg_text(fcinfo, 0, "command");
    ct4::pg::require_not_null(fcinfo, 1, "max_runtime");
    int64_t ms = interval_ms(PG_GETARG_INTERVAL_P(1));
    if (ms <= 0)
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "max_runtime must be positive",
                             "got " + std::to_string(ms) + " ms");
    if (ms > INT_MAX) ms = INT_MAX;

    ct4::pg::Spi spi;
    RuntimeLimit limit(ms);
    const char *sql = command.c_str();
    // Admin-defined SQL text from ct4.jobs.command, not a value: run as is.
    int rc = ct4::pg::guarded([&] { return SPI_execute(sql, false, 0); });
    if (rc < 0)
        throw ct4::pg::Error(
            ERRCODE_INTERNAL_ERROR,
            std::string("ct4_jobs: job command failed in SPI: ") + SPI_result_code_string(rc));
    return Int64GetDatum((int64_t)SPI_processed);
}

}  // namespace

CT4_FUNCTION(ct4_exec_with_timeout, exec_with_timeout)
