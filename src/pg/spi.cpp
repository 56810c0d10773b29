#include "pg/spi.hpp"
#include "pg/datum.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "fmgr.h"
}

namespace ct4::pg {

Param p_null(Oid type) {
    return {type, (Datum)0, true};
}
Param p_int4(int32_t v) {
    return {INT4OID, Int32GetDatum(v), false};
}
Param p_int8(int64_t v) {
    return {INT8OID, Int64GetDatum(v), false};
}
Param p_bool(bool v) {
    return {BOOLOID, BoolGetDatum(v), false};
}
Param p_float8(double v) {
    return {FLOAT8OID, Float8GetDatum(v), false};
}
Param p_date(int32_t d) {
    return {DATEOID, DateADTGetDatum(d), false};
}

Param p_text(const std::string &v) {
    return {TEXTOID, text_datum(v), false};
}

Param p_text(const std::optional<std::string> &v) {
    return v ? p_text(*v) : p_null(TEXTOID);
}

Param p_jsonb(const std::string &json_text) {
    const char *s = json_text.c_str();
    Datum d = guarded([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(s)); });
    return {JSONBOID, d, false};
}

namespace {
template <typename T, typename ToDatum>
Param make_array(const std::vector<T> &v, Oid elem, Oid array_type, int16 len, bool byval,
                 char align, ToDatum to_datum) {
    size_t n = v.size();
    // palloc'd arrays: no C++ destructors are involved if construct_array throws.
    Datum *elems = (Datum *)guarded([&] { return palloc(sizeof(Datum) * (n ? n : 1)); });
    for (size_t i = 0; i < n; i++) elems[i] = to_datum(v[i]);
    Datum d = guarded(
        [&] { return PointerGetDatum(construct_array(elems, (int)n, elem, len, byval, align)); });
    return {array_type, d, false};
}
}  // namespace

Param p_int8_array(const std::vector<int64_t> &v) {
    return make_array(v, INT8OID, INT8ARRAYOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                      [](int64_t x) { return Int64GetDatum(x); });
}

Param p_int4_array(const std::vector<int32_t> &v) {
    return make_array(v, INT4OID, INT4ARRAYOID, 4, true, TYPALIGN_INT,
                      [](int32_t x) { return Int32GetDatum(x); });
}

Param p_bool_array(const std::vector<bool> &v) {
    return make_array(v, BOOLOID, BOOLARRAYOID, 1, true, TYPALIGN_CHAR,
                      [](bool x) { return BoolGetDatum(x); });
}

namespace {
// Built in place (what construct_md_array makes from palloc'd varlenas): the
// jobs pass arrays of hundreds of thousands of values, and one palloc and one
// guarded call per value cost more than the statement using them.
// get(i) returns the i-th value as std::optional<std::string_view>: the
// payload of a text (whole_varlena false) or a whole varlena with its 4-byte
// header (true), copied as it is.
template <typename Get>
Param build_varlena_array(size_t n, Get get, Oid elem, Oid array_type, bool whole_varlena) {
    if (n == 0)
        return {array_type, guarded([&] { return PointerGetDatum(construct_empty_array(elem)); }),
                false};
    size_t header = whole_varlena ? 0 : VARHDRSZ;
    bool hasnulls = false;
    size_t nbytes = 0;
    for (size_t i = 0; i < n; i++) {
        auto x = get(i);
        if (!x)
            hasnulls = true;
        else
            nbytes += INTALIGN(header + x->size());
    }
    size_t dataoffset = hasnulls ? ARR_OVERHEAD_WITHNULLS(1, n) : 0;
    size_t total = (hasnulls ? dataoffset : ARR_OVERHEAD_NONULLS(1)) + nbytes;
    if (n > (size_t)MaxArraySize || total > MaxAllocSize)
        throw Error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "ct4_jobs: array parameter too large");
    ArrayType *a = (ArrayType *)guarded([&] { return palloc0(total); });
    SET_VARSIZE(a, total);
    a->ndim = 1;
    a->dataoffset = (int32)dataoffset;
    a->elemtype = elem;
    ARR_DIMS(a)[0] = (int)n;
    ARR_LBOUND(a)[0] = 1;
    char *p = ARR_DATA_PTR(a);
    bits8 *bitmap = ARR_NULLBITMAP(a);  // zeroed: every value NULL until set
    for (size_t i = 0; i < n; i++) {
        auto x = get(i);
        if (!x) continue;
        if (bitmap) bitmap[i / 8] |= (bits8)(1 << (i % 8));
        if (!whole_varlena) SET_VARSIZE(p, VARHDRSZ + x->size());
        memcpy(p + header, x->data(), x->size());
        p += INTALIGN(header + x->size());
    }
    return {array_type, PointerGetDatum(a), false};
}

