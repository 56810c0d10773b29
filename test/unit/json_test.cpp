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

TEST(JsonTextWriter, NestingAndCommas) {
    ct4::core::JsonTextWriter w;
    w.begin_object();
    w.key("a");
    w.int64(-5);
    w.key("list");
    w.begin_array();
    w.begin_object();
    w.key("x");
    w.string("q\"");
    w.end_object();
    w.int64(2);
    w.boolean(false);
    w.null();
    w.begin_array();
    w.end_array();
    w.end_array();
    w.key("z");
    w.boolean(true);
    w.end_object();
    EXPECT_EQ(w.finish(), R"({"a":-5,"list":[{"x":"q\""},2,false,null,[]],"z":true})");
    w.reset();
    w.begin_array();
    w.int64(1);
    w.int64(2);
    w.end_array();
    EXPECT_EQ(w.finish(), "[1,2]") << "reset forgets the previous document";
}
