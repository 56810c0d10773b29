// ct4.check_limbo_alerts() (SPEC 4.4): evaluates the enabled rules of
// ct4.alert_rules, stores every alert raised in ct4.alert_events (with the
// run that raised it and its evidence), sends each with
// pg_notify('ct4_alerts', json of its codes and numbers) and returns them. Records its run in
// ct4.job_runs through JobRun, lock included, like the other jobs.
//
// Each rule code names an evaluator: one set-based query that returns the
// candidate alerts (metric, threshold, message, details); an alert fires when
// metric > threshold. Parameters: $1 as_of, $2 the rule's threshold, $3 params.
#include "jobs/job_run.hpp"
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

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using ct4::pg::Spi;
using ct4::pg::text_datum;

struct Evaluator {
    const char *needs_view;  // a SPEC 3 view the query reads, or nullptr
    const char *sql;
};

const std::map<std::string, Evaluator> &evaluators() {
    static const std::map<std::string, Evaluator> m = {
        {"NO_IDENTITY_RECENT",
         {"ops.v_cabinet_leads_limbo",
          "SELECT pg_catalog.count(l.lead_id)::numeric, $2::numeric,"
          "  pg_catalog.format('%s leads of the last %s days are at NO_IDENTITY (threshold %s)',"
          "         pg_catalog.count(l.lead_id), d.days, $2),"
          "  pg_catalog.jsonb_build_object('days', d.days, 'since', $1::date - d.days + 1,"
          "    'count', pg_catalog.count(l.lead_id), 'sample_lead_ids',"
          "    (pg_catalog.array_agg(l.lead_id ORDER BY l.lead_date DESC, l.lead_id)"
          "       FILTER (WHERE l.lead_id IS NOT NULL))[1:20])::text"
          " FROM (SELECT coalesce(($3->>'days')::integer, 7) AS days) d"
          " LEFT JOIN ops.v_cabinet_leads_limbo l"
          "   ON l.limbo_stage = 'NO_IDENTITY' AND l.lead_date > $1::date - d.days"
          "  AND l.lead_date <= $1::date"
          " GROUP BY d.days"}},
        {"TRIPS_NO_CLAIM",
         {"ops.v_cabinet_leads_limbo",
          "SELECT pg_catalog.count(l.lead_id)::numeric, $2::numeric,"
          "  pg_catalog.format('%s leads older than %s day(s) reached a milestone without its claim"
          " (TRIPS_NO_CLAIM, threshold %s)', pg_catalog.count(l.lead_id), d.age, $2),"
          "  pg_catalog.jsonb_build_object('min_age_days', d.age, 'lead_date_before', $1::date - "
          "d.age,"
          "    'count', pg_catalog.count(l.lead_id),"
          "    'sample_lead_ids', (pg_catalog.array_agg(l.lead_id ORDER BY l.lead_date, l.lead_id)"
          "       FILTER (WHERE l.lead_id IS NOT NULL))[1:20],"
          "    'sample_driver_ids', (pg_catalog.array_agg(l.driver_id ORDER BY l.lead_date, "
          "l.lead_id)"
          "       FILTER (WHERE l.lead_id IS NOT NULL))[1:20])::text"
          " FROM (SELECT coalesce(($3->>'min_age_days')::integer, 1) AS age) d"
          " LEFT JOIN ops.v_cabinet_leads_limbo l"
          "   ON l.limbo_stage = 'TRIPS_NO_CLAIM' AND l.lead_date < $1::date - d.age"
          " GROUP BY d.age"}},
        {"NO_IDENTITY_WOW_GROWTH",
         {"ops.v_cabinet_14d_funnel_audit_weekly",
          "SELECT pg_catalog.round((c.n - p.n) * 100.0 / p.n, 2), $2::numeric,"
          "  pg_catalog.format('NO_IDENTITY leads grew %s%% week over week: %s in the week of %s, "
          "%s the"
          " week before (threshold %s%%)', pg_catalog.round((c.n - p.n) * 100.0 / p.n, 2), c.n, "
          "w.cur,"
          "         p.n, $2),"
          "  pg_catalog.jsonb_build_object('week_start', w.cur, 'limbo_no_identity', c.n,"
          "    'previous_week_start', w.cur - 7, 'previous_limbo_no_identity', p.n)::text"
          " FROM (SELECT pg_catalog.date_trunc('week', $1::date::timestamp)::date - 7 AS cur) w"
          " CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.sum(a.limbo_no_identity), 0)::numeric "
          "AS n"
          "   FROM ops.v_cabinet_14d_funnel_audit_weekly a WHERE a.week_start = w.cur) c"
          " CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.sum(a.limbo_no_identity), 0)::numeric "
          "AS n"
          "   FROM ops.v_cabinet_14d_funnel_audit_weekly a WHERE a.week_start = w.cur - 7) p"
          " WHERE p.n > 0"}},
        {"JOB_STALE",
         {nullptr,
          "SELECT pg_catalog.round((extract(epoch FROM $1 - GREATEST(s.registered_at, "
          "ok.last_ok))"
          "         / 3600)::numeric, 2),"
          "  pg_catalog.round((extract(epoch FROM w.win) / 3600)::numeric, 2),"
          "  pg_catalog.format('job %s (schedule %s UTC) has had no successful run for more than "
          "%s',"
          "         s.job_name, s.utc_schedule, w.win),"
          "  pg_catalog.jsonb_build_object('job_name', s.job_name, 'schedule_utc', s.utc_schedule,"
          "    'registered_at', s.registered_at, 'last_success_at', ok.last_ok,"
          "    'window_hours', pg_catalog.round((extract(epoch FROM w.win) / 3600)::numeric, "
          "2))::text"
          " FROM ct4.scheduled_jobs s JOIN ct4.jobs j ON j.job_name = s.job_name"
          " CROSS JOIN LATERAL (SELECT GREATEST(ct4.cron_interval(s.utc_schedule, $1) * "
          "$2::float8,"
          "   pg_catalog.make_interval(secs => coalesce(($3->>'min_window_hours')::float8, 2) * "
          "3600)) AS win) w"
          " CROSS JOIN LATERAL (SELECT pg_catalog.max(r.started_at) AS last_ok FROM ct4.job_runs r"
          "   WHERE r.job_name = s.job_name AND r.status IN ('SUCCESS', 'DRY_RUN') AND "
          "r.started_at <= $1) ok"
          " WHERE j.enabled AND s.registered_at <= $1 - w.win"
          "   AND (ok.last_ok IS NULL OR ok.last_ok < $1 - w.win)"
          " ORDER BY s.job_name"}},
        {"JOB_FAILED",
         {nullptr,
          "SELECT cf.n::numeric, $2::numeric,"
          "  pg_catalog.format('job %s: last run %s %s (SQLSTATE %s): %s', j.job_name, l.run_id, "
          "l.status,"
          "         coalesce(l.sqlstate, '-'), coalesce(l.error_message, '-')),"
          "  pg_catalog.jsonb_build_object('job_name', j.job_name, 'run_id', l.run_id, 'status', "
          "l.status,"
          "    'attempt', l.attempt, 'sqlstate', l.sqlstate, 'error_message', l.error_message,"
          "    'finished_at', l.finished_at, 'consecutive_failures', cf.n)::text"
          " FROM ct4.jobs j"
          " JOIN LATERAL (SELECT r.* FROM ct4.job_runs r WHERE r.job_name = j.job_name"
          "   AND r.status NOT IN ('RUNNING', 'SKIPPED_LOCKED') AND r.started_at <= $1"
          "   ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true"
          " CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM ct4.job_runs r"
          "   WHERE r.job_name = j.job_name AND r.status IN ('FAILED', 'CRASHED') AND r.started_at "
          "<= $1"
          "     AND r.started_at > coalesce((SELECT pg_catalog.max(o.started_at) FROM ct4.job_runs "
          "o"
          "        WHERE o.job_name = j.job_name AND o.status IN ('SUCCESS', 'DRY_RUN')), "
          "'-infinity')) cf"
          " WHERE l.status IN ('FAILED', 'CRASHED')"
          " ORDER BY j.job_name"}},
    };
    return m;
}

