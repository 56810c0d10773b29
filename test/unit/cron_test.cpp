#include "core/cron.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ct4::core;

namespace {

// UTC epoch seconds for a civil date-time, via the code under test's
// days_from_civil (itself checked against libc below).
int64_t ts(int64_t y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

std::string parse_error(const std::string &expr) {
    try {
        parse_cron(expr);
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
    return "<no error>";
}

std::string convert_error(const std::string &expr, int offset) {
    try {
        return "<no error: " + cron_local_to_utc(expr, offset) + ">";
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
}

template <size_t N>
std::vector<int> bits(const std::bitset<N> &b) {
    std::vector<int> v;
    for (size_t i = 0; i < N; ++i) {
        if (b[i]) v.push_back(static_cast<int>(i));
    }
    return v;
}

// Independent matcher: calendar fields from libc gmtime_r, day rule as
// written in pg_cron's ShouldRunTask.
bool reference_matches(const CronSchedule &s, int64_t t) {
    time_t tt = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    const bool dom = s.dom[static_cast<size_t>(tm.tm_mday)];
    const bool dow = s.dow[static_cast<size_t>(tm.tm_wday)];
    const bool day = (s.dom_star || s.dow_star) ? (dom && dow) : (dom || dow);
    return s.minute[static_cast<size_t>(tm.tm_min)] && s.hour[static_cast<size_t>(tm.tm_hour)] &&
           s.month[static_cast<size_t>(tm.tm_mon + 1)] && day;
}

}  // namespace

// ---------------------------------------------------------------- calendar

TEST(CronCalendar, KnownEpochs) {
    EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
    EXPECT_EQ(ts(2026, 11, 22), 1795305600);  // date -u -d @1795305600
    EXPECT_EQ(ts(2028, 2, 29), 1835395200);
    EXPECT_EQ(ts(2104, 2, 29), 4233686400);
    EXPECT_EQ(ts(2025, 3, 1), 1740787200);
    EXPECT_EQ(weekday_from_days(0), 4u);                              // Thursday
    EXPECT_EQ(weekday_from_days(days_from_civil(2026, 11, 22)), 0u);  // Sunday
    EXPECT_EQ(weekday_from_days(-1), 3u);
    EXPECT_EQ(weekday_from_days(-7), 4u);
}

TEST(CronCalendar, MatchesLibcOverCenturies) {
    // 1900-03-01 .. ~2300, includes the non-leap 2100/2200 and leap 2000.
    for (int64_t z = days_from_civil(1900, 3, 1); z < days_from_civil(2300, 1, 1); z += 1) {
        time_t tt = static_cast<time_t>(z * 86400);
        struct tm tm {};
        gmtime_r(&tt, &tm);
        const CivilDate c = civil_from_days(z);
        ASSERT_EQ(c.year, tm.tm_year + 1900) << z;
        ASSERT_EQ(c.month, static_cast<unsigned>(tm.tm_mon + 1)) << z;
        ASSERT_EQ(c.day, static_cast<unsigned>(tm.tm_mday)) << z;
        ASSERT_EQ(weekday_from_days(z), static_cast<unsigned>(tm.tm_wday)) << z;
        ASSERT_EQ(days_from_civil(c.year, c.month, c.day), z);
    }
}

// ----------------------------------------------------------------- parsing

TEST(CronParse, AllStars) {
    const CronSchedule s = parse_cron("* * * * *");
    EXPECT_EQ(s.minute.count(), 60u);
    EXPECT_EQ(s.hour.count(), 24u);
    EXPECT_EQ(bits(s.dom).size(), 31u);
    EXPECT_FALSE(s.dom[0]);
    EXPECT_EQ(bits(s.month).size(), 12u);
    EXPECT_FALSE(s.month[0]);
    EXPECT_EQ(s.dow.count(), 8u);
    EXPECT_TRUE(s.dom_star);
    EXPECT_TRUE(s.dow_star);
}

TEST(CronParse, NumbersRangesStepsLists) {
    const CronSchedule s = parse_cron("5,10-12,*/20 0-10/5 1,15 2-3 1-5");
    EXPECT_EQ(bits(s.minute), (std::vector<int>{0, 5, 10, 11, 12, 20, 40}));
    EXPECT_EQ(bits(s.hour), (std::vector<int>{0, 5, 10}));
    EXPECT_EQ(bits(s.dom), (std::vector<int>{1, 15}));
    EXPECT_EQ(bits(s.month), (std::vector<int>{2, 3}));
    EXPECT_EQ(bits(s.dow), (std::vector<int>{1, 2, 3, 4, 5}));
    EXPECT_FALSE(s.dom_star);
    EXPECT_FALSE(s.dow_star);
}

TEST(CronParse, Steps) {
    EXPECT_EQ(bits(parse_cron("*/15 * * * *").minute), (std::vector<int>{0, 15, 30, 45}));
    EXPECT_EQ(bits(parse_cron("5-50/20 * * * *").minute), (std::vector<int>{5, 25, 45}));
    EXPECT_EQ(bits(parse_cron("* */7 * * *").hour), (std::vector<int>{0, 7, 14, 21}));
    EXPECT_EQ(bits(parse_cron("* * */10 * *").dom), (std::vector<int>{1, 11, 21, 31}));
    EXPECT_EQ(bits(parse_cron("* * * */5 *").month), (std::vector<int>{1, 6, 11}));
    // A step larger than the range keeps just the first value, as in vixie.
    EXPECT_EQ(bits(parse_cron("*/100 * * * *").minute), (std::vector<int>{0}));
    // "*/3" on day-of-week starts at 0 (Sunday) so 7 is set too.
    EXPECT_EQ(bits(parse_cron("* * * * */3").dow), (std::vector<int>{0, 3, 6, 7}));
}

TEST(CronParse, StarFlagsFollowFirstCharacter) {
    const CronSchedule a = parse_cron("0 0 */2 * 1");
    EXPECT_TRUE(a.dom_star);
    EXPECT_FALSE(a.dow_star);
    const CronSchedule b = parse_cron("0 0 1-31 * 0-7");
    EXPECT_FALSE(b.dom_star);
    EXPECT_FALSE(b.dow_star);
    const CronSchedule c = parse_cron("0 0 1,*/2 * 1");  // '*' not first: no flag
    EXPECT_FALSE(c.dom_star);
}

TEST(CronParse, NamesCaseInsensitive) {
    const CronSchedule s = parse_cron("0 0 * jan-MAR,Dec mon-FRI,sun");
    EXPECT_EQ(bits(s.month), (std::vector<int>{1, 2, 3, 12}));
    EXPECT_EQ(bits(s.dow), (std::vector<int>{0, 1, 2, 3, 4, 5, 7}));
    EXPECT_EQ(parse_cron("0 0 * JUL *").month, parse_cron("0 0 * 7 *").month);
    EXPECT_EQ(parse_cron("0 0 * * Sat").dow, parse_cron("0 0 * * 6").dow);
    EXPECT_EQ(parse_cron("0 0 * feb-5/2 *").month, parse_cron("0 0 * 2,4 *").month);
    // Only the 3-letter names, only in month/day-of-week.
    EXPECT_FALSE(cron_valid("0 0 * * monday", nullptr));
    EXPECT_FALSE(cron_valid("0 0 * january *", nullptr));
    EXPECT_FALSE(cron_valid("0 0 mon * *", nullptr));
    EXPECT_FALSE(cron_valid("0 0 * sun *", nullptr));
}

TEST(CronParse, SevenIsSunday) {
    EXPECT_EQ(parse_cron("0 0 * * 7"), parse_cron("0 0 * * 0"));
    EXPECT_EQ(bits(parse_cron("0 0 * * 7").dow), (std::vector<int>{0, 7}));
    EXPECT_EQ(bits(parse_cron("0 0 * * 5-7").dow), (std::vector<int>{0, 5, 6, 7}));
    const int64_t sunday = ts(2026, 11, 22);
    EXPECT_TRUE(cron_matches(parse_cron("0 0 * * 7"), sunday));
    EXPECT_FALSE(cron_matches(parse_cron("0 0 * * 7"), sunday + 86400));
}

TEST(CronParse, Shorthands) {
    EXPECT_EQ(parse_cron("@yearly"), parse_cron("0 0 1 1 *"));
    EXPECT_EQ(parse_cron("@annually"), parse_cron("0 0 1 1 *"));
    EXPECT_EQ(parse_cron("@monthly"), parse_cron("0 0 1 * *"));
    EXPECT_EQ(parse_cron("@weekly"), parse_cron("0 0 * * 0"));
    EXPECT_EQ(parse_cron("@daily"), parse_cron("0 0 * * *"));
    EXPECT_EQ(parse_cron("@midnight"), parse_cron("0 0 * * *"));
    EXPECT_EQ(parse_cron("@hourly"), parse_cron("0 * * * *"));
    EXPECT_EQ(parse_cron("  @daily \n"), parse_cron("0 0 * * *"));
    // pg_cron compares these case-sensitively and @reboot has no time.
    EXPECT_FALSE(cron_valid("@reboot", nullptr));
    EXPECT_FALSE(cron_valid("@Daily", nullptr));
    EXPECT_FALSE(cron_valid("@daily 5", nullptr));
    EXPECT_FALSE(cron_valid("@", nullptr));
}

TEST(CronParse, WhitespaceTolerated) {
    EXPECT_EQ(parse_cron(" \t0  5\t* *   1 \n"), parse_cron("0 5 * * 1"));
}

TEST(CronParse, InvalidNamesTheField) {
    EXPECT_NE(parse_error("60 * * * *").find("'minute'"), std::string::npos);
    EXPECT_NE(parse_error("60 * * * *").find("out of range 0-59"), std::string::npos);
    EXPECT_NE(parse_error("* 24 * * *").find("'hour'"), std::string::npos);
    EXPECT_NE(parse_error("* * 0 * *").find("'day-of-month'"), std::string::npos);
    EXPECT_NE(parse_error("* * 32 * *").find("'day-of-month'"), std::string::npos);
    EXPECT_NE(parse_error("* * * 13 *").find("'month'"), std::string::npos);
    EXPECT_NE(parse_error("* * * 0 *").find("'month'"), std::string::npos);
    EXPECT_NE(parse_error("* * * * 8").find("'day-of-week'"), std::string::npos);
    EXPECT_NE(parse_error("1- * * * *").find("'minute'"), std::string::npos);
    EXPECT_NE(parse_error("a * * * *").find("'minute'"), std::string::npos);
    EXPECT_NE(parse_error("0 0 * * xyz").find("'day-of-week'"), std::string::npos);
    EXPECT_NE(parse_error("5-64/30 * * * *").find("'minute'"), std::string::npos);
}

TEST(CronParse, InvalidExpressions) {
    const char *bad[] = {
        "",
        "   ",
        "* * * *",
        "* * * * * *",
        "5 seconds",
        "30 seconds",
        "59 s",
        "1 second",
        "1/5 * * * *",
        "*/0 * * * *",
        "*/ * * * *",
        "*/a * * * *",
        "5-1 * * * *",
        "1,,2 * * * *",
        "1, * * * *",
        ",1 * * * *",
        "*x * * * *",
        "*-5 * * * *",
        "1.5 * * * *",
        "-1 * * * *",
        "0 0 $ * *",
        "0 0 L * *",
        "0 0 * * 1#2",
        "99999999999999999999 * * * *",
        "0 0 * * mon-",
        "0 0 * 1-jan2 *",
        "* * * * 0 0",
    };
    for (const char *e : bad) {
        std::string err;
        EXPECT_FALSE(cron_valid(e, &err)) << e;
        EXPECT_FALSE(err.empty()) << e;
        EXPECT_THROW(parse_cron(e), std::invalid_argument) << e;
    }
    EXPECT_NE(parse_error("5 seconds").find("pg_cron >= 1.5"), std::string::npos);
    EXPECT_NE(parse_error("* * * * * *").find("6 fields"), std::string::npos);
    EXPECT_NE(parse_error("").find("empty"), std::string::npos);
    EXPECT_NE(parse_error("5-1 * * * *").find("reversed"), std::string::npos);
    EXPECT_FALSE(cron_valid(std::string(2000, '*'), nullptr));
}

TEST(CronParse, ValidReportsNoError) {
    std::string err = "untouched";
    EXPECT_TRUE(cron_valid("*/5 * * * *", &err));
    EXPECT_EQ(err, "untouched");
    EXPECT_TRUE(cron_valid("0 0 * * *", nullptr));
    EXPECT_FALSE(cron_valid("0 0 * *", nullptr));  // null error pointer is fine
}

// ------------------------------------------------------------ next / match

TEST(CronNext, EveryFifteenMinutes) {
    const CronSchedule s = parse_cron("*/15 * * * *");
    const int64_t t0 = 1795305600;  // 2026-11-22T00:00:00Z
    EXPECT_EQ(cron_next(s, t0), t0 + 900);
    EXPECT_EQ(cron_next(s, t0 + 899), t0 + 900);
    EXPECT_EQ(cron_next(s, t0 + 900), t0 + 1800);  // strictly after
    EXPECT_EQ(cron_next(s, t0 - 1), t0);
    EXPECT_EQ(cron_next(s, ts(2026, 12, 31, 23, 50)), ts(2027, 1, 1));
}

TEST(CronNext, StepsWithinRange) {
    const CronSchedule s = parse_cron("5-50/20 * * * *");
    int64_t t = ts(2026, 11, 22, 10, 0);
    std::vector<int64_t> got;
    for (int i = 0; i < 4; ++i) got.push_back(t = *cron_next(s, t));
    EXPECT_EQ(got, (std::vector<int64_t>{ts(2026, 11, 22, 10, 5), ts(2026, 11, 22, 10, 25),
                                         ts(2026, 11, 22, 10, 45), ts(2026, 11, 22, 11, 5)}));
}

TEST(CronNext, Hourly) {
    const CronSchedule s = parse_cron("@hourly");
    EXPECT_EQ(cron_next(s, ts(2026, 11, 22, 10, 0)), ts(2026, 11, 22, 11, 0));
    EXPECT_EQ(cron_next(s, ts(2026, 11, 22, 10, 0, 1)), ts(2026, 11, 22, 11, 0));
    EXPECT_EQ(cron_next(s, ts(2026, 11, 22, 9, 59, 59)), ts(2026, 11, 22, 10, 0));
    EXPECT_EQ(cron_next(s, ts(2026, 11, 22, 23, 0)), ts(2026, 11, 23, 0, 0));
}

TEST(CronNext, MonthEnds) {
    EXPECT_EQ(cron_next(parse_cron("0 0 31 * *"), ts(2026, 4, 1)), ts(2026, 5, 31));
    EXPECT_EQ(cron_next(parse_cron("0 0 31 * *"), ts(2026, 5, 31)), ts(2026, 7, 31));
    EXPECT_EQ(cron_next(parse_cron("0 12 1 * *"), ts(2026, 1, 31, 12)), ts(2026, 2, 1, 12));
    EXPECT_EQ(cron_next(parse_cron("30 23 28-31 2 *"), ts(2027, 2, 28, 23, 30)),
              ts(2028, 2, 28, 23, 30));
    EXPECT_EQ(cron_next(parse_cron("0 0 30 * *"), ts(2027, 1, 30)), ts(2027, 3, 30));
}

TEST(CronNext, LeapYears) {
    const CronSchedule s = parse_cron("0 0 29 2 *");
    EXPECT_EQ(cron_next(s, ts(2025, 3, 1)), ts(2028, 2, 29));
    EXPECT_EQ(cron_next(s, ts(2025, 3, 1)), 1835395200);
    EXPECT_EQ(cron_next(s, ts(2028, 2, 29)), ts(2032, 2, 29));
    // 2100 is not a leap year: the gap is 8 years and is still found.
    EXPECT_EQ(cron_next(s, ts(2096, 3, 1)), ts(2104, 2, 29));
    EXPECT_EQ(cron_next(s, ts(1999, 3, 1)), ts(2000, 2, 29));
}

TEST(CronNext, YearEnd) {
    EXPECT_EQ(cron_next(parse_cron("59 23 31 12 *"), ts(2026, 12, 31, 23, 59)),
              ts(2027, 12, 31, 23, 59));
    EXPECT_EQ(cron_next(parse_cron("@yearly"), ts(2026, 12, 31, 23, 59, 59)), ts(2027, 1, 1));
    EXPECT_EQ(cron_next(parse_cron("0 0 * dec *"), ts(2026, 12, 31)), ts(2027, 12, 1));
    EXPECT_EQ(cron_next(parse_cron("@monthly"), ts(2026, 12, 15)), ts(2027, 1, 1));
}

TEST(CronNext, DomOrDowRule) {
    // Neither field starts with '*': 13th of the month OR any Friday.
    const CronSchedule s = parse_cron("0 0 13 * 5");
    std::vector<int64_t> got;
    int64_t t = ts(2026, 11, 1);
    for (int i = 0; i < 8; ++i) got.push_back(t = *cron_next(s, t));
    EXPECT_EQ(got, (std::vector<int64_t>{ts(2026, 11, 6), ts(2026, 11, 13), ts(2026, 11, 20),
                                         ts(2026, 11, 27), ts(2026, 12, 4), ts(2026, 12, 11),
                                         ts(2026, 12, 13), ts(2026, 12, 18)}));
    EXPECT_TRUE(cron_matches(s, ts(2026, 12, 13)));   // Sunday the 13th
    EXPECT_FALSE(cron_matches(s, ts(2026, 12, 14)));  // Monday the 14th
}

TEST(CronNext, DomAndDowRuleWhenStarred) {
    // dow '*' : only the 13th.
    EXPECT_EQ(cron_next(parse_cron("0 0 13 * *"), ts(2026, 11, 14)), ts(2026, 12, 13));
    // dom '*' : only Fridays.
    EXPECT_EQ(cron_next(parse_cron("0 0 * * fri"), ts(2026, 11, 14)), ts(2026, 11, 20));
    // vixie quirk: "*/7" sets DOW_STAR, so this is "days 1-7 AND Sunday":
    // the first Sunday of each month.
    const CronSchedule first_sunday = parse_cron("0 0 1-7 * */7");
    EXPECT_EQ(cron_next(first_sunday, ts(2026, 11, 1)), ts(2026, 12, 6));
    EXPECT_EQ(cron_next(first_sunday, ts(2026, 12, 6)), ts(2027, 1, 3));
    // dom "*/2" (odd days, DOM_STAR) AND Monday.
    EXPECT_EQ(cron_next(parse_cron("0 0 */2 * 1"), ts(2026, 11, 22)), ts(2026, 11, 23));
    EXPECT_EQ(cron_next(parse_cron("0 0 */2 * 1"), ts(2026, 11, 23)), ts(2026, 12, 7));
}

TEST(CronNext, NeverFires) {
    EXPECT_EQ(cron_next(parse_cron("0 0 30 2 *"), ts(2026, 1, 1)), std::nullopt);
    EXPECT_EQ(cron_next(parse_cron("0 0 31 4,6,9,11 *"), ts(2026, 1, 1)), std::nullopt);
    EXPECT_EQ(cron_next(parse_cron("* * * * *"), int64_t{1} << 60), std::nullopt);
    EXPECT_EQ(cron_next(parse_cron("* * * * *"), -(int64_t{1} << 60)), std::nullopt);
}

TEST(CronNext, RareButPossible) {
    // Feb 29 that is also a Monday (AND rule via "*/28" = {1,29}): 2044, then 2072.
    const CronSchedule s = parse_cron("0 0 */28 2 1");
    EXPECT_EQ(cron_next(s, ts(2026, 3, 1)), ts(2027, 2, 1));  // Feb 1 2027 is a Monday
    int64_t t = ts(2026, 3, 1);
    int64_t found = 0;
    for (int i = 0; i < 40 && !found; ++i) {
        t = *cron_next(s, t);
        if (civil_from_days(t / 86400).day == 29) found = t;
    }
    EXPECT_EQ(found, ts(2044, 2, 29));
}

TEST(CronNext, BeforeEpoch) {
    EXPECT_EQ(cron_next(parse_cron("@yearly"), ts(1969, 6, 1)), 0);
    EXPECT_EQ(cron_next(parse_cron("*/15 * * * *"), -1), 0);
    EXPECT_EQ(cron_next(parse_cron("*/15 * * * *"), -901), -900);
    EXPECT_TRUE(cron_matches(parse_cron("45 23 31 12 *"), -900));
}

TEST(CronMatch, IgnoresSeconds) {
    const CronSchedule s = parse_cron("30 2 * * *");
    EXPECT_TRUE(cron_matches(s, ts(2026, 11, 22, 2, 30, 0)));
    EXPECT_TRUE(cron_matches(s, ts(2026, 11, 22, 2, 30, 59)));
    EXPECT_FALSE(cron_matches(s, ts(2026, 11, 22, 2, 31, 0)));
    EXPECT_FALSE(cron_matches(s, ts(2026, 11, 22, 2, 29, 59)));
}

TEST(CronNext, AgreesWithMinuteScan) {
    // cron_next chained through a window must hit exactly the minutes an
    // independent libc-based matcher accepts.
    const char *exprs[] = {
        "*/15 * * * *",      "5-50/20 3-5 * * *", "0 0 13 * 5",     "0 0 29 2 *",    "59 23 * * 0",
        "0 */6 1,15,31 * *", "0 0 1-7 * */7",     "30 2 * 1,3 mon", "0 0 */2 * 1-3", "@weekly"};
    const int64_t begin = ts(2027, 12, 20);
    const int64_t end = ts(2028, 3, 10);
    for (const char *e : exprs) {
        const CronSchedule s = parse_cron(e);
        std::vector<int64_t> want;
        for (int64_t t = begin + 60; t < end; t += 60) {
            ASSERT_EQ(cron_matches(s, t), reference_matches(s, t)) << e << " @" << t;
            if (reference_matches(s, t)) want.push_back(t);
        }
        std::vector<int64_t> got;
        for (int64_t t = begin + 17;;) {
            const std::optional<int64_t> n = cron_next(s, t);
            if (!n || *n >= end) break;
            got.push_back(*n);
            t = *n;
        }
        EXPECT_EQ(got, want) << e;
    }
}

// ---------------------------------------------------------------- interval

TEST(CronInterval, Basic) {
    const int64_t t0 = 1795305600;
    EXPECT_EQ(cron_interval(parse_cron("*/15 * * * *"), t0), 900);
    EXPECT_EQ(cron_interval(parse_cron("30 2 * * *"), t0), 86400);
    EXPECT_EQ(cron_interval(parse_cron("@hourly"), t0), 3600);
    EXPECT_EQ(cron_interval(parse_cron("0 0,1 * * *"), t0), 3600);
    EXPECT_EQ(cron_interval(parse_cron("@weekly"), t0), 7 * 86400);
    EXPECT_EQ(cron_interval(parse_cron("0 0 30 2 *"), t0), std::nullopt);
    // From Thursday evening: Fri, Mon, Tue -> smallest gap is one day.
    EXPECT_EQ(cron_interval(parse_cron("0 9 * * 1-5"), ts(2026, 11, 26, 20)), 86400);
}

// -------------------------------------------------------- local -> UTC

TEST(CronLocalToUtc, BriefExamples) {
    EXPECT_EQ(cron_local_to_utc("30 2 * * *", -18000), "30 7 * * *");
    EXPECT_EQ(cron_local_to_utc("*/15 * * * *", -18000), "*/15 * * * *");
    EXPECT_EQ(cron_local_to_utc("30 22 * * 1", -18000), "30 3 * * 2");
    EXPECT_EQ(cron_local_to_utc("0 1 * * *", 3600), "0 0 * * *");
    EXPECT_EQ(cron_local_to_utc("30 0 * * *", 3600), "30 23 * * *");
    EXPECT_EQ(cron_local_to_utc("30 0 * * 0", 3600), "30 23 * * 6");
    EXPECT_EQ(cron_local_to_utc("0 9 * * *", 19800), "30 3 * * *");
    EXPECT_EQ(cron_local_to_utc("0 2,14 * * *", -18000), "0 7,19 * * *");
    EXPECT_EQ(cron_local_to_utc("0 2,22 * * *", -18000), "0 3,7 * * *");
    EXPECT_NE(convert_error("0 2,22 * * 1", -18000).find("cross midnight"), std::string::npos);
}

TEST(CronLocalToUtc, MoreShifts) {
    EXPECT_EQ(cron_local_to_utc("0 6 * * *", 20700), "15 0 * * *");   // Nepal +05:45
    EXPECT_EQ(cron_local_to_utc("0 3 * * *", 20700), "15 21 * * *");  // previous day
    EXPECT_EQ(cron_local_to_utc("0 * * * *", 19800), "30 * * * *");
    EXPECT_EQ(cron_local_to_utc("*/15 * * * *", 19800), "*/15 * * * *");
    EXPECT_EQ(cron_local_to_utc("5-50/20 * * * *", 19800), "15,35,55 * * * *");
    EXPECT_EQ(cron_local_to_utc("0 22 * * mon-fri", -18000), "0 3 * * 2-6");
    EXPECT_EQ(cron_local_to_utc("0 22 * * fri,sat", -18000), "0 3 * * 0,6");
    EXPECT_EQ(cron_local_to_utc("0 22 * * 7", -18000), "0 3 * * 1");
    EXPECT_EQ(cron_local_to_utc("0 0 13 * 5", -18000), "0 5 13 * 5");
    EXPECT_EQ(cron_local_to_utc("0 0 13 * 5", 3600), "0 23 12 * 4");
    EXPECT_EQ(cron_local_to_utc("30 0 15 * *", 3600), "30 23 14 * *");
    EXPECT_EQ(cron_local_to_utc("30 0 15 6 *", 3600), "30 23 14 6 *");
    EXPECT_EQ(cron_local_to_utc("0 20 1-5 jan *", -18000), "0 1 2-6 jan *");
    EXPECT_EQ(cron_local_to_utc("0 12 * jun *", 3600), "0 11 * jun *");  // no day change
    EXPECT_EQ(cron_local_to_utc("  0   4 * * *  ", 0), "0 4 * * *");
    EXPECT_EQ(cron_local_to_utc("0 1-3 * * *", 3600), "0 0-2 * * *");
    EXPECT_EQ(cron_local_to_utc("0 */6 * * *", 3600), "0 5,11,17,23 * * *");
    EXPECT_EQ(cron_local_to_utc("0 */6 * * *", 6 * 3600), "0 */6 * * *");
}

TEST(CronLocalToUtc, ShorthandsExpandFirst) {
    EXPECT_EQ(cron_local_to_utc("@daily", -18000), "0 5 * * *");
    EXPECT_EQ(cron_local_to_utc("@midnight", 3600), "0 23 * * *");
    EXPECT_EQ(cron_local_to_utc("@weekly", 3600), "0 23 * * 6");
    EXPECT_EQ(cron_local_to_utc("@weekly", -18000), "0 5 * * 0");
    EXPECT_EQ(cron_local_to_utc("@hourly", 19800), "30 * * * *");
    EXPECT_EQ(cron_local_to_utc("@monthly", -18000), "0 5 1 * *");
    EXPECT_EQ(cron_local_to_utc("@yearly", -18000), "0 5 1 1 *");
    EXPECT_NE(convert_error("@monthly", 3600).find("day 1"), std::string::npos);
}

TEST(CronLocalToUtc, Errors) {
    EXPECT_NE(convert_error("0 9 * * *", 30).find("whole number of minutes"), std::string::npos);
    EXPECT_NE(convert_error("0 9 * * *", 86400).find("24 hours"), std::string::npos);
    EXPECT_NE(convert_error("0 9 * * *", -86400).find("24 hours"), std::string::npos);
    EXPECT_NE(convert_error("*/15 2 * * *", 19800).find("grid"), std::string::npos);
    EXPECT_NE(convert_error("0 * * * 1", -18000).find("cross midnight"), std::string::npos);
    EXPECT_NE(convert_error("30 0 1 * *", 3600).find("'day-of-month'"), std::string::npos);
    EXPECT_NE(convert_error("0 22 28 * *", -18000).find("'day-of-month'"), std::string::npos);
    EXPECT_NE(convert_error("0 22 */2 * *", -18000).find("'day-of-month'"), std::string::npos);
    EXPECT_NE(convert_error("0 22 1 * */2", -18000).find("'day-of-week'"), std::string::npos);
    EXPECT_NE(convert_error("30 0 * 6 *", 3600).find("'month'"), std::string::npos);
    EXPECT_NE(convert_error("30 0 * 6 1", 3600).find("'month'"), std::string::npos);
    EXPECT_NE(convert_error("30 0 15 6 1", 3600).find("'month'"), std::string::npos);
    EXPECT_NE(convert_error("60 0 * * *", 3600).find("'minute'"), std::string::npos);
    EXPECT_NE(convert_error("5 seconds", 3600).find("pg_cron >= 1.5"), std::string::npos);
}

TEST(CronLocalToUtc, SameFiringMinutes) {
    // The UTC schedule must fire exactly when the local one does, checked
    // minute by minute across a year end, month ends and a leap day.
    struct Case {
        const char *expr;
        int offset;
    };
    const Case cases[] = {
        {"30 2 * * *", -18000},     {"30 22 * * 1", -18000},  {"30 0 * * 0", 3600},
        {"0 9 * * *", 19800},       {"0 2,22 * * *", -18000}, {"0 22 * * mon-fri", -18000},
        {"0 0 13 * 5", 3600},       {"0 0 13 * 5", -18000},   {"30 0 15 6 *", 3600},
        {"0 20 1-5 jan *", -18000}, {"*/15 * * * *", 19800},  {"@weekly", 3600},
        {"0 3 * * *", 20700},       {"@yearly", -18000},      {"0 */6 * * *", 3600},
        {"0 23 27 * *", -3600},     {"0 0 2-28 * *", 3600},   {"45 23 * * 0,3", -50400},
        {"0 0 1-7 * */7", 0},       {"15 10 * * *", 50400},
    };
    const int64_t begin = ts(2027, 12, 1);
    const int64_t end = ts(2028, 4, 2);
    for (const Case &c : cases) {
        const std::string utc = cron_local_to_utc(c.expr, c.offset);
        const CronSchedule local = parse_cron(c.expr);
        const CronSchedule u = parse_cron(utc);
        for (int64_t t = begin; t < end; t += 60) {
            ASSERT_EQ(cron_matches(local, t + c.offset), cron_matches(u, t))
                << c.expr << " offset " << c.offset << " -> " << utc << " at " << t;
        }
    }
}

TEST(CronPrev, IsTheFireBeforeAndInvertsNext) {
    // 2025-06-18 12:00:00 UTC
    const int64_t t = 1750248000;
    const CronSchedule daily = parse_cron("35 2 * * *");
    ASSERT_EQ(cron_prev(daily, t), std::optional<int64_t>(t - 9 * 3600 - 25 * 60));  // 02:35 today
    // strictly before: at the fire itself, the one of the day before
    const int64_t fire = *cron_prev(daily, t);
    EXPECT_EQ(cron_prev(daily, fire), std::optional<int64_t>(fire - 86400));
    EXPECT_EQ(cron_prev(daily, fire + 1), std::optional<int64_t>(fire));
    const CronSchedule every = parse_cron("* * * * *");
    EXPECT_EQ(cron_prev(every, t), std::optional<int64_t>(t - 60));
    EXPECT_EQ(cron_prev(every, t + 30), std::optional<int64_t>(t));
    const CronSchedule leap = parse_cron("0 0 29 2 *");  // 2024-02-29 00:00 UTC
    EXPECT_EQ(cron_prev(leap, t), std::optional<int64_t>(1709164800));
    EXPECT_EQ(cron_prev(parse_cron("0 0 30 2 *"), t), std::nullopt);
    // prev(next(x)) is the last fire at or before x
    for (const char *e : {"*/15 * * * *", "30 2 * * 1-5", "0 9,17 * * *", "@monthly"}) {
        const CronSchedule c = parse_cron(e);
        for (int64_t x = t; x < t + 40 * 86400; x += 86400 / 7 + 13) {
            const auto n = cron_next(c, x);
            ASSERT_TRUE(n);
            const auto p = cron_prev(c, *n);
            ASSERT_TRUE(p) << e;
            EXPECT_LE(*p, x) << e;
            EXPECT_EQ(cron_next(c, *p), n) << e;
        }
    }
}
