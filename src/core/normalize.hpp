// Normalization of identity fields (phone, licence, plate, person name) and
// name similarity. Pure C++17: no PostgreSQL headers, so it can be unit
// tested and benchmarked outside the server.
//
// All functions are total: any byte string (including invalid UTF-8) is
// accepted; the only exception that may escape is std::bad_alloc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ct4::core {

// ASCII digits only; a leading "00" is dropped; a 9-digit national number
// gets country code 51. Result is 11..15 digits, otherwise nullopt.
std::optional<std::string> normalize_phone(std::string_view s);

// ASCII upper-case, only A-Z0-9 kept, then O->0 and I->1. Fewer than 5
// characters -> nullopt.
std::optional<std::string> normalize_license(std::string_view s);

// Same rule as normalize_license.
std::optional<std::string> normalize_plate(std::string_view s);

// UTF-8 input. Accents folded to base Latin letters, lower-cased, every
// non-letter is a separator, tokens sorted (byte order) and joined by one
// space. No token -> nullopt. See normalize.cpp for the exact letter rule.
std::optional<std::string> normalize_name(std::string_view s);

// Normalized names are compared on their first kMaxComparedNameBytes bytes
// (whole characters): the job ignores longer names as garbage
// (core::kMaxNameKeyBytes), so for every name it uses the SQL functions give
// its figure, and hostile input costs bounded work (a 400 kB name costs a
// linear normalization, not a quadratic Jaro-Winkler).
constexpr size_t kMaxComparedNameBytes = 200;
std::string_view compared_name(std::string_view normalized);

// Jaro-Winkler of the normalized names (by code point, each compared_name);
// 0.0 if either name normalizes to nullopt.
double name_similarity(std::string_view a, std::string_view b);
// The same for names normalize_name already returned (the matcher keeps
// them normalized): no second normalization, no allocation for ASCII names.
double normalized_name_similarity(std::string_view na, std::string_view nb);

// Raw Jaro-Winkler on code points: window floor(max/2)-1, prefix scale 0.1,
// prefix capped at 4, boost only when Jaro > 0.7. Empty input -> 0.0.
double jaro_winkler(const std::u32string &a, const std::u32string &b);

}  // namespace ct4::core
