// Cron parsing/evaluation modelled on vixie cron as embedded in pg_cron 1.4
// (src/entry.c for parsing, ShouldRunTask in src/pg_cron.c for matching).
#include "core/cron.hpp"

#include <array>
#include <bitset>
#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

namespace ct4::core {
namespace {

struct FieldSpec {
    const char *name;
    int low;
    int high;
    const char *const *names;  // nullptr or list terminated by nullptr; value = index + low
};

constexpr const char *kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                                       "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char *kDowNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

enum Field { kMinute, kHour, kDom, kMonth, kDow };

constexpr FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr},       {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr}, {"month", 1, 12, kMonthNames},
    {"day-of-week", 0, 7, kDowNames},
};

// pg_cron refuses schedules that do not fit its MAX_FILE_BUFFER_LENGTH buffer.
constexpr size_t kMaxExprLength = 999;
// Keeps all minute/day arithmetic far from int64_t overflow.
constexpr int64_t kEpochLimit = int64_t{1} << 50;
// The Gregorian calendar (weekdays included) repeats every 146097 days.
constexpr int64_t kCycleDays = 146097;

using Mask = uint64_t;  // bit v set = value v allowed

struct ParsedField {
    Mask mask = 0;
    bool star = false;  // text starts with '*' (DOM_STAR/DOW_STAR semantics)
};

using Fields = std::array<std::string, 5>;

constexpr Mask range_mask(int lo, int hi) {
    Mask m = 0;
    for (int v = lo; v <= hi; ++v) m |= Mask{1} << v;
    return m;
}

constexpr Mask kAllDom = range_mask(1, 31);
constexpr Mask kAllMonth = range_mask(1, 12);
constexpr Mask kAllDow = range_mask(0, 7);

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_space(char c) {
    return is_blank(c) || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

[[noreturn]] void field_error(const FieldSpec &f, std::string_view text, const std::string &why) {
    throw std::invalid_argument("cron field '" + std::string(f.name) + "' (\"" + std::string(text) +
                                "\"): " + why);
}

bool iequals(std::string_view a, const char *b) {
    size_t i = 0;
    for (; i < a.size() && b[i] != '\0'; ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return i == a.size() && b[i] == '\0';
}

// Like vixie get_number: an alphanumeric run that is either a name from the
// field's list or all digits. Digits saturate so huge numbers stay
// out-of-range errors (or harmless huge steps) instead of overflowing.
int64_t read_value(const FieldSpec &f, std::string_view text, size_t &i, bool allow_names,
                   const char *what) {
    const size_t start = i;
    bool all_digits = true;
    while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) all_digits = false;
        ++i;
    }
    const std::string_view tok = text.substr(start, i - start);
    if (tok.empty()) {
        if (i < text.size())
            field_error(f, text, std::string("expected ") + what + " but found '" + text[i] + "'");
        field_error(f, text, std::string("missing ") + what + " at end of field");
    }
    if (allow_names && f.names != nullptr) {
        for (int k = 0; f.names[k] != nullptr; ++k) {
            if (iequals(tok, f.names[k])) return f.low + k;
        }
    }
    if (!all_digits) {
        field_error(f, text, "invalid " + std::string(what) + " '" + std::string(tok) + "'");
    }
    int64_t v = 0;
    for (char c : tok) v = v > 100000000 ? v : v * 10 + (c - '0');
    return v;
}

void check_range(const FieldSpec &f, std::string_view text, int64_t v) {
    if (v < f.low || v > f.high) {
        field_error(f, text,
                    "value " + std::to_string(v) + " is out of range " + std::to_string(f.low) +
                        "-" + std::to_string(f.high));
    }
}

