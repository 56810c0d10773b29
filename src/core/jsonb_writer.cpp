#include "core/jsonb_writer.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

// The jsonb and numeric on-disk formats are native-endian; we write the
// little-endian form (x86-64, arm64), the only one we build for.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "JsonbWriter writes little-endian jsonb");

namespace ct4::core {

namespace {

// On-disk constants of PostgreSQL 15, copied so that this file needs no
// PostgreSQL header: src/include/utils/jsonb.h ...
constexpr uint32_t JENTRY_OFFLENMASK = 0x0FFFFFFF;
constexpr uint32_t JENTRY_HAS_OFF = 0x80000000;
constexpr uint32_t JENTRY_ISSTRING = 0x00000000;
constexpr uint32_t JENTRY_ISNUMERIC = 0x10000000;
constexpr uint32_t JENTRY_ISBOOL_FALSE = 0x20000000;
constexpr uint32_t JENTRY_ISBOOL_TRUE = 0x30000000;
constexpr uint32_t JENTRY_ISNULL = 0x40000000;
constexpr uint32_t JENTRY_ISCONTAINER = 0x50000000;
constexpr uint32_t JB_OFFSET_STRIDE = 32;
constexpr uint32_t JB_CMASK = 0x0FFFFFFF;
constexpr uint32_t JB_FSCALAR = 0x10000000;
constexpr uint32_t JB_FOBJECT = 0x20000000;
constexpr uint32_t JB_FARRAY = 0x40000000;
// ... and src/backend/utils/adt/numeric.c (short format, base 10000).
constexpr uint16_t NUMERIC_SHORT = 0x8000;
constexpr uint16_t NUMERIC_SHORT_SIGN_MASK = 0x2000;
constexpr uint16_t NUMERIC_SHORT_WEIGHT_MASK = 0x003F;
constexpr uint16_t NUMERIC_SHORT_WEIGHT_SIGN_MASK = 0x0040;
constexpr int NUMERIC_SHORT_DSCALE_SHIFT = 7;
constexpr int NUMERIC_SHORT_DSCALE_MAX = 0x3F;
constexpr int NUMERIC_SHORT_WEIGHT_MIN = -64, NUMERIC_SHORT_WEIGHT_MAX = 63;
constexpr uint16_t NUMERIC_POS = 0x0000, NUMERIC_NEG = 0x4000;
constexpr uint16_t NUMERIC_DSCALE_MASK = 0x3FFF;
constexpr uint32_t NBASE = 10000;
constexpr int DEC_DIGITS = 4;

void put_u32(std::string &b, uint32_t v) {
    char raw[4];
    std::memcpy(raw, &v, 4);
    b.append(raw, 4);
}

// INTALIGN of the buffer's end; padding bytes are zero as in PostgreSQL.
void pad_to_int(std::string &b) {
    b.append((4 - (b.size() & 3)) & 3, '\0');
}

void check_string(std::string_view s, const char *what) {
    // jsonb_in rejects \u0000: text cannot hold NUL.
    if (std::memchr(s.data(), '\0', s.size()))
        throw std::invalid_argument(std::string("JsonbWriter: NUL byte in ") + what);
    if (s.size() > JENTRY_OFFLENMASK)
        throw std::length_error(std::string("JsonbWriter: ") + what + " too long for jsonb");
}

}  // namespace

void JsonbWriter::reset() {
    buf_.assign(4, '\0');  // the varlena header, written by finish()
    frames_.clear();
    children_.clear();
    root_done_ = false;
}

// Checks that a value may come here; returns true when it is a scalar at
// the root, which PostgreSQL stores as a one-element array.
bool JsonbWriter::begin_value(bool container) {
    if (frames_.empty()) {
        if (root_done_) throw std::logic_error("JsonbWriter: a second value at the root");
        if (container) return false;
        frames_.push_back({false, false, (uint32_t)buf_.size(), (uint32_t)children_.size()});
        return true;
    }
    Frame &f = frames_.back();
    if (f.object) {
        if (!f.want_value) throw std::logic_error("JsonbWriter: object value without a key");
        f.want_value = false;
    }
    return false;
}

void JsonbWriter::add_child(uint32_t type, size_t off, bool aligned, bool raw_scalar_root) {
    children_.push_back({type, (uint32_t)off, (uint32_t)(buf_.size() - off), aligned});
    if (raw_scalar_root) end_container(false, true);
}

void JsonbWriter::key(std::string_view k) {
    if (frames_.empty() || !frames_.back().object || frames_.back().want_value)
        throw std::logic_error("JsonbWriter: key() outside an object or after another key");
    check_string(k, "key");
    size_t off = buf_.size();
    buf_.append(k.data(), k.size());
    children_.push_back({JENTRY_ISSTRING, (uint32_t)off, (uint32_t)k.size(), false});
    frames_.back().want_value = true;
}

void JsonbWriter::string(std::string_view s) {
    check_string(s, "string");
    bool raw = begin_value(false);
    size_t off = buf_.size();
    buf_.append(s.data(), s.size());
    add_child(JENTRY_ISSTRING, off, false, raw);
}

// A numeric varlena as numeric.c's make_result builds it: leading and
// trailing zero base-10000 digits dropped (zero: no digits, weight 0,
// positive), short format when dscale and weight fit it, else the long one.
void JsonbWriter::put_numeric(bool negative, int weight, int dscale, const uint16_t *digits, int n,
                              bool raw) {
    while (n > 0 && digits[0] == 0) {
        digits++;
        weight--;
        n--;
    }
    while (n > 0 && digits[n - 1] == 0) n--;
    if (n == 0) {
        weight = 0;
        negative = false;
    }
    pad_to_int(buf_);
    size_t off = buf_.size();
    bool shortfmt = dscale <= NUMERIC_SHORT_DSCALE_MAX && weight >= NUMERIC_SHORT_WEIGHT_MIN &&
                    weight <= NUMERIC_SHORT_WEIGHT_MAX;
    if (shortfmt) {
        put_u32(buf_, (uint32_t)(4 + 2 + 2 * n) << 2);
        uint16_t header = (uint16_t)(NUMERIC_SHORT | (negative ? NUMERIC_SHORT_SIGN_MASK : 0) |
                                     (dscale << NUMERIC_SHORT_DSCALE_SHIFT) |
                                     (weight < 0 ? NUMERIC_SHORT_WEIGHT_SIGN_MASK : 0) |
                                     (weight & NUMERIC_SHORT_WEIGHT_MASK));
        buf_.append((const char *)&header, 2);
    } else {
        put_u32(buf_, (uint32_t)(4 + 4 + 2 * n) << 2);
        uint16_t sign_dscale =
            (uint16_t)((negative ? NUMERIC_NEG : NUMERIC_POS) | (dscale & NUMERIC_DSCALE_MASK));
        int16_t w = (int16_t)weight;
        buf_.append((const char *)&sign_dscale, 2);
        buf_.append((const char *)&w, 2);
    }
    buf_.append((const char *)digits, 2 * (size_t)n);
    add_child(JENTRY_ISNUMERIC, off, true, raw);
}

// An integer: dscale 0.
void JsonbWriter::int64(int64_t v) {
    bool raw = begin_value(false);
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;  // also right for INT64_MIN
    uint16_t low_first[5];
    int n = 0;
    for (; mag; mag /= NBASE) low_first[n++] = (uint16_t)(mag % NBASE);
    uint16_t digits[5];
    for (int i = 0; i < n; i++) digits[i] = low_first[n - 1 - i];
    put_numeric(v < 0, n ? n - 1 : 0, 0, digits, n, raw);
}

// numeric.c's set_var_from_str: decimal digits with the weight of the first
// one and the count after the point (dscale), the exponent moving both, then
// regrouped into base-10000 digits aligned on the decimal point.
void JsonbWriter::decimal(std::string_view text) {
    auto bad = [&]() {
        return std::invalid_argument("JsonbWriter: not a JSON number: \"" + std::string(text) +
                                     "\"");
    };
    size_t i = 0, n = text.size();
    bool negative = i < n && text[i] == '-';
    if (negative) i++;
    std::vector<uint8_t> dec(DEC_DIGITS, 0);  // leading padding for the alignment
    int dweight = -1, dscale = 0;
    size_t int_start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') {
        dec.push_back((uint8_t)(text[i++] - '0'));
        dweight++;
    }
    size_t int_len = i - int_start;
    if (int_len == 0 || (int_len > 1 && text[int_start] == '0')) throw bad();
    if (i < n && text[i] == '.') {
        i++;
        size_t frac_start = i;
        while (i < n && text[i] >= '0' && text[i] <= '9') {
            dec.push_back((uint8_t)(text[i++] - '0'));
            dscale++;
        }
        if (i == frac_start) throw bad();
    }
    if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        bool eneg = i < n && text[i] == '-';
        if (i < n && (text[i] == '-' || text[i] == '+')) i++;
        size_t exp_start = i;
        long exp = 0;
        while (i < n && text[i] >= '0' && text[i] <= '9') {
            exp = exp * 10 + (text[i++] - '0');
            if (exp > 1000) throw std::length_error("JsonbWriter: exponent too large");
        }
        if (i == exp_start) throw bad();
        if (eneg) exp = -exp;
        dweight += (int)exp;
        dscale = std::max(0, dscale - (int)exp);
    }
    if (i != n) throw bad();
    int ddigits = (int)dec.size() - DEC_DIGITS;
    dec.resize(dec.size() + DEC_DIGITS - 1, 0);  // trailing padding
    int weight = dweight >= 0 ? (dweight + 1 + DEC_DIGITS - 1) / DEC_DIGITS - 1
                              : -((-dweight - 1) / DEC_DIGITS + 1);
    int offset = (weight + 1) * DEC_DIGITS - (dweight + 1);
    int ndigits = (ddigits + offset + DEC_DIGITS - 1) / DEC_DIGITS;
    std::vector<uint16_t> digits((size_t)ndigits);
    for (int k = 0, at = DEC_DIGITS - offset; k < ndigits; k++, at += DEC_DIGITS)
        digits[(size_t)k] =
            (uint16_t)(((dec[at] * 10 + dec[at + 1]) * 10 + dec[at + 2]) * 10 + dec[at + 3]);
    bool raw = begin_value(false);
    put_numeric(negative, weight, dscale, digits.data(), ndigits, raw);
}

