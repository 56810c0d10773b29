#include "pg/datum.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace ct4::pg {

Datum text_datum(std::string_view s) {
    const char *p = s.data();
    int n = (int)s.size();
    return guarded([&] { return PointerGetDatum(cstring_to_text_with_len(p, n)); });
}

}  // namespace ct4::pg
