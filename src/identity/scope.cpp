#include "identity/scope.hpp"

#include "core/run_share.hpp"
#include "identity/scope.sql.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

namespace ct4::identity {

namespace {

namespace sql = ct4::sql::scope;  // src/identity/scope.sql

struct Due {
    std::optional<int32_t> date;
    WorkItem w;
};

std::vector<Due> read_due(pg::Spi &spi, const char *sql, const std::vector<pg::Param> &params) {
    spi.exec(sql, params, true);
    std::vector<Due> out;
    out.reserve(spi.rows());
    pg::RowReader r(spi);
    const int id = r.column("lead_id"), date = r.column("lead_date"), stage = r.column("stage"),
              outcome = r.column("outcome"), version = r.column("version");
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        Due d{std::nullopt,
              {r.int8(id), r.text(stage).value_or("NEW"), r.text(outcome).value_or(""),
               r.int8(version)}};
        if (!r.is_null(date)) d.date = r.int4(date);
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace

std::vector<WorkItem> take_scope(pg::Spi &spi, const ScopeArgs &a, int64_t epoch) {
    std::vector<std::optional<std::string>> stages;
    auto asked = [&](const char *s) {
        return a.process_limbo &&
               std::find(a.limbo_stages.begin(), a.limbo_stages.end(), s) != a.limbo_stages.end();
    };
    if (asked("NO_IDENTITY")) {
        stages.emplace_back("NEW");
        stages.emplace_back("NO_IDENTITY");
    }
    if (asked("NO_DRIVER")) stages.emplace_back("NO_DRIVER");
    std::vector<pg::Param> params{pg::p_bool(a.process_recent), pg::p_int4(a.days_back),
                                  pg::p_bool(a.process_limbo),  pg::p_text_array(stages),
                                  pg::p_int8(a.row_limit),      pg::p_int8(epoch)};
    std::vector<Due> changed =
        read_due(spi, sql::changed_leads, {params.begin(), params.begin() + 5});
    std::vector<Due> pending = read_due(spi, sql::pending_leads, params);
    core::RunShare share =
        core::share_row_limit(a.row_limit, (int64_t)changed.size(), (int64_t)pending.size());
    changed.resize((size_t)share.first);
    pending.resize((size_t)share.second);
    for (auto &d : pending) changed.push_back(std::move(d));
    // Processing order: oldest first, NULL dates last (two sign-ups of one
    // person in one batch end on one person).
    std::sort(changed.begin(), changed.end(), [](const Due &x, const Due &y) {
        return std::make_tuple(!x.date, x.date.value_or(0), x.w.id) <
               std::make_tuple(!y.date, y.date.value_or(0), y.w.id);
    });
    std::vector<WorkItem> work;
    work.reserve(changed.size());
    for (auto &d : changed) work.push_back(std::move(d.w));
    return work;
}

}  // namespace ct4::identity
