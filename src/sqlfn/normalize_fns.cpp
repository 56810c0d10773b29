// SQL wrappers of the pure normalizers in core/normalize.hpp (SPEC 4.2):
// ct4.normalize_phone/license/plate/name(text), ct4.name_similarity(text, text)
// and ct4.name_tokens_agree(text, text) (core/name_tokens.hpp). All but
// name_similarity are declared STRICT, so their arguments are never NULL
// here. They are called once per row in bulk matching, so the text is read
// in place (no C-string copy).
#include "core/match.hpp"
#include "core/name_tokens.hpp"
#include "core/normalize.hpp"
#include "pg/guard.hpp"
#include "pg/datum.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <optional>
#include <string>
#include <string_view>

namespace {

std::string_view text_arg(FunctionCallInfo fcinfo, int i) {
    text *t = ct4::pg::guarded([&] { return PG_GETARG_TEXT_PP(i); });
    return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

Datum text_result(FunctionCallInfo fcinfo, const std::optional<std::string> &v) {
    if (!v) {
        fcinfo->isnull = true;
        return (Datum)0;
    }
    return ct4::pg::text_datum(*v);
}

template <std::optional<std::string> (*Fn)(std::string_view)>
Datum normalize_one(FunctionCallInfo fcinfo) {
    return text_result(fcinfo, Fn(text_arg(fcinfo, 0)));
}

// Not STRICT: NULL is no name, similarity 0 (SPEC 4.2). Each normalized name
// is compared on its first 200 bytes (core::compared_name).
Datum name_similarity_fn(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) return Float8GetDatum(0.0);
    return Float8GetDatum(ct4::core::name_similarity(text_arg(fcinfo, 0), text_arg(fcinfo, 1)));
}

// The default name_token_similarity_min: an IMMUTABLE function reads no setting.
Datum name_tokens_agree_fn(FunctionCallInfo fcinfo) {
    const auto a = ct4::core::normalize_name(text_arg(fcinfo, 0));
    const auto b = ct4::core::normalize_name(text_arg(fcinfo, 1));
    if (!a || !b) {
        fcinfo->isnull = true;
        return (Datum)0;
    }
    const double min = ct4::core::MatchSettings{}.name_token_similarity_min;
    return BoolGetDatum(ct4::core::name_tokens_agree(*a, *b, min));
}

}  // namespace

CT4_FUNCTION(ct4_normalize_phone, normalize_one<ct4::core::normalize_phone>)
CT4_FUNCTION(ct4_normalize_license, normalize_one<ct4::core::normalize_license>)
CT4_FUNCTION(ct4_normalize_plate, normalize_one<ct4::core::normalize_plate>)
CT4_FUNCTION(ct4_normalize_name, normalize_one<ct4::core::normalize_name>)
CT4_FUNCTION(ct4_name_similarity, name_similarity_fn)
CT4_FUNCTION(ct4_name_tokens_agree, name_tokens_agree_fn)