void JsonbWriter::boolean(bool b) {
    bool raw = begin_value(false);
    add_child(b ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE, buf_.size(), false, raw);
}

void JsonbWriter::null() {
    bool raw = begin_value(false);
    add_child(JENTRY_ISNULL, buf_.size(), false, raw);
}

void JsonbWriter::begin_container(bool object) {
    begin_value(true);
    pad_to_int(buf_);
    frames_.push_back({object, false, (uint32_t)buf_.size(), (uint32_t)children_.size()});
}

void JsonbWriter::begin_object() {
    begin_container(true);
}
void JsonbWriter::begin_array() {
    begin_container(false);
}
void JsonbWriter::end_object() {
    end_container(true, false);
}
void JsonbWriter::end_array() {
    end_container(false, false);
}

// Lays the container out as jsonb_util.c's convertJsonbArray/Object do: a
// header, one JEntry per child (for objects all keys, sorted by length then
// bytes, then their values in the same order), then the children's bytes.
// Every JB_OFFSET_STRIDE-th JEntry holds the end offset instead of the
// length; for objects the index counts keys then values, which is
// PostgreSQL's (i + nPairs) % stride for values. Numerics and containers
// are INTALIGNed relative to the varlena start, the padding counted in
// their length; the container starts aligned, so offsets within it suffice.
void JsonbWriter::end_container(bool object, bool raw_scalar) {
    if (frames_.empty() || frames_.back().object != object)
        throw std::logic_error(object ? "JsonbWriter: end_object() without an open object"
                                      : "JsonbWriter: end_array() without an open array");
    Frame f = frames_.back();
    if (f.want_value) throw std::logic_error("JsonbWriter: key without a value");
    frames_.pop_back();

    const Child *c = children_.data() + f.first_child;
    size_t n = children_.size() - f.first_child;  // JEntries
    size_t count = object ? n / 2 : n;
    if (count > JB_CMASK) throw std::length_error("JsonbWriter: too many elements");
    if (object) {
        order_.resize(count);
        for (size_t i = 0; i < count; i++) order_[i] = (uint32_t)i;
        const char *base = buf_.data();
        auto key_less = [&](uint32_t a, uint32_t b) {
            const Child &ka = c[2 * a], &kb = c[2 * b];
            if (ka.len != kb.len) return ka.len < kb.len;
            return std::memcmp(base + ka.off, base + kb.off, ka.len) < 0;
        };
        std::sort(order_.begin(), order_.end(), key_less);
        for (size_t i = 1; i < count; i++)
            if (!key_less(order_[i - 1], order_[i]))
                throw std::invalid_argument(
                    "JsonbWriter: duplicate key \"" +
                    std::string(base + c[2 * order_[i]].off, c[2 * order_[i]].len) + "\"");
    }

    scratch_.clear();
    put_u32(scratch_,
            (uint32_t)count | (object ? JB_FOBJECT : JB_FARRAY) | (raw_scalar ? JB_FSCALAR : 0));
    size_t jentries = scratch_.size();
    scratch_.resize(jentries + 4 * n);
    uint32_t total = 0;
    auto place = [&](const Child &ch, size_t j) {
        size_t before = scratch_.size();
        if (ch.aligned) pad_to_int(scratch_);
        scratch_.append(buf_.data() + ch.off, ch.len);
        uint32_t len = (uint32_t)(scratch_.size() - before);
        if (len > JENTRY_OFFLENMASK - total)
            throw std::length_error("JsonbWriter: container too large for jsonb");
        total += len;
        uint32_t je = ch.type | (j % JB_OFFSET_STRIDE == 0 ? (total | JENTRY_HAS_OFF) : len);
        std::memcpy(&scratch_[jentries + 4 * j], &je, 4);
    };
    if (object) {
        for (size_t k = 0; k < count; k++) place(c[2 * order_[k]], k);
        for (size_t k = 0; k < count; k++) place(c[2 * order_[k] + 1], count + k);
    } else {
        for (size_t k = 0; k < n; k++) place(c[k], k);
    }
    if (scratch_.size() > JENTRY_OFFLENMASK)
        throw std::length_error("JsonbWriter: container too large for jsonb");

    children_.resize(f.first_child);
    buf_.resize(f.start);
    buf_ += scratch_;
    if (frames_.empty())
        root_done_ = true;
    else
        children_.push_back({JENTRY_ISCONTAINER, f.start, (uint32_t)scratch_.size(), true});
}

const std::string &JsonbWriter::finish() {
    if (!root_done_ || !frames_.empty())
        throw std::logic_error("JsonbWriter: finish() before the root value is complete");
    uint32_t header = (uint32_t)buf_.size() << 2;  // SET_VARSIZE, 4-byte little-endian form
    std::memcpy(&buf_[0], &header, 4);
    return buf_;
}

}  // namespace ct4::core
