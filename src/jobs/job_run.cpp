#include "jobs/job_run.hpp"

#include "core/progress.hpp"
#include "jobs/job_run.sql.hpp"

extern "C" {
#include "pgstat.h"
#include "utils/backend_status.h"
}

#include <cstdio>
#include <cstdlib>

namespace ct4::jobs {

namespace sql = ct4::sql::job_run;  // src/jobs/job_run.sql

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
    auto adopted = spi_.scalar_int8(
        sql::adopt_run, {pg::p_text(job_name_), pg::p_jsonb(args_json), pg::p_text_array(tables)});
    if (adopted) {
        run_id_ = *adopted;
        return;
    }
    auto id = spi_.scalar_int8(
        sql::insert_run, {pg::p_text(job_name_), pg::p_jsonb(args_json), pg::p_text_array(tables)});
    run_id_ = id.value_or(0);
}

bool JobRun::try_lock() {
    spi_.exec(sql::try_lock, {pg::p_text(job_name_)});
    return spi_.get_bool(0, spi_.column("locked"));
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

void JobRun::finish(const char *status, const Counters &counters, const std::string &details) {
    std::string stats = counters_json(counters, elapsed_ms());
    if (!details.empty() && details != "{}") {
        // One object: the counters, duration_ms, then the job's details.
        stats.pop_back();
        stats += "," + details.substr(1);
    }
    spi_.exec(sql::finish_run,
              {pg::p_int8(run_id_), pg::p_text(std::string(status)), pg::p_jsonb(stats)});
}

JitOff::JitOff(pg::Spi &spi) : spi_(spi), exceptions_(std::uncaught_exceptions()) {
    old_ = spi.scalar_text(sql::jit_setting).value_or("on");
    spi.exec(sql::set_jit, {pg::p_text(std::string("off"))});
}

JitOff::~JitOff() {
    // Never run SQL while an error unwinds (the transaction is failing and
    // SET LOCAL ends with it); never throw from a destructor.
    if (std::uncaught_exceptions() > exceptions_) return;
    try {
        spi_.exec(sql::set_jit, {pg::p_text(old_)});
    } catch (...) {
    }
}

double setting_number(pg::Spi &spi, const char *name) {
    auto v = spi.scalar_text(sql::setting_value, {pg::p_text(std::string(name))});
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
