// The default profile schedules (schema/300_jobs.sql) convert to one GMT cron
// line in every UTC offset in use, and the converted line fires at the same
// instants as the local one (checked over a week with cron_next).
#include "core/cron.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ct4::core;

namespace {

const std::vector<std::string> kProfileSchedules = {
    "0 * * * *",  "30 * * * *",   "35 * * * *",  "*/15 * * * *", "30 2 * * *",
    "35 2 * * *", "*/30 * * * *", "*/2 * * * *", "*/5 * * * *",  "*/10 * * * *"};

// Every offset of the tz database that is a whole number of minutes (minutes).
std::vector<int> offsets_minutes() {
    std::vector<int> out;
    for (int m = -12 * 60; m <= 14 * 60; m += 15) out.push_back(m);
    return out;
}

}  // namespace

TEST(FrameworkSchedule, ProfilesConvertInEveryOffset) {
    const int64_t start = days_from_civil(2025, 3, 3) * 86400;  // a Monday, UTC
    for (const auto &local : kProfileSchedules) {
        CronSchedule ls = parse_cron(local);
        for (int om : offsets_minutes()) {
            const int off = om * 60;
            std::string utc;
            ASSERT_NO_THROW(utc = cron_local_to_utc(local, off))
                << local << " at offset " << om << " min";
            CronSchedule us = parse_cron(utc);
            // The local schedule evaluated on local wall time equals the UTC one on UTC time.
            int64_t t_utc = start, t_loc = start + off;
            for (int i = 0; i < 60; i++) {
                auto nu = cron_next(us, t_utc);
                auto nl = cron_next(ls, t_loc);
                ASSERT_TRUE(nu && nl);
                ASSERT_EQ(*nu + off, *nl)
                    << local << " -> " << utc << " at offset " << om << " min, fire " << i;
                t_utc = *nu;
                t_loc = *nl;
            }
        }
    }
}

TEST(FrameworkSchedule, SeedTimesInLimaAndMadrid) {
    EXPECT_EQ(cron_local_to_utc("30 2 * * *", -5 * 3600), "30 7 * * *");
    EXPECT_EQ(cron_local_to_utc("35 2 * * *", -5 * 3600), "35 7 * * *");
    EXPECT_EQ(cron_local_to_utc("30 2 * * *", 3600), "30 1 * * *");       // CET
    EXPECT_EQ(cron_local_to_utc("30 2 * * *", 7200), "30 0 * * *");       // CEST
    EXPECT_EQ(cron_local_to_utc("30 2 * * *", 19800), "0 21 * * *");      // India, day before
    EXPECT_EQ(cron_local_to_utc("*/15 * * * *", 20700), "*/15 * * * *");  // Nepal +5:45
}

TEST(FrameworkSchedule, IntervalsUsedByTheStaleRule) {
    EXPECT_EQ(cron_interval(parse_cron("*/15 * * * *"), 0), std::optional<int64_t>(900));
    EXPECT_EQ(cron_interval(parse_cron("30 2 * * *"), 0), std::optional<int64_t>(86400));
}
