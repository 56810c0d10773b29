#include "core/progress.hpp"

#include <cmath>
#include <cstdio>

namespace ct4::core {

std::string duration_text(double seconds) {
    long s = seconds < 0 ? 0 : std::lround(seconds);
    char buf[48];
    if (s < 60)
        snprintf(buf, sizeof buf, "%ld s", s);
    else if (s < 3600)
        snprintf(buf, sizeof buf, "%ld min %ld s", s / 60, s % 60);
    else
        snprintf(buf, sizeof buf, "%ld h %ld min", s / 3600, s / 60 % 60);
    return buf;
}

std::string progress_text(const std::string &job, int64_t run_id, const ProgressPoint &p,
                          const std::vector<std::pair<std::string, int64_t>> &counters) {
    std::string out = "ct4 " + job + " run " + std::to_string(run_id) + ": " + p.phase;
    if (p.total > 0) {
        out += " " + std::to_string(p.done) + "/" + std::to_string(p.total) + " " + p.unit;
        out += " (" + std::to_string(p.done * 100 / p.total) + " %)";
        if (p.done > 0 && p.phase_seconds > 0) {
            double rate = (double)p.done / p.phase_seconds;
            char buf[32];
            snprintf(buf, sizeof buf, "%.0f", rate);
            out += std::string(", ") + buf + " " + p.unit + "/s";
            out += p.done >= p.total
                       ? ", done"
                       : ", about " + duration_text((double)(p.total - p.done) / rate) + " left";
        }
    }
    out += " |";
    for (const auto &[name, value] : counters) out += " " + name + "=" + std::to_string(value);
    return out;
}

}  // namespace ct4::core