// list = item {',' item}; item = ('*' | value ['-' value]) ['/' step].
ParsedField parse_field(const FieldSpec &f, std::string_view text) {
    ParsedField out;
    out.star = !text.empty() && text.front() == '*';
    size_t i = 0;
    for (;;) {
        int64_t a, b;
        bool single = false;
        if (i < text.size() && text[i] == '*') {
            a = f.low;
            b = f.high;
            ++i;
        } else {
            a = read_value(f, text, i, true, "value");
            check_range(f, text, a);
            if (i < text.size() && text[i] == '-') {
                ++i;
                b = read_value(f, text, i, true, "value");
                check_range(f, text, b);
                // pg_cron accepts this but sets no bit, so the job never runs.
                if (b < a) {
                    field_error(
                        f, text,
                        "range " + std::to_string(a) + "-" + std::to_string(b) + " is reversed");
                }
            } else {
                b = a;
                single = true;
            }
        }
        int64_t step = 1;
        if (i < text.size() && text[i] == '/') {
            // Same refusal as pg_cron: "1/20" is not a range.
            if (single) field_error(f, text, "a step needs '*' or a range, e.g. '*/n' or 'a-b/n'");
            ++i;
            step = read_value(f, text, i, false, "step");
            if (step <= 0) field_error(f, text, "step must be positive");
        }
        for (int64_t v = a; v <= b; v += step) out.mask |= Mask{1} << v;
        if (i == text.size()) break;
        if (text[i] != ',') {
            field_error(f, text, std::string("unexpected character '") + text[i] + "'");
        }
        ++i;
    }
    if (f.names == kDowNames && (out.mask & (Mask{1} | Mask{1} << 7))) {
        out.mask |= Mask{1} | Mask{1} << 7;  // make Sundays equivalent, as vixie does
    }
    return out;
}

// "[1-59] seconds" is pg_cron >= 1.5 interval syntax; name it in the error
// rather than reporting a confusing field count.
bool looks_like_seconds(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == 0) return false;
    while (i < s.size() && is_blank(s[i])) ++i;
    const std::string_view rest = s.substr(i);
    return iequals(rest, "s") || iequals(rest, "second") || iequals(rest, "seconds");
}

// Splits into the 5 field texts, expanding @shorthands into the equivalent
// fields (same bits and the same effective dom/dow AND/OR rule as pg_cron).
Fields split_fields(std::string_view expr) {
    if (expr.size() > kMaxExprLength) {
        throw std::invalid_argument("cron expression is longer than " +
                                    std::to_string(kMaxExprLength) + " characters");
    }
    const std::string_view s = trim(expr);
    if (s.empty()) throw std::invalid_argument("cron expression is empty");
    if (s.front() == '@') {
        struct Short {
            const char *name;
            Fields fields;
        };
        static const Short kShort[] = {
            {"@yearly", {"0", "0", "1", "1", "*"}},  {"@annually", {"0", "0", "1", "1", "*"}},
            {"@monthly", {"0", "0", "1", "*", "*"}}, {"@weekly", {"0", "0", "*", "*", "0"}},
            {"@daily", {"0", "0", "*", "*", "*"}},   {"@midnight", {"0", "0", "*", "*", "*"}},
            {"@hourly", {"0", "*", "*", "*", "*"}},
        };
        for (const Short &sh : kShort) {
            if (s == sh.name) return sh.fields;
        }
        throw std::invalid_argument("unsupported cron shorthand '" + std::string(s) +
                                    "' (expected @yearly, @annually, @monthly, @weekly, "
                                    "@daily, @midnight or @hourly)");
    }
    if (looks_like_seconds(s)) {
        throw std::invalid_argument("interval schedule '" + std::string(s) +
                                    "' needs pg_cron >= 1.5; pg_cron 1.4 accepts only 5-field "
                                    "cron expressions");
    }
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_blank(s[i])) ++i;
        const size_t start = i;
        while (i < s.size() && !is_blank(s[i])) ++i;
        if (i > start) parts.push_back(s.substr(start, i - start));
    }
    if (parts.size() != 5) {
        throw std::invalid_argument("cron expression has " + std::to_string(parts.size()) +
                                    (parts.size() == 1 ? " field" : " fields") +
                                    ", expected 5 (minute hour day-of-month month day-of-week)");
    }
    Fields out;
    for (size_t k = 0; k < 5; ++k) out[k] = std::string(parts[k]);
    return out;
}

