// A fresh snapshot for the read-only statements of a scope.
#pragma once

namespace ct4::pg {

// Read-only SPI statements see the snapshot of the statement that called the
// function. After waiting for a lock that others' commits released, a job
// must see those commits: this pushes a new snapshot (READ COMMITTED: taken
// now) as the active one, and pops it when the scope ends normally. On an
// error the transaction's abort resets the snapshot stack, so it is left alone.
class FreshSnapshot {
  public:
    FreshSnapshot();
    ~FreshSnapshot();
    FreshSnapshot(const FreshSnapshot &) = delete;
    FreshSnapshot &operator=(const FreshSnapshot &) = delete;

  private:
    int exceptions_;
};

}  // namespace ct4::pg
