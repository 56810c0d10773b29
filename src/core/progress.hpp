// The text of a job's progress line (NOTICE and pg_stat_activity.query):
// where the run is, how fast it goes, how long the current phase has left,
// and the counters as they are at that moment. Pure C++.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ct4::core {

struct ProgressPoint {
    std::string phase;            // "identity", "drivers", "writing", ...
    int64_t done = 0, total = 0;  // units of the phase; total 0: not measured
    std::string unit;             // "leads", "persons", "drivers", ...
    double phase_seconds = 0;     // time spent in the phase so far
};

// "ct4 <job> run <id>: identity 4000/10000 leads (40 %), 2000 leads/s, about 3 s left
//  | processed=4000 newly_linked=3000 ..." (one line). The rate and the time
// left are those of the current phase, and only once some of it is done.
std::string progress_text(const std::string &job, int64_t run_id, const ProgressPoint &p,
                          const std::vector<std::pair<std::string, int64_t>> &counters);

// "45 s", "3 min 20 s", "2 h 5 min".
std::string duration_text(double seconds);

}  // namespace ct4::core
