// JSON text helpers shared by evidence, stats and details (pure C++).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ct4::core {

// `s` as a quoted JSON string: quotes, backslashes and control characters
// escaped; other bytes (UTF-8) copied as they are.
std::string json_string(std::string_view s);

// JSON text with the call interface of JsonbWriter (core/jsonb_writer.hpp),
// so one function template writes a document as text (tests, messages) or as
// binary jsonb (bulk inserts). Keys come out in call order.
class JsonTextWriter {
  public:
    void reset() {
        out_.clear();
        first_.clear();
    }
    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }
    void key(std::string_view k) {
        comma();
        out_ += json_string(k);
        out_ += ':';
        after_key_ = true;
    }
    void string(std::string_view s) {
        comma();
        out_ += json_string(s);
    }
    void int64(int64_t v) {
        comma();
        out_ += std::to_string(v);
    }
    void boolean(bool b) {
        comma();
        out_ += b ? "true" : "false";
    }
    void null() {
        comma();
        out_ += "null";
    }
    const std::string &finish() const { return out_; }

  private:
    void comma() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_.empty()) {
            if (!first_.back()) out_ += ',';
            first_.back() = false;
        }
    }
    void open(char c) {
        comma();
        out_ += c;
        first_.push_back(true);
    }
    void close(char c) {
        out_ += c;
        first_.pop_back();
    }
    std::string out_;
    std::vector<bool> first_;  // per open container: nothing written yet
    bool after_key_ = false;
};

}  // namespace ct4::core
