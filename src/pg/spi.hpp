// SPI from C++: schema-qualified, parameterized SQL only. Every call goes
// through ct4::pg::guarded, so a PostgreSQL error unwinds C++ as PgError.
// Values are never pasted into SQL text: they travel as Param datums.
#pragma once

#include "pg/guard.hpp"

extern "C" {
#include "executor/spi.h"
#include "catalog/pg_type_d.h"
}

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ct4::pg {

struct Param {
    Oid type;
    Datum value;
    bool isnull;
};

// Parameter constructors. Strings and arrays are palloc'd in the current
// memory context (the SPI procedure context while a Spi is connected).
Param p_null(Oid type);
Param p_int4(int32_t v);
Param p_int8(int64_t v);
Param p_bool(bool v);
Param p_float8(double v);
Param p_date(int32_t pg_date);  // days since 2000-01-01 (DateADT)
Param p_text(const std::string &v);
Param p_text(const std::optional<std::string> &v);
Param p_jsonb(const std::string &json_text);
Param p_text_array(const std::vector<std::optional<std::string>> &v);
// Same, from views (no copies): the viewed strings must outlive the call.
Param p_text_array(const std::vector<std::optional<std::string_view>> &v);
// jsonb[] from whole jsonb varlenas (core::JsonbWriter::finish() bytes, 4-byte
// header included): many built documents travel as ONE parameter, with no
// text to parse. Each element's header must match its size.
Param p_jsonb_array(const std::vector<std::string> &varlenas);
Param p_int8_array(const std::vector<int64_t> &v);
Param p_int4_array(const std::vector<int32_t> &v);
Param p_bool_array(const std::vector<bool> &v);

// One SPI connection for the lifetime of the object. Results of the last
// statement are read through the accessors until the next exec().
class Spi {
  public:
    Spi();
    ~Spi();
    Spi(const Spi &) = delete;
    Spi &operator=(const Spi &) = delete;

    // Runs a parameterized statement; returns SPI_processed.
    uint64_t exec(const char *sql, std::initializer_list<Param> params = {},
                  bool read_only = false);
    uint64_t exec(const char *sql, const std::vector<Param> &params, bool read_only = false);
    // For a statement run once per batch: planned on first use with a
    // generic plan (the values never shape the plan, and thousands-element
    // arrays cost no per-element selectivity estimate) and kept until this
    // Spi finishes (SPI frees it then), keyed by the address of `sql` (a
    // string literal).
    // The parameter types must be the same on every call.
    uint64_t exec_planned(const char *sql, std::initializer_list<Param> params,
                          bool read_only = false);

    uint64_t rows() const;
    bool is_null(uint64_t row, int col) const;
    int32_t get_int4(uint64_t row, int col, int32_t if_null = 0) const;
    int64_t get_int8(uint64_t row, int col, int64_t if_null = 0) const;
    double get_float8(uint64_t row, int col, double if_null = 0) const;
    bool get_bool(uint64_t row, int col, bool if_null = false) const;
    std::optional<std::string> get_text(uint64_t row, int col) const;  // any type, via output fn
    std::optional<int32_t> get_date(uint64_t row, int col) const;      // DateADT
    // The datum as SPI holds it (valid until the next exec or this Spi ends).
    Datum get_datum(uint64_t row, int col, bool *isnull) const { return value(row, col, isnull); }

    // The index of the last result's column `name` (throws naming it when
    // the result has none): results are read by name, resolved once per
    // statement, then by index in the row loop.
    int column(const char *name) const;

    // Convenience for one-value queries.
    std::optional<std::string> scalar_text(const char *sql,
                                           std::initializer_list<Param> params = {});
    std::optional<int64_t> scalar_int8(const char *sql, std::initializer_list<Param> params = {});

  private:
    Datum value(uint64_t row, int col, bool *isnull) const;
    bool connected_ = false;
    std::vector<std::pair<const char *, SPIPlanPtr>> plans_;
};

// A read-only statement read a chunk of rows at a time through an SPI
// cursor, so that a big result (a whole-table scan) never sits in memory at
// once. fetch() leaves its rows in SPI_tuptable (read them with RowReader
// or SPI_getbinval) until the next fetch() or exec(), and frees the previous
// chunk. A cursor cannot run a parallel plan; it uses the active snapshot,
// like exec(..., read_only = true).
class Cursor {
  public:
    Cursor(Spi &spi, const char *sql, const std::vector<Param> &params);
    ~Cursor();
    Cursor(const Cursor &) = delete;
    Cursor &operator=(const Cursor &) = delete;

    uint64_t fetch(long count);  // rows fetched; 0 at the end

  private:
    Portal portal_ = nullptr;
    int exceptions_;
};

// Reads big results fast: one guarded call deforms a whole row into datums,
// text columns are read from their datum (no output function, no palloc'd
// copy per value). Valid until the next Spi::exec.
class RowReader {
  public:
    explicit RowReader(const Spi &spi);
    ~RowReader();
    RowReader(const RowReader &) = delete;
    RowReader &operator=(const RowReader &) = delete;

    void load(uint64_t row);
    int column(const char *name) const;  // as Spi::column
    bool is_null(int col) const { return nulls_[col]; }
    int64_t int8(int col, int64_t if_null = 0) const;
    int32_t int4(int col, int32_t if_null = 0) const;
    bool boolean(int col, bool if_null = false) const;
    std::optional<std::string> text(int col) const;  // text / varchar columns only

  private:
    int natts_ = 0;
    Datum *values_ = nullptr;
    bool *nulls_ = nullptr;
    uint64_t rows_ = 0;
};

}  // namespace ct4::pg
