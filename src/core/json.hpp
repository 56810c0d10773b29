// JSON text helpers shared by evidence, stats and details (pure C++).
#pragma once

#include <string>
#include <string_view>

namespace ct4::core {

// `s` as a quoted JSON string: quotes, backslashes and control characters
// escaped; other bytes (UTF-8) copied as they are.
std::string json_string(std::string_view s);

}  // namespace ct4::core