template <typename Get>
Param build_text_array(size_t n, Get get) {
    return build_varlena_array(n, get, TEXTOID, TEXTARRAYOID, false);
}
}  // namespace

Param p_jsonb_array(const std::vector<std::string> &varlenas) {
    for (size_t i = 0; i < varlenas.size(); i++) {
        const std::string &v = varlenas[i];
        // A 4-byte, uncompressed header whose length is the string's size,
        // and room for the root container header.
        union {
            uint32 word;
            char bytes[4];
        } expect, got;
        SET_VARSIZE(expect.bytes, v.size());
        if (v.size() >= VARHDRSZ) memcpy(got.bytes, v.data(), VARHDRSZ);
        if (v.size() < VARHDRSZ + sizeof(uint32) || got.word != expect.word)
            throw Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: jsonb array element " +
                                                    std::to_string(i + 1) +
                                                    " is not a whole jsonb varlena");
    }
    return build_varlena_array(
        varlenas.size(), [&](size_t i) { return std::optional<std::string_view>(varlenas[i]); },
        JSONBOID, JSONBARRAYOID, true);
}

Param p_text_array(const std::vector<std::optional<std::string>> &v) {
    return build_text_array(v.size(), [&](size_t i) {
        return v[i] ? std::optional<std::string_view>(*v[i]) : std::nullopt;
    });
}

Param p_text_array(const std::vector<std::optional<std::string_view>> &v) {
    return build_text_array(v.size(), [&](size_t i) { return v[i]; });
}

Spi::Spi() {
    guarded([] {
        int rc = SPI_connect();
        if (rc != SPI_OK_CONNECT) elog(ERROR, "ct4_jobs: SPI_connect failed: %d", rc);
    });
    connected_ = true;
}

Spi::~Spi() {
    // During unwinding after an error the transaction (or subtransaction)
    // aborts and PostgreSQL's AtEO(Sub)Xact_SPI tears the connection down.
    if (connected_ && std::uncaught_exceptions() == 0) {
        try {
            guarded([] { SPI_finish(); });
        } catch (...) {
        }
    }
}

uint64_t Spi::exec(const char *sql, std::initializer_list<Param> params, bool read_only) {
    return exec(sql, std::vector<Param>(params), read_only);
}

namespace {
// The SPI form of a parameter list: palloc'd types, values and null flags.
struct SpiArgs {
    int n;
    Oid *types;
    Datum *values;
    char *nulls;
};

SpiArgs spi_args(const Param *params, size_t count) {
    int n = (int)count;
    size_t slots = count ? count : 1;
    SpiArgs a{n, (Oid *)guarded([&] { return palloc(sizeof(Oid) * slots); }),
              (Datum *)guarded([&] { return palloc(sizeof(Datum) * slots); }),
              (char *)guarded([&] { return palloc(slots); })};
    for (size_t i = 0; i < count; i++) {
        a.types[i] = params[i].type;
        a.values[i] = params[i].value;
        a.nulls[i] = params[i].isnull ? 'n' : ' ';
    }
    return a;
}

void check_rc(int rc) {
    if (rc < 0)
        throw Error(ERRCODE_INTERNAL_ERROR,
                    std::string("ct4_jobs: SPI failed: ") + SPI_result_code_string(rc));
}
}  // namespace

uint64_t Spi::exec(const char *sql, const std::vector<Param> &params, bool read_only) {
    SpiArgs a = spi_args(params.data(), params.size());
    check_rc(guarded(
        [&] { return SPI_execute_with_args(sql, a.n, a.types, a.values, a.nulls, read_only, 0); }));
    return SPI_processed;
}

uint64_t Spi::exec_planned(const char *sql, std::initializer_list<Param> params, bool read_only) {
    SpiArgs a = spi_args(params.begin(), params.size());
    SPIPlanPtr plan = nullptr;
    for (const auto &p : plans_)
        if (p.first == sql) plan = p.second;
    if (!plan) {
        plan =
            guarded([&] { return SPI_prepare_cursor(sql, a.n, a.types, CURSOR_OPT_GENERIC_PLAN); });
        if (!plan)
            throw Error(ERRCODE_INTERNAL_ERROR, std::string("ct4_jobs: SPI_prepare failed: ") +
                                                    SPI_result_code_string(SPI_result));
        plans_.emplace_back(sql, plan);
    }
    check_rc(guarded([&] { return SPI_execute_plan(plan, a.values, a.nulls, read_only, 0); }));
    return SPI_processed;
}

Cursor::Cursor(Spi &, const char *sql, const std::vector<Param> &params)
    : exceptions_(std::uncaught_exceptions()) {
    SpiArgs a = spi_args(params.data(), params.size());
    portal_ = guarded([&] {
        return SPI_cursor_open_with_args(nullptr, sql, a.n, a.types, a.values, a.nulls, true,
                                         CURSOR_OPT_NO_SCROLL);
    });
}

