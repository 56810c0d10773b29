// What every job does around its work (SPEC 4): a run record in
// ct4.job_runs, a non-blocking job lock (second caller -> SKIPPED_LOCKED),
// progress for long runs, and the counters stored as jsonb.
#pragma once

#include "core/json.hpp"
#include "pg/spi.hpp"

#include <chrono>
#include <functional>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ct4::jobs {

// Named counters in declaration order: the same list becomes the result
// row's columns and the run record's stats.
using Counters = std::vector<std::pair<std::string, int64_t>>;

class JobRun {
  public:
    // Opens (or adopts, when called by ct4.run_job, see GUC ct4.run_id) the
    // run record for `job_name`. `args_json` is a JSON object of the call's
    // arguments; `source_tables` feeds canon.ingestion_runs.
    JobRun(pg::Spi &spi, const char *job_name, const std::string &args_json,
           const std::vector<std::string> &source_tables);

    int64_t run_id() const { return run_id_; }

    // The job's lock until the end of the transaction (ct4._job_lock: its
    // ct4.job_locks row, which only the extension's owner can lock); false
    // means another run of the same job holds it. The caller then finishes
    // with SKIPPED_LOCKED.
    bool try_lock();

    // Where the run is: `done` of `total` `unit`s of `phase` (total 0: not
    // measured). At most once a second, and when a phase starts or ends, it
    // asks `counters` for the counters as they are now and sets the text
    // (core/progress.hpp: rate, time left) as pg_stat_activity's query, so
    // other sessions see the running job; the same text goes out as a NOTICE,
    // except for a run that is over within its first second.
    void progress(const char *phase, int64_t done, int64_t total, const char *unit,
                  const std::function<Counters()> &counters);

    double elapsed_ms() const;

    // Writes status, finished_at and stats (counters + duration_ms, and the
    // members of `details`, a JSON object, when given): the record's one
    // update at the end of a run.
    void finish(const char *status, const Counters &counters, const std::string &details = {});

  private:
    pg::Spi &spi_;
    std::string job_name_;
    int64_t run_id_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point last_report_, phase_started_;
    std::string phase_;
};

// JIT off for the statements of a run (compiling costs about 0.5 s per big
// statement and wins nothing on these plans), the caller's setting restored
// when it ends normally (on an error SET LOCAL ends with the transaction).
class JitOff {
  public:
    explicit JitOff(pg::Spi &spi);
    ~JitOff();
    JitOff(const JitOff &) = delete;
    JitOff &operator=(const JitOff &) = delete;

  private:
    pg::Spi &spi_;
    std::string old_;
    int exceptions_;
};

// JSON helpers for evidence and stats (no dependency on PostgreSQL).
using core::json_string;  // src/core/json.hpp
std::string counters_json(const Counters &c, double duration_ms);

// Reads a numeric setting from ct4.settings; missing or unparsable values
// raise 22023 naming the setting.
double setting_number(pg::Spi &spi, const char *name);

}  // namespace ct4::jobs
