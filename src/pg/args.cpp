#include "pg/args.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"
}

namespace ct4::pg {

void require_not_null(FunctionCallInfo fcinfo, int i, const char *name) {
    if (PG_ARGISNULL(i))
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must not be NULL", {},
                    std::string("Pass a value for ") + name + " or omit it to use its default.");
}

int32_t arg_int4(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    return PG_GETARG_INT32(i);
}

bool arg_bool(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    return PG_GETARG_BOOL(i);
}

std::string arg_text(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    char *s = guarded([&] { return text_to_cstring(PG_GETARG_TEXT_PP(i)); });
    return std::string(s);
}

namespace {
[[noreturn]] void not_finite(const char *name) {
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be finite", {},
                std::string("Pass a time or day for ") + name + ", not infinity.");
}
}  // namespace

int64_t arg_timestamptz(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    TimestampTz t = PG_GETARG_TIMESTAMPTZ(i);
    if (TIMESTAMP_NOT_FINITE(t)) not_finite(name);
    return t;
}

int32_t arg_date(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    DateADT d = PG_GETARG_DATEADT(i);
    if (DATE_NOT_FINITE(d)) not_finite(name);
    return d;
}

std::vector<std::string> arg_text_array(FunctionCallInfo fcinfo, int i, const char *name) {
    require_not_null(fcinfo, i, name);
    Datum *elems = nullptr;
    bool *nulls = nullptr;
    int n = 0;
    guarded([&] {
        ArrayType *arr = PG_GETARG_ARRAYTYPE_P(i);
        deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    });
    std::vector<std::string> out;
    out.reserve((size_t)n);
    for (int k = 0; k < n; k++) {
        if (nulls[k])
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        std::string(name) + " must not contain NULL elements");
        Datum d = elems[k];
        char *s = guarded([&] { return TextDatumGetCString(d); });
        out.emplace_back(s);
    }
    return out;
}

void require_range(const char *name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    std::string(name) + " must be between " + std::to_string(lo) + " and " +
                        std::to_string(hi) + " (got " + std::to_string(v) + ")");
}

}  // namespace ct4::pg
