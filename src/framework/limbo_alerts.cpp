// ct4.check_limbo_alerts() (SPEC 4.4): evaluates the enabled rules of
// ct4.alert_rules, stores every alert raised in ct4.alert_events (with the
// run that raised it and its evidence), sends each with
// pg_notify('ct4_alerts', json of its codes and numbers) and returns them. A
// jobs::Job (run record, lock, counters) like the other jobs; its result is
// the alerts raised.
//
// Each rule code names an evaluator: one set-based query of
// limbo_alerts.sql that returns the candidate alerts (metric_value,
// threshold, message, details); an alert fires when metric_value > threshold.
#include "framework/limbo_alerts.sql.hpp"
#include "jobs/job.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "pg/srf.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace {

using ct4::jobs::Counters;
using ct4::jobs::Job;
using ct4::pg::Spi;
using ct4::pg::text_datum;

namespace sql = ct4::sql::limbo_alerts;  // src/framework/limbo_alerts.sql

// A rule code and the statement that evaluates it.
struct Evaluator {
    const char *rule_code;
    const char *needs_view;  // a SPEC 3 view the query reads, or nullptr
    const char *sql;
};

const Evaluator kEvaluators[] = {
    {"NO_IDENTITY_RECENT", "ops.v_cabinet_leads_limbo", sql::NO_IDENTITY_RECENT},
    {"TRIPS_NO_CLAIM", "ops.v_cabinet_leads_limbo", sql::TRIPS_NO_CLAIM},
    {"NO_IDENTITY_WOW_GROWTH", "ops.v_cabinet_14d_funnel_audit_weekly",
     sql::NO_IDENTITY_WOW_GROWTH},
    {"JOB_STALE", nullptr, sql::JOB_STALE},
    {"JOB_FAILED", nullptr, sql::JOB_FAILED},
};

const Evaluator *evaluator_of(const std::string &rule_code) {
    for (const auto &e : kEvaluators)
        if (rule_code == e.rule_code) return &e;
    return nullptr;
}

struct Rule {
    std::string code, threshold, severity, params;
};

struct Alert {
    std::string code, severity, metric, threshold, message, details;
};

// metric_value > threshold of row `r`, compared as numerics (exactly, not
// as doubles); a NULL on either side fires nothing.
bool fires(const Spi &spi, uint64_t r, int metric_col, int threshold_col) {
    bool metric_null, threshold_null;
    Datum metric = spi.get_datum(r, metric_col, &metric_null);
    Datum threshold = spi.get_datum(r, threshold_col, &threshold_null);
    if (metric_null || threshold_null) return false;
    return ct4::pg::guarded(
        [&] { return DatumGetBool(DirectFunctionCall2(numeric_gt, metric, threshold)); });
}

Datum numeric_datum(const std::string &s) {
    const char *c = s.c_str();
    return ct4::pg::guarded([&] {
        return DirectFunctionCall3(numeric_in, CStringGetDatum(c), ObjectIdGetDatum(InvalidOid),
                                   Int32GetDatum(-1));
    });
}
Datum jsonb_datum(const std::string &s) {
    const char *c = s.c_str();
    return ct4::pg::guarded([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(c)); });
}

// ---- reading ---------------------------------------------------------------

std::vector<Rule> read_rules(Spi &spi) {
    std::vector<Rule> rules;
    spi.exec(sql::enabled_rules);
    int code = spi.column("rule_code"), threshold = spi.column("threshold"),
        severity = spi.column("severity"), params = spi.column("params");
    for (uint64_t i = 0; i < spi.rows(); i++)
        rules.push_back({*spi.get_text(i, code), *spi.get_text(i, threshold),
                         *spi.get_text(i, severity), *spi.get_text(i, params)});
    return rules;
}

// Why a rule with evaluator `ev` cannot be evaluated here, or nullptr.
const char *unusable(Spi &spi, const Evaluator *ev) {
    if (!ev) return "no evaluator for this rule_code";
    if (!ev->needs_view) return nullptr;
    spi.exec(sql::view_exists, {ct4::pg::p_text(std::string(ev->needs_view))});
    return spi.get_bool(0, spi.column("present")) ? nullptr : "the view it reads does not exist";
}

// ---- deciding --------------------------------------------------------------

// What an evaluation found: the alerts that fire, in rule order, and how many
// rules it evaluated and skipped.
struct Evaluation {
    std::vector<Alert> alerts;
    int64_t evaluated = 0, skipped = 0;
};

// Every rule, one query each; no writes (so a caller that records nothing,
// such as a back-check, can use it as it is). `before_rule(i, so_far)` is
// called before rule i.
Evaluation evaluate(Spi &spi, const ct4::pg::Param &at, const std::vector<Rule> &rules,
                    const std::function<void(size_t, const Evaluation &)> &before_rule) {
    Evaluation e;
    for (size_t i = 0; i < rules.size(); i++) {
        const Rule &rule = rules[i];
        before_rule(i, e);
        const Evaluator *ev = evaluator_of(rule.code);
        if (const char *why = unusable(spi, ev)) {
            e.skipped++;
            std::string m = "ct4 check_limbo_alerts: rule " + rule.code + " skipped: " + why;
            const char *c = m.c_str();
            ct4::pg::guarded([&] { ereport(WARNING, (errmsg("%s", c))); });
            continue;
        }
        spi.exec(ev->sql, {at, ct4::pg::p_text(rule.threshold), ct4::pg::p_jsonb(rule.params)});
        e.evaluated++;
        int metric = spi.column("metric_value"), threshold = spi.column("threshold"),
            message = spi.column("message"), details = spi.column("details");
        for (uint64_t r = 0; r < spi.rows(); r++) {
            if (!fires(spi, r, metric, threshold)) continue;
            e.alerts.push_back({rule.code, rule.severity, *spi.get_text(r, metric),
                                *spi.get_text(r, threshold), spi.get_text(r, message).value_or(""),
                                spi.get_text(r, details).value_or("{}")});
        }
    }
    return e;
}

