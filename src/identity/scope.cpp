#include "identity/scope.hpp"

#include "core/run_share.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

namespace ct4::identity {

namespace {

// The scope of SPEC 4.1 on a state row `s`: recent leads (process_recent,
// lead_date >= current_date - days_back) plus the leads whose stage is one of
// the limbo stages asked for (process_limbo). A NEW lead (never decided) is
// in the NO_IDENTITY stage's scope; TRIPS_NO_CLAIM leads are done for this
// job (linked with a driver: no state row), so that stage adds none.
#define CT4_IN_SCOPE                               \
    " ((($1 AND s.lead_date >= CURRENT_DATE - $2)" \
    "   OR ($3 AND s.stage = ANY ($4::pg_catalog.text[]))))"

const char *kChanged =
    "SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version"
    "  FROM canon.identity_lead_state s"
    " WHERE s.changed AND" CT4_IN_SCOPE " ORDER BY s.lead_date, s.lead_id LIMIT $5";

// Inputs marked changed, or decided at an older epoch: two index ranges,
// merged by when they were decided (a lead decided at an older epoch was
// decided by an older run).
const char *kPending =
    "SELECT x.lead_id, x.lead_date, x.stage, x.outcome, x.version FROM ("
    "  (SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version, s.checked_run"
    "     FROM canon.identity_lead_state s"
    "    WHERE s.inputs_changed AND NOT s.changed AND" CT4_IN_SCOPE
    "    ORDER BY s.checked_run, s.lead_date, s.lead_id LIMIT $5)"
    "  UNION ALL"
    "  (SELECT s.lead_id, s.lead_date, s.stage, s.outcome, s.version, s.checked_run"
    "     FROM canon.identity_lead_state s"
    "    WHERE NOT s.changed AND NOT s.inputs_changed AND s.checked_epoch < $6 AND" CT4_IN_SCOPE
    "    ORDER BY s.checked_epoch, s.checked_run, s.lead_date, s.lead_id LIMIT $5)) x"
    " ORDER BY x.checked_run, x.lead_date, x.lead_id LIMIT $5";

struct Due {
    std::optional<int32_t> date;
    WorkItem w;
};

std::vector<Due> read_due(pg::Spi &spi, const char *sql, const std::vector<pg::Param> &params) {
    spi.exec(sql, params, true);
    std::vector<Due> out;
    out.reserve(spi.rows());
    pg::RowReader r(spi);
    for (uint64_t i = 0; i < spi.rows(); i++) {
        r.load(i);
        Due d{std::nullopt,
              {r.int8(0), r.text(2).value_or("NEW"), r.text(3).value_or(""), r.int8(4)}};
        if (!r.is_null(1)) d.date = r.int4(1);
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
    std::vector<Due> changed = read_due(spi, kChanged, {params.begin(), params.begin() + 5});
    std::vector<Due> pending = read_due(spi, kPending, params);
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
