// A job (SPEC 4) is its arguments, its counters and its body; jobs::Job does
// everything else every job does, once:
//   - argument checks: NULL or out of range -> 22023 naming the argument;
//     the arguments read are the run record's `args`;
//   - the run record in ct4.job_runs (adopted from ct4.run_job), written by
//     JobRun only: opened before the lock, finished once with the counters;
//   - the job lock (ct4._job_lock: an owner-only row of ct4.job_locks), and
//     the one SKIPPED_LOCKED answer: the record says so, a NOTICE names the
//     run, and the result is what every other outcome returns (the counter
//     row with zeros; no alert rows);
//   - JIT off for the run when the job asks;
//   - dry run (DRY_RUN status), progress (NOTICE and pg_stat_activity);
//   - counters declared once: they are the stats jsonb and, by name, the
//     result row's columns (run_id, status, <counters>, duration_ms).
//
//   Datum my_job(FunctionCallInfo fcinfo) {
//       jobs::Job job(fcinfo, kMyJob);                 // name, counters, result shape
//       int32_t days = job.int_arg(0, "days_back", 0, 36500);
//       bool dry = job.dry_run_arg(1);
//       return job.run([&](jobs::Job &j) { ... read -> decide -> write ... });
//   }
#pragma once

#include "jobs/job_run.hpp"
#include "pg/spi.hpp"
#include "pg/srf.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ct4::jobs {

struct JobSpec {
    const char *name;                        // its ct4.jobs job_name
    std::vector<std::string> source_tables;  // for canon.ingestion_runs
    std::vector<const char *> counters;      // in stats order
    // true: the result is one row of counters; false: the body puts its own
    // rows through rows() (the alerts job returns its alerts).
    bool counter_row = true;
    bool jit_off = false;  // many small planned statements: compiling costs more than it wins
};

class Job {
  public:
    Job(FunctionCallInfo fcinfo, JobSpec spec);
    Job(const Job &) = delete;
    Job &operator=(const Job &) = delete;

    // Arguments, in the order of the SQL signature; each is recorded in args.
    int32_t int_arg(int i, const char *name, int32_t lo, int32_t hi);
    bool bool_arg(int i, const char *name);
    std::vector<std::string> text_array_arg(int i, const char *name);
    bool dry_run_arg(int i);  // the "dry_run" argument: DRY_RUN status, no writes
    // A time or a day (NULL or infinite -> 22023); the datum, as given.
    Datum timestamptz_arg(int i, const char *name);
    Datum date_arg(int i, const char *name);
    // An argument read another way, as its JSON value.
    void record_arg(const char *name, const std::string &json);

    // Runs the body under the lock and finishes the run; returns the result.
    Datum run(const std::function<void(Job &)> &body);

    pg::Spi &spi() { return spi_; }
    bool dry_run() const { return dry_run_; }
    int64_t run_id() const { return record_ ? record_->run_id() : 0; }
    // A declared counter (an undeclared name is a bug: XX000).
    int64_t &counter(const char *name);
    const Counters &counters() const { return counters_; }
    // More members of the stats object (a JSON object), written with the counters.
    void add_stats(std::string json_object) { details_ = std::move(json_object); }
    // Where the run is (JobRun::progress); by default it shows the job's
    // counters, `shown` gives other figures for a phase.
    void progress(const char *phase, int64_t done, int64_t total, const char *unit,
                  const std::function<Counters()> &shown = {});
    pg::RowSink &rows() { return sink_; }
    // A column of the counter row that is no counter (the CRM report's
    // report_date and report): its value as set last (before run(): what a
    // SKIPPED_LOCKED row shows). The datum must live until run() returns.
    void result_column(const char *name, Datum value, bool isnull);

  private:
    void put_counter_row(const char *status);
    const pg::OutCol *result_column_value(const std::string &name) const;

    JobSpec spec_;
    FunctionCallInfo fcinfo_;
    pg::RowSink sink_;
    pg::Spi spi_;
    std::string args_ = "{";
    bool dry_run_ = false;
    Counters counters_;
    std::vector<std::pair<std::string, pg::OutCol>> result_columns_;
    std::string details_;
    std::optional<JobRun> record_;
};

}  // namespace ct4::jobs
