#include "core/claims_cache_codec.hpp"

#include <climits>
#include <cstring>

namespace ct4::core::claims {

namespace {
// Format: "CF1", u32 leads, leads x (i64 id, i32 date or INT32_MIN),
// u32 trips, trips x (i32 date, i32 count). Host byte order: the cache is
// rebuilt, never moved between machines.
constexpr char kMagic[3] = {'C', 'F', '1'};
constexpr int32_t kNoDate = INT32_MIN;

template <typename T>
void put(std::string &s, T v) {
    s.append(reinterpret_cast<const char *>(&v), sizeof v);
}

struct Reader {
    const char *p, *end;
    template <typename T>
    bool get(T &v) {
        if ((size_t)(end - p) < sizeof v) return false;
        std::memcpy(&v, p, sizeof v);
        p += sizeof v;
        return true;
    }
};
}  // namespace

std::string encode_facts(const DriverInput &in) {
    std::string s(kMagic, sizeof kMagic);
    s.reserve(sizeof kMagic + 8 + in.leads.size() * 12 + in.trips.size() * 8);
    put<uint32_t>(s, (uint32_t)in.leads.size());
    for (const auto &l : in.leads) {
        put<int64_t>(s, l.lead_id);
        put<int32_t>(s, l.lead_date ? *l.lead_date : kNoDate);
    }
    put<uint32_t>(s, (uint32_t)in.trips.size());
    for (const auto &t : in.trips) {
        put<int32_t>(s, t.date);
        put<int32_t>(s, t.count);
    }
    return s;
}

bool decode_facts(const char *bytes, size_t len, DriverInput &in) {
    if (len < sizeof kMagic || std::memcmp(bytes, kMagic, sizeof kMagic) != 0) return false;
    Reader r{bytes + sizeof kMagic, bytes + len};
    uint32_t n = 0;
    if (!r.get(n) || n > len) return false;
    in.leads.clear();
    in.leads.reserve(n);
    for (uint32_t i = 0; i < n; i++) {
        int64_t id;
        int32_t d;
        if (!r.get(id) || !r.get(d)) return false;
        in.leads.push_back({id, d == kNoDate ? std::nullopt : std::optional<Day>(d)});
    }
    if (!r.get(n) || n > len) return false;
    in.trips.clear();
    in.trips.reserve(n);
    for (uint32_t i = 0; i < n; i++) {
        DayTrips t;
        if (!r.get(t.date) || !r.get(t.count)) return false;
        if (!in.trips.empty() && t.date <= in.trips.back().date) return false;  // must be sorted
        in.trips.push_back(t);
    }
    return r.p == r.end;
}

}  // namespace ct4::core::claims
