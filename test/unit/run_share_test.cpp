#include "core/run_share.hpp"

#include <gtest/gtest.h>

using ct4::core::share_row_limit;

TEST(RunShare, EverythingFitsIsAllTaken) {
    auto s = share_row_limit(2000, 1000, 999);
    EXPECT_EQ(s.first, 1000);
    EXPECT_EQ(s.second, 999);
    s = share_row_limit(10, 0, 0);
    EXPECT_EQ(s.first + s.second, 0);
}

TEST(RunShare, OneQueueAloneGetsTheWholeLimit) {
    auto s = share_row_limit(2000, 5000, 0);
    EXPECT_EQ(s.first, 2000);
    EXPECT_EQ(s.second, 0);
    s = share_row_limit(2000, 0, 5000);
    EXPECT_EQ(s.first, 0);
    EXPECT_EQ(s.second, 2000);
}

TEST(RunShare, PendingKeepAQuarterWhenNewOnesFlood) {
    auto s = share_row_limit(2000, 100000, 100000);
    EXPECT_EQ(s.first, 1500);
    EXPECT_EQ(s.second, 500);
    s = share_row_limit(10, 50, 50);  // ceil(10 / 4) = 3
    EXPECT_EQ(s.first, 7);
    EXPECT_EQ(s.second, 3);
}

TEST(RunShare, PendingTakeWhatTheNewOnesLeave) {
    auto s = share_row_limit(2000, 1000, 100000);
    EXPECT_EQ(s.first, 1000);
    EXPECT_EQ(s.second, 1000);
    s = share_row_limit(2000, 1900, 100);  // fewer pending than a quarter: all of them
    EXPECT_EQ(s.first, 1900);
    EXPECT_EQ(s.second, 100);
    s = share_row_limit(2000, 1900, 800);  // more pending than a quarter: a quarter
    EXPECT_EQ(s.first, 1500);
    EXPECT_EQ(s.second, 500);
}

TEST(RunShare, TheFirstQueueKeepsAPlace) {
    auto s = share_row_limit(1, 3, 3);
    EXPECT_EQ(s.first, 1);
    EXPECT_EQ(s.second, 0);
    s = share_row_limit(2, 3, 3);
    EXPECT_EQ(s.first, 1);
    EXPECT_EQ(s.second, 1);
}
