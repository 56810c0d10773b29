// 5-field cron expressions as pg_cron 1.4 reads them (the vixie-cron parser
// in pg_cron's src/entry.c), evaluated in UTC like pg_cron 1.4 does, plus
// conversion of a local wall-clock schedule into an equivalent UTC one.
// Pure C++17: no PostgreSQL headers, no dependence on the process TZ.
//
// Error model: parse_cron and cron_local_to_utc throw std::invalid_argument
// (message names the bad field, e.g. "cron field 'hour' (\"24\"): ...").
// Every other function is noexcept. std::bad_alloc may escape the throwing
// ones.
//
// Accepted syntax (per field: minute 0-59, hour 0-23, day-of-month 1-31,
// month 1-12 or jan..dec, day-of-week 0-7 or sun..sat, 7 = Sunday):
//   '*', 'n', 'a-b', '*/n', 'a-b/n', comma lists of those; names are
//   3 letters, case-insensitive, allowed only in month/day-of-week;
//   '@yearly' '@annually' '@monthly' '@weekly' '@daily' '@midnight'
//   '@hourly' (case-sensitive, alone, as in pg_cron).
// Rejected although pg_cron's parser lets them through (they never do what
// the user meant): reversed ranges ('5-1' sets no bit, the job never runs),
// a 6th field and trailing junk inside a field like '*-5' (both skipped).
// Also rejected: '@reboot'/'@restart' (no time of day to evaluate), 'n/m'
// and '*/0' (refused by pg_cron's parser), '$' and '[1-59] seconds'
// (pg_cron 1.5 syntax).
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ct4::core {

// Proleptic Gregorian calendar, Howard Hinnant's algorithms; day 0 is
// 1970-01-01. Valid for any day count whose year fits in int64_t.
struct CivilDate {
    int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                                    // [0, 399]
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
    return era * 146097 + doe - 719468;
}

constexpr CivilDate civil_from_days(int64_t z) noexcept {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;                                       // [0, 146096]
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
    const unsigned d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    const unsigned m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    return CivilDate{yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday).
constexpr unsigned weekday_from_days(int64_t z) noexcept {
    return static_cast<unsigned>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

// Parsed schedule: one bit per allowed value, indexed by the value itself.
struct CronSchedule {
    std::bitset<60> minute;  // 0..59
    std::bitset<24> hour;    // 0..23
    std::bitset<32> dom;     // 1..31 (bit 0 unused)
    std::bitset<13> month;   // 1..12 (bit 0 unused)
    std::bitset<8> dow;      // 0..7; bits 0 and 7 (Sunday) are always equal
    // Field text started with '*' (vixie DOM_STAR / DOW_STAR). If either is
    // set a day must match dom AND dow, otherwise dom OR dow.
    bool dom_star = false;
    bool dow_star = false;

    friend bool operator==(const CronSchedule &a, const CronSchedule &b) {
        return a.minute == b.minute && a.hour == b.hour && a.dom == b.dom && a.month == b.month &&
               a.dow == b.dow && a.dom_star == b.dom_star && a.dow_star == b.dow_star;
    }
    friend bool operator!=(const CronSchedule &a, const CronSchedule &b) { return !(a == b); }
};

// Throws std::invalid_argument on any invalid expression.
CronSchedule parse_cron(std::string_view expr);

// true if parse_cron would succeed; otherwise false and, if error is not
// null, the parse error message is stored there.
bool cron_valid(std::string_view expr, std::string *error) noexcept;

// First fire time strictly after `after_epoch_utc` (UTC epoch seconds; the
// result is on a whole minute). Skips non-matching months/days/hours, so it
// costs O(days scanned), not O(minutes). Searches one full 400-year Gregorian
// cycle (after which the calendar, weekdays included, repeats), so nullopt
// means the schedule can never fire (e.g. "0 0 30 2 *") rather than "not
// within N years"; a rare but real one like Feb 29 (8 years apart across
// 2100) is still found. Inputs beyond +-2^50 s also give nullopt.
std::optional<int64_t> cron_next(const CronSchedule &s, int64_t after_epoch_utc) noexcept;

// Last fire time strictly before `before_epoch_utc` (a whole minute);
// nullopt if the schedule never fired in the 400 years before it.
std::optional<int64_t> cron_prev(const CronSchedule &s, int64_t before_epoch_utc) noexcept;

// Whether the minute containing `epoch_utc` matches (seconds ignored).
bool cron_matches(const CronSchedule &s, int64_t epoch_utc) noexcept;

// Smallest gap in seconds between consecutive fires among the next 3 fires
// after `from_epoch_utc`; nullopt if fewer than 2 fires exist.
std::optional<int64_t> cron_interval(const CronSchedule &s, int64_t from_epoch_utc) noexcept;

// Rewrites a schedule written in local wall-clock time as the UTC schedule
// pg_cron 1.4 (which runs in GMT) must be given; local = utc + offset_seconds
// (Lima = -18000, India = +19800). The caller resolves the zone's offset, so
// a DST zone needs re-conversion when its offset changes. Shorthands are
// expanded first; fields whose value set is unchanged keep their text.
// Throws std::invalid_argument when the offset is not a whole number of
// minutes or |offset| >= 24h, when the expression is invalid, or when the
// result is not expressible as one cron line: the shifted times do not form
// an hours x minutes grid, or they cross midnight for some times but not
// others while the days are restricted, or the day shift would need a
// day-of-month outside 1..27 (+1 day) / 2..28 (-1 day) (month lengths
// differ), a star-stepped day field ('*/2'), or crossing a month boundary
// with a restricted month field.
std::string cron_local_to_utc(std::string_view local_expr, int offset_seconds);

}  // namespace ct4::core