std::array<ParsedField, 5> parse_fields(const Fields &fields) {
    std::array<ParsedField, 5> p;
    for (size_t k = 0; k < 5; ++k) p[k] = parse_field(kFields[k], fields[k]);
    return p;
}

template <size_t N>
std::bitset<N> to_bitset(Mask m) {
    static_assert(N < 64, "fields fit in a 64-bit mask");
    return std::bitset<N>(static_cast<unsigned long long>(m & ((Mask{1} << N) - 1)));
}

int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool day_matches(const CronSchedule &s, unsigned dom, unsigned wday) {
    // Exactly ShouldRunTask's rule: either star flag turns OR into AND.
    if (s.dom_star || s.dow_star) return s.dom[dom] && s.dow[wday];
    return s.dom[dom] || s.dow[wday];
}

// Smallest set bit >= from, or -1.
template <size_t N>
int next_bit(const std::bitset<N> &b, int from) {
    for (int v = from; v < static_cast<int>(N); ++v) {
        if (b[static_cast<size_t>(v)]) return v;
    }
    return -1;
}

// Renders a value set as a sorted comma list, runs of 3+ as 'a-b'.
std::string render_list(Mask m, int lo, int hi) {
    std::string out;
    for (int v = lo; v <= hi;) {
        if (!(m >> v & 1)) {
            ++v;
            continue;
        }
        int e = v;
        while (e + 1 <= hi && (m >> (e + 1) & 1)) ++e;
        if (!out.empty()) out += ',';
        if (e - v >= 2) {
            out += std::to_string(v) + "-" + std::to_string(e);
        } else {
            out += std::to_string(v);
            if (e > v) out += "," + std::to_string(e);
        }
        v = e + 1;
    }
    return out;
}

[[noreturn]] void convert_error(const std::string &why) {
    throw std::invalid_argument("cron_local_to_utc: " + why);
}

}  // namespace

CronSchedule parse_cron(std::string_view expr) {
    const std::array<ParsedField, 5> p = parse_fields(split_fields(expr));
    CronSchedule s;
    s.minute = to_bitset<60>(p[kMinute].mask);
    s.hour = to_bitset<24>(p[kHour].mask);
    s.dom = to_bitset<32>(p[kDom].mask);
    s.month = to_bitset<13>(p[kMonth].mask);
    s.dow = to_bitset<8>(p[kDow].mask);
    s.dom_star = p[kDom].star;
    s.dow_star = p[kDow].star;
    return s;
}

bool cron_valid(std::string_view expr, std::string *error) noexcept {
    try {
        (void)parse_cron(expr);
        return true;
    } catch (const std::exception &e) {
        if (error != nullptr) {
            try {
                *error = e.what();
            } catch (...) {  // out of memory while copying the message: still report invalid
            }
        }
        return false;
    }
}

bool cron_matches(const CronSchedule &s, int64_t epoch_utc) noexcept {
    if (epoch_utc < -kEpochLimit || epoch_utc > kEpochLimit) return false;
    const int64_t minutes = floor_div(epoch_utc, 60);
    const int64_t day = floor_div(minutes, 1440);
    const int64_t mod = minutes - day * 1440;
    const CivilDate c = civil_from_days(day);
    return s.minute[static_cast<size_t>(mod % 60)] && s.hour[static_cast<size_t>(mod / 60)] &&
           s.month[c.month] && day_matches(s, c.day, weekday_from_days(day));
}

