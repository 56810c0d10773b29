#include "pg/snapshot.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "utils/snapmgr.h"
}

#include <exception>

namespace ct4::pg {

FreshSnapshot::FreshSnapshot() : exceptions_(std::uncaught_exceptions()) {
    guarded([] { PushActiveSnapshot(GetTransactionSnapshot()); });
}

FreshSnapshot::~FreshSnapshot() {
    if (std::uncaught_exceptions() > exceptions_) return;
    try {
        guarded([] { PopActiveSnapshot(); });
    } catch (...) {
    }
}

}  // namespace ct4::pg
