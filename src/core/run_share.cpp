#include "core/run_share.hpp"

#include <algorithm>

namespace ct4::core {

RunShare share_row_limit(int64_t row_limit, int64_t first_waiting, int64_t second_waiting) {
    int64_t a = std::max<int64_t>(first_waiting, 0), b = std::max<int64_t>(second_waiting, 0);
    if (row_limit <= 0) return {};
    if (a + b <= row_limit) return {a, b};
    if (a == 0) return {0, row_limit};
    int64_t quarter = std::min((row_limit + 3) / 4, row_limit - 1);
    int64_t second = std::min(b, std::max(row_limit - a, quarter));
    return {row_limit - second, second};
}

}  // namespace ct4::core