Cursor::~Cursor() {
    // While an error unwinds, the aborting transaction drops the portal.
    if (!portal_ || std::uncaught_exceptions() > exceptions_) return;
    try {
        guarded([&] {
            if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
            SPI_cursor_close(portal_);
        });
    } catch (...) {
    }
}

uint64_t Cursor::fetch(long count) {
    guarded([&] {
        if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
        SPI_cursor_fetch(portal_, true, count);
    });
    return SPI_tuptable ? SPI_processed : 0;
}

uint64_t Spi::rows() const {
    return SPI_tuptable ? SPI_processed : 0;
}

Datum Spi::value(uint64_t row, int col, bool *isnull) const {
    if (!SPI_tuptable || row >= SPI_processed)
        throw Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: SPI row out of range");
    HeapTuple tup = SPI_tuptable->vals[row];
    TupleDesc desc = SPI_tuptable->tupdesc;
    return guarded([&] { return SPI_getbinval(tup, desc, col + 1, isnull); });
}

bool Spi::is_null(uint64_t row, int col) const {
    bool isnull;
    value(row, col, &isnull);
    return isnull;
}

int32_t Spi::get_int4(uint64_t row, int col, int32_t if_null) const {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetInt32(d);
}

int64_t Spi::get_int8(uint64_t row, int col, int64_t if_null) const {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetInt64(d);
}

double Spi::get_float8(uint64_t row, int col, double if_null) const {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetFloat8(d);
}

bool Spi::get_bool(uint64_t row, int col, bool if_null) const {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetBool(d);
}

std::optional<int32_t> Spi::get_date(uint64_t row, int col) const {
    bool isnull;
    Datum d = value(row, col, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetDateADT(d);
}

std::optional<std::string> Spi::get_text(uint64_t row, int col) const {
    bool isnull;
    value(row, col, &isnull);
    if (isnull) return std::nullopt;
    HeapTuple tup = SPI_tuptable->vals[row];
    TupleDesc desc = SPI_tuptable->tupdesc;
    char *s = guarded([&] { return SPI_getvalue(tup, desc, col + 1); });
    return s ? std::optional<std::string>(s) : std::nullopt;
}

namespace {
int column_of(const char *name) {
    if (!SPI_tuptable)
        throw Error(ERRCODE_INTERNAL_ERROR,
                    std::string("ct4_jobs: no result to read column \"") + name + "\" from");
    TupleDesc desc = SPI_tuptable->tupdesc;
    int n = guarded([&] { return SPI_fnumber(desc, name); });
    if (n <= 0)
        throw Error(ERRCODE_INTERNAL_ERROR,
                    std::string("ct4_jobs: the result has no column \"") + name + "\"");
    return n - 1;
}
}  // namespace

int Spi::column(const char *name) const {
    return column_of(name);
}

int RowReader::column(const char *name) const {
    return column_of(name);
}

std::optional<std::string> Spi::scalar_text(const char *sql, std::initializer_list<Param> params) {
    if (exec(sql, params) == 0) return std::nullopt;
    return get_text(0, 0);
}

std::optional<int64_t> Spi::scalar_int8(const char *sql, std::initializer_list<Param> params) {
    if (exec(sql, params) == 0 || is_null(0, 0)) return std::nullopt;
    return get_int8(0, 0);
}

RowReader::RowReader(const Spi &spi) {
    rows_ = spi.rows();
    if (!rows_) return;
    natts_ = SPI_tuptable->tupdesc->natts;
    values_ = new Datum[(size_t)natts_];
    nulls_ = new bool[(size_t)natts_];
}

RowReader::~RowReader() {
    delete[] values_;
    delete[] nulls_;
}

void RowReader::load(uint64_t row) {
    if (row >= rows_) throw Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: SPI row out of range");
    HeapTuple tup = SPI_tuptable->vals[row];
    TupleDesc desc = SPI_tuptable->tupdesc;
    guarded([&] { heap_deform_tuple(tup, desc, values_, nulls_); });
}

int64_t RowReader::int8(int col, int64_t if_null) const {
    return nulls_[col] ? if_null : DatumGetInt64(values_[col]);
}

int32_t RowReader::int4(int col, int32_t if_null) const {
    return nulls_[col] ? if_null : DatumGetInt32(values_[col]);
}

bool RowReader::boolean(int col, bool if_null) const {
    return nulls_[col] ? if_null : DatumGetBool(values_[col]);
}

std::optional<std::string> RowReader::text(int col) const {
    if (nulls_[col]) return std::nullopt;
    Datum d = values_[col];
    struct varlena *v = (struct varlena *)DatumGetPointer(d);
    if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v))  // detoast (may ereport)
        v = guarded([&] { return pg_detoast_datum_packed(v); });
    return std::string(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

}  // namespace ct4::pg