std::optional<int64_t> cron_next(const CronSchedule &s, int64_t after_epoch_utc) noexcept {
    if (after_epoch_utc < -kEpochLimit || after_epoch_utc > kEpochLimit) return std::nullopt;
    const int64_t start = floor_div(after_epoch_utc, 60) + 1;  // strictly after
    int64_t day = floor_div(start, 1440);
    int hour = static_cast<int>((start - day * 1440) / 60);
    int minute = static_cast<int>((start - day * 1440) % 60);
    // One extra day: the first day may already be partly behind us.
    const int64_t last_day = day + kCycleDays + 1;
    CivilDate c = civil_from_days(day);
    auto next_day = [&] {
        ++day;
        c = civil_from_days(day);
        hour = 0;
        minute = 0;
    };
    while (day <= last_day) {
        if (!s.month[c.month]) {
            // Jump straight to the 1st of the next month.
            const int64_t y = c.year + (c.month == 12 ? 1 : 0);
            const unsigned m = c.month == 12 ? 1 : c.month + 1;
            day = days_from_civil(y, m, 1);
            c = CivilDate{y, m, 1};
            hour = 0;
            minute = 0;
            continue;
        }
        if (!day_matches(s, c.day, weekday_from_days(day))) {
            next_day();
            continue;
        }
        const int h = next_bit(s.hour, hour);
        if (h < 0) {
            next_day();
            continue;
        }
        if (h != hour) {
            hour = h;
            minute = 0;
        }
        const int m = next_bit(s.minute, minute);
        if (m < 0) {
            if (++hour == 24) {
                next_day();
            } else {
                minute = 0;
            }
            continue;
        }
        return ((day * 1440) + hour * 60 + m) * 60;
    }
    return std::nullopt;
}

std::optional<int64_t> cron_interval(const CronSchedule &s, int64_t from_epoch_utc) noexcept {
    const std::optional<int64_t> a = cron_next(s, from_epoch_utc);
    if (!a) return std::nullopt;
    const std::optional<int64_t> b = cron_next(s, *a);
    if (!b) return std::nullopt;
    const std::optional<int64_t> c = cron_next(s, *b);
    int64_t gap = *b - *a;
    if (c && *c - *b < gap) gap = *c - *b;
    return gap;
}

std::optional<int64_t> cron_prev(const CronSchedule &s, int64_t before_epoch_utc) noexcept {
    // Scan forward through windows that double backwards from `before`: the
    // last fire inside the first window that has one is the answer.
    constexpr int64_t kMaxSpan = int64_t(400) * 366 * 86400;
    for (int64_t span = 86400; span <= kMaxSpan; span *= 2) {
        if (before_epoch_utc - span < -(int64_t(1) << 50)) return std::nullopt;
        std::optional<int64_t> t = cron_next(s, before_epoch_utc - span - 1);
        std::optional<int64_t> last;
        while (t && *t < before_epoch_utc) {
            last = t;
            t = cron_next(s, *t);
        }
        if (last) return last;
    }
    return std::nullopt;
}

