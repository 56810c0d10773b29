#include "jobs/job_run.hpp"

#include "core/progress.hpp"

extern "C" {
#include "pgstat.h"
#include "utils/backend_status.h"
}

#include <cstdio>
#include <cstdlib>

namespace ct4::jobs {

std::string counters_json(const Counters &c, double duration_ms) {
    std::string out = "{";
    for (const auto &[name, value] : c) {
        out += json_string(name) + ":" + std::to_string(value) + ",";
    }
    char buf[64];
    snprintf(buf, sizeof buf, "\"duration_ms\":%.3f}", duration_ms);
    return out + buf;
}

JobRun::JobRun(pg::Spi &spi, const char *job_name, const std::string &args_json,
               const std::vector<std::string> &source_tables)
    : spi_(spi), job_name_(job_name), started_(std::chrono::steady_clock::now()) {
    last_report_ = started_;
    std::vector<std::optional<std::string>> tables(source_tables.begin(), source_tables.end());
    // ct4.run_job() records the run itself (so that it survives a failure) and
    // passes its id in ct4.run_id; adopt that row instead of making a second
    // (only a RUNNING row of this job that this backend made).
    auto adopted = spi_.scalar_int8(
        "UPDATE ct4.job_runs SET args = $2, source_tables = $3"
        " WHERE run_id = NULLIF(pg_catalog.current_setting('ct4.run_id', true), '')::bigint"
        "   AND job_name = $1 AND status = 'RUNNING'"
        "   AND backend_pid = pg_catalog.pg_backend_pid() RETURNING run_id",
        {pg::p_text(job_name_), pg::p_jsonb(args_json), pg::p_text_array(tables)});
    if (adopted) {
        run_id_ = *adopted;
        return;
    }
    auto id = spi_.scalar_int8(
        "INSERT INTO ct4.job_runs (job_name, status, args, source_tables)"
        " VALUES ($1, 'RUNNING', $2, $3) RETURNING run_id",
        {pg::p_text(job_name_), pg::p_jsonb(args_json), pg::p_text_array(tables)});
    run_id_ = id.value_or(0);
}

bool JobRun::try_lock() {
    spi_.exec("SELECT ct4._job_lock($1, false)", {pg::p_text(job_name_)});
    return spi_.get_bool(0, 0);
}

double JobRun::elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
        .count();
}

void JobRun::progress(const char *phase, int64_t done, int64_t total, const char *unit,
                      const std::function<Counters()> &counters) {
    pg::check_interrupts();
    auto now = std::chrono::steady_clock::now();
    bool new_phase = phase_ != phase;
    if (new_phase) {
        phase_ = phase;
        phase_started_ = now;
    }
    bool phase_end = total > 0 && done >= total;
    if (!new_phase && !phase_end && now - last_report_ < std::chrono::seconds(1)) return;
    last_report_ = now;
    core::ProgressPoint p{phase_, done, total, unit,
                          std::chrono::duration<double>(now - phase_started_).count()};
    std::string msg = core::progress_text(job_name_, run_id_, p, counters());
    bool notice = now - started_ >= std::chrono::seconds(1);
    const char *m = msg.c_str();
    pg::guarded([&] {
        pgstat_report_activity(STATE_RUNNING, m);
        if (notice) ereport(NOTICE, (errmsg("%s", m)));
    });
}

void JobRun::finish(const char *status, const Counters &counters) {
    std::string stats = counters_json(counters, elapsed_ms());
    spi_.exec(
        "UPDATE ct4.job_runs SET status = $2, finished_at = pg_catalog.clock_timestamp(), stats = "
        "$3"
        " WHERE run_id = $1",
        {pg::p_int8(run_id_), pg::p_text(std::string(status)), pg::p_jsonb(stats)});
}

double setting_number(pg::Spi &spi, const char *name) {
    auto v = spi.scalar_text("SELECT value FROM ct4.settings WHERE name = $1",
                             {pg::p_text(std::string(name))});
    char *end = nullptr;
    double d = v ? std::strtod(v->c_str(), &end) : 0;
    if (!v || end == v->c_str() || *end != '\0')
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        std::string("setting \"") + name + "\" is missing or not a number",
                        v ? "value: " + *v : "no row in ct4.settings",
                        "Fix it with UPDATE ct4.settings SET value = ... WHERE name = '" +
                            std::string(name) + "'.");
    return d;
}

}  // namespace ct4::jobs
