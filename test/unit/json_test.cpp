#include "core/json.hpp"

#include <gtest/gtest.h>

using ct4::core::json_string;

TEST(Json, QuotesAndEscapes) {
    EXPECT_EQ(json_string("abc"), "\"abc\"");
    EXPECT_EQ(json_string(""), "\"\"");
    EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_string("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
    EXPECT_EQ(json_string(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
}

TEST(Json, Utf8PassesThrough) {
    EXPECT_EQ(json_string("Jos\xC3\xA9"), "\"Jos\xC3\xA9\"");
}