std::string cron_local_to_utc(std::string_view local_expr, int offset_seconds) {
    if (offset_seconds % 60 != 0) {
        convert_error("UTC offset " + std::to_string(offset_seconds) +
                      " s is not a whole number of minutes");
    }
    if (offset_seconds <= -86400 || offset_seconds >= 86400) {
        convert_error("UTC offset " + std::to_string(offset_seconds) + " s is not below 24 hours");
    }
    Fields f = split_fields(local_expr);
    const std::array<ParsedField, 5> p = parse_fields(f);
    const int shift = -offset_seconds / 60;  // minutes to add to local time to get UTC

    // Map every local (hour, minute) to UTC, tracking the day carry.
    std::bitset<1440> pairs;
    Mask hours = 0, minutes = 0;
    bool carry_seen[3] = {false, false, false};  // -1, 0, +1 day
    for (int h = 0; h < 24; ++h) {
        if (!(p[kHour].mask >> h & 1)) continue;
        for (int m = 0; m < 60; ++m) {
            if (!(p[kMinute].mask >> m & 1)) continue;
            const int t = h * 60 + m + shift;
            const int carry = t < 0 ? -1 : (t >= 1440 ? 1 : 0);
            const int u = t - carry * 1440;
            pairs.set(static_cast<size_t>(u));
            hours |= Mask{1} << (u / 60);
            minutes |= Mask{1} << (u % 60);
            carry_seen[carry + 1] = true;
        }
    }
    // A cron line can only express a full hours x minutes grid.
    const size_t nh = std::bitset<24>(hours).count();
    const size_t nm = std::bitset<60>(minutes).count();
    if (pairs.count() != nh * nm) {
        convert_error("the shifted times of \"" + std::string(local_expr) +
                      "\" do not form an hours x minutes grid; split it into several jobs");
    }
    if (minutes != p[kMinute].mask) f[kMinute] = render_list(minutes, 0, 59);
    if (hours != p[kHour].mask) f[kHour] = render_list(hours, 0, 23);

    const bool and_rule = p[kDom].star || p[kDow].star;
    const bool dom_all = p[kDom].mask == kAllDom;
    const bool dow_all = p[kDow].mask == kAllDow;
    const bool month_all = p[kMonth].mask == kAllMonth;
    // If every calendar day matches, crossing midnight needs no day change.
    const bool every_day = month_all && (and_rule ? (dom_all && dow_all) : (dom_all || dow_all));
    if (every_day) return f[0] + " " + f[1] + " " + f[2] + " " + f[3] + " " + f[4];

    const int ncarry = carry_seen[0] + carry_seen[1] + carry_seen[2];
    if (ncarry > 1) {
        convert_error("some times of \"" + std::string(local_expr) +
                      "\" cross midnight in UTC and others do not, which one cron line cannot "
                      "express with restricted days; split it into several jobs");
    }
    const int d = carry_seen[0] ? -1 : (carry_seen[2] ? 1 : 0);
    if (d != 0) {
        // A field whose text starts with '*' must keep doing so, or the
        // dom/dow AND/OR rule would flip; that is only possible if it is
        // all values and therefore needs no shift.
        if (p[kDom].star && !dom_all) {
            convert_error("cron field 'day-of-month' (\"" + f[kDom] +
                          "\") cannot be shifted by one day; list the days explicitly");
        }
        if (p[kDow].star && !dow_all) {
            convert_error("cron field 'day-of-week' (\"" + f[kDow] +
                          "\") cannot be shifted by one day; list the days explicitly");
        }
        if (!p[kDom].star) {
            // Shifting day n to n+1 (n-1) is only right if both exist in every
            // month where n does: n <= 27 (n >= 2 and n - 1 <= 28).
            const int lo = d > 0 ? 1 : 2;
            const int hi = d > 0 ? 27 : 28;
            for (int v = 1; v <= 31; ++v) {
                if ((p[kDom].mask >> v & 1) && (v < lo || v > hi)) {
                    convert_error("cron field 'day-of-month' (\"" + f[kDom] + "\"): day " +
                                  std::to_string(v) + " cannot move " +
                                  (d > 0 ? "forward" : "back") +
                                  " one day without crossing a month boundary");
                }
            }
            const Mask shifted = d > 0 ? p[kDom].mask << 1 : p[kDom].mask >> 1;
            f[kDom] = render_list(shifted, 1, 31);
        }
        if (!p[kDow].star) {
            Mask shifted = 0;
            for (int v = 0; v < 7; ++v) {
                if (p[kDow].mask >> v & 1) shifted |= Mask{1} << ((v + d + 7) % 7);
            }
            f[kDow] = render_list(shifted, 0, 6);
        }
        // Days picked by day-of-week (or all days) can sit on a month edge;
        // only a plain day-of-month list under the AND rule stays inside.
        if (!month_all && !(!p[kDom].star && and_rule)) {
            convert_error("cron field 'month' (\"" + f[kMonth] +
                          "\"): shifting by one day would cross month boundaries; use '*' or "
                          "a day-of-month list with day-of-week '*'");
        }
    }
    return f[0] + " " + f[1] + " " + f[2] + " " + f[3] + " " + f[4];
}

}  // namespace ct4::core