Counters counters_of(const Evaluation &e) {
    return {{"rules_evaluated", e.evaluated},
            {"rules_skipped", e.skipped},
            {"alerts_raised", (int64_t)e.alerts.size()}};
}

// ---- writing ---------------------------------------------------------------

// The open alerts become those of this evaluation: stored and notified.
void store(Job &job, const ct4::pg::Param &at, const std::vector<Alert> &alerts) {
    Spi &spi = job.spi();
    spi.exec(sql::resolve_open, {at});
    if (alerts.empty()) return;
    std::vector<std::optional<std::string>> code, severity, metric, threshold, message, details;
    for (const auto &a : alerts) {
        code.emplace_back(a.code);
        severity.emplace_back(a.severity);
        metric.emplace_back(a.metric);
        threshold.emplace_back(a.threshold);
        message.emplace_back(a.message);
        details.emplace_back(a.details);
    }
    spi.exec(sql::store_and_notify,
             {ct4::pg::p_int8(job.run_id()), at, ct4::pg::p_text_array(code),
              ct4::pg::p_text_array(severity), ct4::pg::p_text_array(metric),
              ct4::pg::p_text_array(threshold), ct4::pg::p_text_array(message),
              ct4::pg::p_text_array(details)});
}

void put_alerts(ct4::pg::RowSink &rows, const std::vector<Alert> &alerts) {
    for (const auto &a : alerts)
        rows.put_row({{text_datum(a.code), false},
                      {text_datum(a.severity), false},
                      {numeric_datum(a.metric), false},
                      {numeric_datum(a.threshold), false},
                      {text_datum(a.message), false},
                      {jsonb_datum(a.details), false}});
}

const ct4::jobs::JobSpec kAlertsJob{
    "check_limbo_alerts", {}, {"rules_evaluated", "rules_skipped", "alerts_raised"}, false};

Datum check_alerts(FunctionCallInfo fcinfo, TimestampTz as_of) {
    Job job(fcinfo, kAlertsJob);
    ct4::pg::Param at{TIMESTAMPTZOID, TimestampTzGetDatum(as_of), false};
    job.record_arg("as_of", *job.spi().scalar_text(sql::as_of_json, {at}));
    return job.run([&](Job &job) {
        job.spi().exec(sql::reap_crashed);
        std::vector<Rule> rules = read_rules(job.spi());
        Evaluation e = evaluate(job.spi(), at, rules, [&](size_t i, const Evaluation &so_far) {
            job.progress("rules", (int64_t)i, (int64_t)rules.size(), "rules",
                         [&] { return counters_of(so_far); });
        });
        for (const auto &[name, value] : counters_of(e)) job.counter(name.c_str()) = value;
        store(job, at, e.alerts);
        put_alerts(job.rows(), e.alerts);
    });
}

Datum check_limbo_alerts(FunctionCallInfo fcinfo) {
    return check_alerts(fcinfo,
                        ct4::pg::guarded([] { return GetCurrentTransactionStartTimestamp(); }));
}

TimestampTz as_of_arg(FunctionCallInfo fcinfo) {
    ct4::pg::require_not_null(fcinfo, 0, "as_of");
    TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
    if (TIMESTAMP_NOT_FINITE(t))
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "as_of must be finite");
    return t;
}

// A back-check (ct4.check_limbo_alerts_at): the alerts that would fire at
// as_of, and nothing written: no run record, no lock, no alert_events row,
// no notification, no open alert resolved.
Datum check_limbo_alerts_at(FunctionCallInfo fcinfo) {
    TimestampTz t = as_of_arg(fcinfo);
    ct4::pg::RowSink rows(fcinfo);
    Spi spi;
    ct4::pg::Param at{TIMESTAMPTZOID, TimestampTzGetDatum(t), false};
    put_alerts(rows, evaluate(spi, at, read_rules(spi), [](size_t, const Evaluation &) {}).alerts);
    return (Datum)0;
}

// The job as of a given time (time as an argument: tests); records like
// check_limbo_alerts().
Datum check_limbo_alerts_record(FunctionCallInfo fcinfo) {
    return check_alerts(fcinfo, as_of_arg(fcinfo));
}

}  // namespace

CT4_FUNCTION(ct4_check_limbo_alerts, check_limbo_alerts)
CT4_FUNCTION(ct4_check_limbo_alerts_at, check_limbo_alerts_at)
CT4_FUNCTION(ct4_check_limbo_alerts_record, check_limbo_alerts_record)
