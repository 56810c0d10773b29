// The C/C++ wall. Exactly two guards cross it, and every entry point and
// every call into PostgreSQL that may ereport goes through one of them:
//
//   ct4::pg::entry(fcinfo, body)  -- wraps the C++ body of an extern "C" SQL
//       function. Any C++ exception becomes ereport(ERROR) only after the
//       body's frames (and their destructors) are gone.
//   ct4::pg::guarded(fn)          -- wraps a call from C++ into PostgreSQL.
//       A longjmp (elog ERROR, cancel, statement timeout) is caught with
//       PG_TRY and rethrown as ct4::pg::PgError, so C++ destructors run.
//
// The error types below carry an SQLSTATE so that errors keep their codes
// across the wall in both directions.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/elog.h"
}

#include <exception>
#include <type_traits>
#include <string>
#include <utility>

namespace ct4::pg {

// A C++-side error with an SQLSTATE, message, detail and hint.
class Error : public std::exception {
  public:
    Error(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : sqlstate_(sqlstate),
          message_(std::move(message)),
          detail_(std::move(detail)),
          hint_(std::move(hint)) {}
    const char *what() const noexcept override { return message_.c_str(); }
    int sqlstate() const { return sqlstate_; }
    const std::string &detail() const { return detail_; }
    const std::string &hint() const { return hint_; }

  private:
    int sqlstate_;
    std::string message_, detail_, hint_;
};

// A PostgreSQL error caught by guarded(); owns a copy of its ErrorData
// (palloc'd in the memory context that was current before the call).
class PgError : public std::exception {
  public:
    explicit PgError(ErrorData *edata) : edata_(edata) {}
    const char *what() const noexcept override {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }
    ErrorData *edata() const { return edata_; }
    int sqlstate() const { return edata_ ? edata_->sqlerrcode : ERRCODE_INTERNAL_ERROR; }

  private:
    ErrorData *edata_;
};

// Raise `err` as a PostgreSQL ERROR. Only for use where no C++ object with a
// destructor is live on the stack (entry() calls it after its try block).
[[noreturn]] void raise_captured(int sqlstate, const char *message, const char *detail,
                                 const char *hint);
[[noreturn]] void rethrow_pg(ErrorData *edata);

// Holds what an exception said, in fixed buffers, so no std::string must
// survive to the point where we longjmp.
struct Captured {
    int sqlstate = 0;
    ErrorData *pg = nullptr;
    char message[1024] = {0};
    char detail[1024] = {0};
    char hint[512] = {0};
};
void capture(Captured &out, const std::exception *e) noexcept;

// Guard 1: entry point of every SQL-callable function.
template <typename Body>
Datum entry(FunctionCallInfo fcinfo, Body &&body) noexcept {
    Captured c;
    bool failed = false;
    Datum result = (Datum)0;
    try {
        result = body(fcinfo);
    } catch (const PgError &e) {
        c.pg = e.edata();
        failed = true;
    } catch (const std::exception &e) {
        capture(c, &e);
        failed = true;
    } catch (...) {
        capture(c, nullptr);
        failed = true;
    }
    // Every C++ frame of the body is gone here; longjmp is safe.
    if (failed) {
        if (c.pg) rethrow_pg(c.pg);
        raise_captured(c.sqlstate, c.message, c.detail[0] ? c.detail : nullptr,
                       c.hint[0] ? c.hint : nullptr);
    }
    return result;
}

// Runs fn(ctx) inside PG_TRY; returns the copied error, or nullptr. The
// setjmp lives in this one non-inline function, so no caller's locals can be
// clobbered by the longjmp.
ErrorData *run_catching(void (*fn)(void *), void *ctx) noexcept;

// Guard 2: every call from C++ into PostgreSQL that may ereport.
// `fn` must be a small lambda that only calls C functions (no C++ objects
// with destructors may live inside it across the call).
template <typename Fn>
auto guarded(Fn &&fn) -> decltype(fn()) {
    using R = decltype(fn());
    if constexpr (std::is_void_v<R>) {
        auto thunk = [](void *c) { (*static_cast<std::remove_reference_t<Fn> *>(c))(); };
        if (ErrorData *e = run_catching(thunk, (void *)&fn)) throw PgError(e);
    } else {
        struct Slot {
            std::remove_reference_t<Fn> *fn;
            R value;
        } slot{&fn, R{}};
        auto thunk = [](void *c) {
            auto *s = static_cast<Slot *>(c);
            s->value = (*s->fn)();
        };
        if (ErrorData *e = run_catching(thunk, &slot)) throw PgError(e);
        return slot.value;
    }
}

// CHECK_FOR_INTERRUPTS through the guard: a cancel or timeout becomes a
// PgError (SQLSTATE 57014) that unwinds C++ frames cleanly.
void check_interrupts();

}  // namespace ct4::pg

// Declares the V1 entry point `name` and binds it to the C++ body `impl`,
// so every SQL function crosses the wall through entry().
#define CT4_FUNCTION(name, impl)             \
    extern "C" {                             \
    PG_FUNCTION_INFO_V1(name);               \
    Datum name(PG_FUNCTION_ARGS) {           \
        return ct4::pg::entry(fcinfo, impl); \
    }                                        \
    }
