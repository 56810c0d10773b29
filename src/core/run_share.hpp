// How a run's row_limit is shared between two queues of due work (SPEC 4.1):
// the new or changed leads first, then the pending leads whose inputs
// changed, with at least a quarter of the limit to the pending ones when
// both wait, so that neither starves the other. Pure C++.
#pragma once

#include <cstdint>

namespace ct4::core {

struct RunShare {
    int64_t first = 0;   // taken from the first queue (oldest first)
    int64_t second = 0;  // taken from the second queue
};

// `first_waiting` and `second_waiting` are the due items of each queue (only
// how many exceed row_limit matters). When both wait and together exceed the
// limit, the second queue gets max(what the first leaves, ceil(limit / 4)),
// never all of it: the first queue keeps at least one place.
RunShare share_row_limit(int64_t row_limit, int64_t first_waiting, int64_t second_waiting);

}  // namespace ct4::core
