// Returning rows from a set-returning SQL function (materialize mode).
#pragma once

#include "pg/guard.hpp"

#include <vector>

namespace ct4::pg {

struct OutCol {
    Datum value;
    bool isnull;
};
inline OutCol out_null() {
    return {(Datum)0, true};
}

// Starts materialize mode (InitMaterializedSRF) and returns the result
// descriptor's column count; then call put_row() per row.
class RowSink {
  public:
    explicit RowSink(FunctionCallInfo fcinfo);
    int columns() const { return natts_; }
    const char *column_name(int i) const;  // of the SQL function's result
    void put_row(const std::vector<OutCol> &row);

  private:
    FunctionCallInfo fcinfo_;
    int natts_;
};

}  // namespace ct4::pg
