#include "core/claims_cache_codec.hpp"

#include <gtest/gtest.h>

using namespace ct4::core::claims;

TEST(ClaimsCacheCodec, RoundTripsLeadsAndTrips) {
    DriverInput in;
    in.leads = {{101, 9000}, {7, std::nullopt}, {INT64_MAX, -5}};
    in.trips = {{8999, 0}, {9000, 3}, {9013, 2147483647}};
    in.claims = {{1, 5, 101, 9000}};  // not encoded
    std::string s = encode_facts(in);
    DriverInput out;
    ASSERT_TRUE(decode_facts(s.data(), s.size(), out));
    ASSERT_EQ(out.leads.size(), 3u);
    EXPECT_EQ(out.leads[0].lead_id, 101);
    EXPECT_EQ(*out.leads[0].lead_date, 9000);
    EXPECT_FALSE(out.leads[1].lead_date.has_value());
    EXPECT_EQ(out.leads[2].lead_id, INT64_MAX);
    EXPECT_EQ(*out.leads[2].lead_date, -5);
    ASSERT_EQ(out.trips.size(), 3u);
    EXPECT_EQ(out.trips[2].date, 9013);
    EXPECT_EQ(out.trips[2].count, 2147483647);
    EXPECT_TRUE(out.claims.empty());
}

TEST(ClaimsCacheCodec, EmptyDriver) {
    DriverInput in, out;
    std::string s = encode_facts(in);
    ASSERT_TRUE(decode_facts(s.data(), s.size(), out));
    EXPECT_TRUE(out.leads.empty());
    EXPECT_TRUE(out.trips.empty());
}

TEST(ClaimsCacheCodec, RejectsDamagedBytes) {
    DriverInput in;
    in.leads = {{1, 10}};
    in.trips = {{10, 1}, {11, 2}};
    std::string s = encode_facts(in);
    DriverInput out;
    EXPECT_FALSE(decode_facts(s.data(), s.size() - 1, out));  // truncated
    std::string longer = s + "x";
    EXPECT_FALSE(decode_facts(longer.data(), longer.size(), out));  // trailing bytes
    std::string bad = s;
    bad[0] = 'X';
    EXPECT_FALSE(decode_facts(bad.data(), bad.size(), out));  // magic
    EXPECT_FALSE(decode_facts("", 0, out));
    DriverInput unsorted;
    unsorted.trips = {{11, 1}, {10, 1}};
    std::string u = encode_facts(unsorted);
    EXPECT_FALSE(decode_facts(u.data(), u.size(), out));
}