struct Rule {
    std::string code, threshold, severity, params;
};

struct Alert {
    std::string code, severity, metric, threshold, message, details;
};

double num(const std::string &s) {
    return std::strtod(s.c_str(), nullptr);
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

Datum check_alerts(FunctionCallInfo fcinfo, TimestampTz as_of) {
    Spi spi;
    ct4::pg::Param at{TIMESTAMPTZOID, TimestampTzGetDatum(as_of), false};
    std::string args =
        spi.scalar_text("SELECT pg_catalog.jsonb_build_object('as_of', $1)::text", {at})
            .value_or("{}");
    ct4::jobs::JobRun run(spi, "check_limbo_alerts", args, {});
    ct4::pg::RowSink sink(fcinfo);
    if (!run.try_lock()) {
        run.finish("SKIPPED_LOCKED", {});
        int64_t id = run.run_id();
        ct4::pg::guarded([&] {
            ereport(
                NOTICE,
                (errmsg(
                    "ct4 check_limbo_alerts run %lld: SKIPPED_LOCKED (another run holds the lock)",
                    (long long)id)));
        });
        return (Datum)0;
    }
    spi.exec("SELECT ct4._reap_crashed()");

    std::vector<Rule> rules;
    spi.exec(
        "SELECT rule_code, threshold::text, severity, params::text FROM ct4.alert_rules"
        " WHERE enabled ORDER BY rule_code");
    for (uint64_t i = 0; i < spi.rows(); i++)
        rules.push_back(
            {*spi.get_text(i, 0), *spi.get_text(i, 1), *spi.get_text(i, 2), *spi.get_text(i, 3)});

    std::vector<Alert> alerts;
    int64_t evaluated = 0, skipped = 0;
    for (size_t i = 0; i < rules.size(); i++) {
        const Rule &rule = rules[i];
        run.progress("rules", (int64_t)i, (int64_t)rules.size(), "rules", [&] {
            return ct4::jobs::Counters{{"rules_evaluated", evaluated},
                                       {"alerts_raised", (int64_t)alerts.size()}};
        });
        auto ev = evaluators().find(rule.code);
        const char *why = nullptr;
        if (ev == evaluators().end()) {
            why = "no evaluator for this rule_code";
        } else if (ev->second.needs_view &&
                   !spi.scalar_text("SELECT pg_catalog.to_regclass($1)::text",
                                    {ct4::pg::p_text(std::string(ev->second.needs_view))})) {
            why = "the view it reads does not exist";
        }
        if (why) {
            skipped++;
            std::string m = "ct4 check_limbo_alerts: rule " + rule.code + " skipped: " + why;
            const char *c = m.c_str();
            ct4::pg::guarded([&] { ereport(WARNING, (errmsg("%s", c))); });
            continue;
        }
        spi.exec(ev->second.sql,
                 {at, ct4::pg::p_text(rule.threshold), ct4::pg::p_jsonb(rule.params)});
        evaluated++;
        for (uint64_t r = 0; r < spi.rows(); r++) {
            auto metric = spi.get_text(r, 0), threshold = spi.get_text(r, 1);
            if (!metric || !threshold || !(num(*metric) > num(*threshold))) continue;
            alerts.push_back({rule.code, rule.severity, *metric, *threshold,
                              spi.get_text(r, 2).value_or(""), spi.get_text(r, 3).value_or("{}")});
        }
    }

    // The open alerts are those of the latest evaluation.
    spi.exec("UPDATE ct4.alert_events SET resolved_at = $1 WHERE resolved_at IS NULL", {at});
    if (!alerts.empty()) {
        std::vector<std::optional<std::string>> code, sev, metric, thr, msg, det;
        for (const auto &a : alerts) {
            code.emplace_back(a.code);
            sev.emplace_back(a.severity);
            metric.emplace_back(a.metric);
            thr.emplace_back(a.threshold);
            msg.emplace_back(a.message);
            det.emplace_back(a.details);
        }
        spi.exec(
            "WITH ins AS (INSERT INTO ct4.alert_events"
            "   (run_id, rule_code, severity, metric_value, threshold, message, details, raised_at)"
            " SELECT $1, a.code, a.sev, a.metric::numeric, a.thr::numeric, a.msg, a.det::jsonb, $2"
            "   FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]),"
            "     pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]),"
            "     pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]))"
            "        AS a(code, sev, metric, thr, msg, det)"
            " RETURNING *)"
            // Any role that can connect can LISTEN: the payload carries codes,
            // numbers and ids, never the message or details (lead and driver
            // ids, error texts), which stay in ct4.alert_events (SPEC 6).
            " SELECT pg_catalog.count(pg_catalog.pg_notify('ct4_alerts', "
            "pg_catalog.jsonb_build_object("
            "   'event_id', event_id, 'run_id', run_id, 'alert_code', rule_code, 'severity', "
            "severity,"
            "   'metric_value', metric_value, 'threshold', threshold,"
            "   'raised_at', raised_at)::text)) FROM ins",
            {ct4::pg::p_int8(run.run_id()), at, ct4::pg::p_text_array(code),
             ct4::pg::p_text_array(sev), ct4::pg::p_text_array(metric), ct4::pg::p_text_array(thr),
             ct4::pg::p_text_array(msg), ct4::pg::p_text_array(det)});
    }
    run.finish("SUCCESS", {{"rules_evaluated", evaluated},
                           {"rules_skipped", skipped},
                           {"alerts_raised", (int64_t)alerts.size()}});

    for (const auto &a : alerts) {
        sink.put_row({{text_datum(a.code), false},
                      {text_datum(a.severity), false},
                      {numeric_datum(a.metric), false},
                      {numeric_datum(a.threshold), false},
                      {text_datum(a.message), false},
                      {jsonb_datum(a.details), false}});
    }
    return (Datum)0;
}

Datum check_limbo_alerts(FunctionCallInfo fcinfo) {
    return check_alerts(fcinfo,
                        ct4::pg::guarded([] { return GetCurrentTransactionStartTimestamp(); }));
}

Datum check_limbo_alerts_at(FunctionCallInfo fcinfo) {
    ct4::pg::require_not_null(fcinfo, 0, "as_of");
    TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
    if (TIMESTAMP_NOT_FINITE(t))
        throw ct4::pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "as_of must be finite");
    return check_alerts(fcinfo, t);
}

}  // namespace

CT4_FUNCTION(ct4_check_limbo_alerts, check_limbo_alerts)
CT4_FUNCTION(ct4_check_limbo_alerts_at, check_limbo_alerts_at)
