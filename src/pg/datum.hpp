// C++ values as PostgreSQL datums (palloc'd in the current memory context).
#pragma once

#include "pg/guard.hpp"

#include <string_view>

namespace ct4::pg {

// A text datum holding the bytes of `s` (any length, no terminator needed).
Datum text_datum(std::string_view s);

}  // namespace ct4::pg
