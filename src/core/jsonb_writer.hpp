// Builds PostgreSQL jsonb datums directly in their binary form (pure C++):
// the bytes finish() returns are exactly what jsonb_in makes of the same
// document as JSON text, so a job can hand them to PostgreSQL as jsonb
// without the text being built and parsed again.
//
// Usage:
//   JsonbWriter w;
//   w.begin_object(); w.key("lead_id"); w.int64(729); w.end_object();
//   const std::string &varlena = w.finish();  // 4-byte header included
//   w.reset();                                // reuse for the next document
//
// Misuse (a value without its key, unbalanced end_*, two roots) throws
// std::logic_error; duplicate keys and NUL bytes in strings throw
// std::invalid_argument; documents over PostgreSQL's size limits throw
// std::length_error. After a throw, call reset() before reusing the writer.
// Strings must be valid UTF-8 (not checked). Numbers: 64-bit integers, or
// any JSON number given as its text (decimal()), encoded as numeric_in does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ct4::core {

class JsonbWriter {
  public:
    JsonbWriter() { reset(); }

    // Forgets the document; keeps the buffers' capacity.
    void reset();

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    void key(std::string_view k);  // inside an object, before each value

    void string(std::string_view s);
    void int64(int64_t v);
    // A JSON number as text ("0.961111", "-2.50", "1e-05"): the numeric that
    // numeric_in makes of it, display scale included. Anything that is not a
    // JSON number throws std::invalid_argument.
    void decimal(std::string_view text);
    void boolean(bool b);
    void null();

    // The whole jsonb varlena (header = total length << 2, as SET_VARSIZE
    // writes it on a little-endian host). Valid until the next call that
    // changes the writer. A root scalar is stored as PostgreSQL does: a
    // one-element array flagged as scalar.
    const std::string &finish();

  private:
    // A finished child of an open container: its bytes in buf_ (without
    // leading padding) and its JEntry type bits.
    struct Child {
        uint32_t type;
        uint32_t off;
        uint32_t len;
        bool aligned;  // numerics and containers start on a 4-byte boundary
    };
    struct Frame {
        bool object;
        bool want_value;  // object: a key was given, its value not yet
        uint32_t start;   // where the container's bytes begin in buf_
        uint32_t first_child;
    };

    bool begin_value(bool container);
    void put_numeric(bool negative, int weight, int dscale, const uint16_t *digits, int n,
                     bool raw);
    void add_child(uint32_t type, size_t off, bool aligned, bool raw_scalar_root);
    void begin_container(bool object);
    void end_container(bool object, bool raw_scalar);

    std::string buf_;      // varlena header, then children awaiting their container
    std::string scratch_;  // a container being laid out at its end_*
    std::vector<Frame> frames_;
    std::vector<Child> children_;
    std::vector<uint32_t> order_;  // object pairs sorted by key
    bool root_done_ = false;
};

}  // namespace ct4::core
