// ct4._wall_selftest(mode): proves the C/C++ wall in the regression tests.
// It throws from deep C++ frames holding RAII objects, raises PostgreSQL
// errors beneath C++ code, and reports how many of its RAII sentinels are
// still alive (0 means every destructor ran).
#include "pg/guard.hpp"
#include "pg/datum.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int live_sentinels = 0;

struct Sentinel {
    Sentinel() { ++live_sentinels; }
    ~Sentinel() { --live_sentinels; }
    std::vector<std::string> payload{std::string(1024, 'x')};
};

[[noreturn]] void throw_deep(int depth) {
    Sentinel s;
    if (depth == 0) throw std::runtime_error("deep C++ failure at depth 0");
    throw_deep(depth - 1);
}

Datum wall_selftest(FunctionCallInfo fcinfo) {
    std::string mode = "ok";
    if (!PG_ARGISNULL(0)) {
        char *s = ct4::pg::guarded([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        mode = s;
    }
    auto keep = std::make_unique<Sentinel>();
    if (mode == "cpp_throw") throw_deep(8);
    if (mode == "cpp_error")
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "selftest: a ct4 error with SQLSTATE",
                             "raised from C++", "this hint travelled across the wall");
    if (mode == "bad_alloc") throw std::bad_alloc();
    if (mode == "pg_error") {
        // A PostgreSQL error (division by zero) raised while C++ objects live.
        ct4::pg::Spi spi;
        Sentinel inner;
        spi.exec("SELECT 1 / pg_catalog.int4($1)", {ct4::pg::p_int4(0)});
    }
    std::string result = mode == "live" ? std::to_string(live_sentinels - 1) : "ok";
    return ct4::pg::text_datum(result);
}

}  // namespace

CT4_FUNCTION(ct4_wall_selftest, wall_selftest)
