#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/memutils.h"
}

#include <cstdio>
#include <cstring>

namespace ct4::pg {

namespace {
void copy_text(char *dst, size_t cap, const char *src) noexcept {
    if (!src) {
        dst[0] = '\0';
        return;
    }
    std::snprintf(dst, cap, "%s", src);
}
}  // namespace

void capture(Captured &out, const std::exception *e) noexcept {
    if (const auto *err = dynamic_cast<const Error *>(e)) {
        out.sqlstate = err->sqlstate();
        copy_text(out.message, sizeof out.message, err->what());
        copy_text(out.detail, sizeof out.detail, err->detail().c_str());
        copy_text(out.hint, sizeof out.hint, err->hint().c_str());
    } else if (dynamic_cast<const std::bad_alloc *>(e)) {
        out.sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_text(out.message, sizeof out.message, "ct4_jobs: out of memory in C++ code");
    } else {
        out.sqlstate = ERRCODE_INTERNAL_ERROR;
        std::snprintf(out.message, sizeof out.message, "ct4_jobs: C++ exception: %s",
                      e ? e->what() : "unknown exception");
        copy_text(out.hint, sizeof out.hint,
                  "This is a bug in ct4_jobs; the transaction was rolled back and the session "
                  "is still usable.");
    }
}

void raise_captured(int sqlstate, const char *message, const char *detail, const char *hint) {
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message), detail ? errdetail("%s", detail) : 0,
                    hint ? errhint("%s", hint) : 0));
    pg_unreachable();
}

void rethrow_pg(ErrorData *edata) {
    ReThrowError(edata);
}

ErrorData *run_catching(void (*fn)(void *), void *ctx) noexcept {
    MemoryContext caller_ctx = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    PG_TRY();
    { fn(ctx); }
    PG_CATCH();
    {
        // Copy the error out of ErrorContext into the caller's context.
        MemoryContextSwitchTo(caller_ctx);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    return edata;
}

void check_interrupts() {
    // The flag CHECK_FOR_INTERRUPTS tests first: nothing pending costs one
    // load, so loops may call this per row.
    if (!InterruptPending) return;
    guarded([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace ct4::pg
