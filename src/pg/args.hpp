// Argument checks shared by every job entry point (SPEC 4): NULL anywhere and
// out-of-range values are rejected with SQLSTATE 22023 naming the argument.
#pragma once

#include "pg/guard.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ct4::pg {

// Throws Error(22023) when argument `i` (named `name`) is NULL.
void require_not_null(FunctionCallInfo fcinfo, int i, const char *name);
int32_t arg_int4(FunctionCallInfo fcinfo, int i, const char *name);
bool arg_bool(FunctionCallInfo fcinfo, int i, const char *name);
std::string arg_text(FunctionCallInfo fcinfo, int i, const char *name);
// timestamptz / date argument; NULL and infinite values are rejected.
int64_t arg_timestamptz(FunctionCallInfo fcinfo, int i, const char *name);
int32_t arg_date(FunctionCallInfo fcinfo, int i, const char *name);
// text[] argument; NULL array or NULL element is rejected.
std::vector<std::string> arg_text_array(FunctionCallInfo fcinfo, int i, const char *name);

// Range check with the standard message: "<name> must be between lo and hi (got v)".
void require_range(const char *name, int64_t v, int64_t lo, int64_t hi);

}  // namespace ct4::pg
