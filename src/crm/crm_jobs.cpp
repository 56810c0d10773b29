// The four CRM jobs of seed 004 (SPEC 8.2): ct4.crm_check_notifications,
// ct4.crm_refresh_seller_metrics, ct4.crm_cleanup, ct4.crm_daily_report.
// Each is one statement of crm_jobs.sql that does the whole work for the
// time it is given and returns its counters by name; around it every job's
// lifecycle (JobRun): the argument checked and recorded, the run record,
// the job lock (a second run returns SKIPPED_LOCKED with zero counters),
// the counters as stats and as the result row.
#include "crm/crm_jobs.sql.hpp"
#include "jobs/job_run.hpp"
#include "pg/args.hpp"
#include "pg/datum.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "pg/srf.hpp"

#include <string>
#include <vector>

namespace {

using ct4::pg::OutCol;
using ct4::pg::Param;
using ct4::pg::Spi;

namespace sql = ct4::sql::crm_jobs;  // src/crm/crm_jobs.sql

struct CrmJob {
    const char *name;                    // its ct4.jobs job_name
    const char *arg;                     // its one argument: as_of | for_date
    const char *sql;                     // $1 the argument, $2 the run id
    std::vector<const char *> counters;  // integer result columns, in stats order
    const char *echo = nullptr;          // a result column that shows the argument when skipped
};

const CrmJob kCheckNotifications{"crm_notification_checks",
                                 "as_of",
                                 sql::check_notifications,
                                 {"unanswered_conversations", "hot_leads", "follow_up_reminders",
                                  "performance_alerts", "notifications_created"}};
const CrmJob kSellerMetrics{
    "crm_seller_metrics", "as_of", sql::refresh_seller_metrics, {"sellers", "metrics_upserted"}};
const CrmJob kCleanup{"crm_cleanup",
                      "as_of",
                      sql::cleanup,
                      {"notifications_deleted", "metrics_deleted", "conversations_archived"}};
const CrmJob kDailyReport{"crm_daily_report",
                          "for_date",
                          sql::daily_report,
                          {"conversations", "new_leads", "converted_leads", "recommendations"},
                          "report_date"};

// The result row, column by column by name: run_id, status, duration_ms
// (filled in last), and each other column from the statement's row (zero
// counters and NULLs when the run was skipped).
std::vector<OutCol> result_row(const ct4::pg::RowSink &sink, const Spi &spi, const CrmJob &job,
                               int64_t run_id, const char *status, bool ran, const Param &arg) {
    std::vector<OutCol> row;
    for (int i = 0; i < sink.columns(); i++) {
        std::string col = sink.column_name(i);
        bool counter = false;
        for (const char *c : job.counters) counter = counter || col == c;
        if (col == "run_id") {
            row.push_back({Int64GetDatum(run_id), false});
        } else if (col == "status") {
            row.push_back({ct4::pg::text_datum(status), false});
        } else if (col == "duration_ms") {
            row.push_back(ct4::pg::out_null());
        } else if (ran) {
            bool isnull;
            Datum d = spi.get_datum(0, spi.column(col.c_str()), &isnull);
            row.push_back({d, isnull});
        } else if (counter) {
            row.push_back({Int32GetDatum(0), false});
        } else if (job.echo && col == job.echo) {
            row.push_back({arg.value, false});
        } else {
            row.push_back(ct4::pg::out_null());
        }
    }
    return row;
}

Datum run(FunctionCallInfo fcinfo, const CrmJob &job, const Param &arg) {
    Spi spi;
    std::string args = spi.scalar_text("SELECT pg_catalog.jsonb_build_object($1::text, $2)::text",
                                       {ct4::pg::p_text(std::string(job.arg)), arg})
                           .value_or("{}");
    ct4::jobs::JobRun record(spi, job.name, args, {});
    ct4::pg::RowSink sink(fcinfo);
    ct4::jobs::Counters counters;
    for (const char *c : job.counters) counters.emplace_back(c, 0);

    bool ran = record.try_lock();
    const char *status = ran ? "SUCCESS" : "SKIPPED_LOCKED";
    if (ran) {
        spi.exec(job.sql, {arg, ct4::pg::p_int8(record.run_id())});
        for (auto &[name, value] : counters) value = spi.get_int4(0, spi.column(name.c_str()));
    } else {
        std::string m = std::string("ct4 ") + job.name + " run " + std::to_string(record.run_id()) +
                        ": SKIPPED_LOCKED (another run holds the lock)";
        const char *c = m.c_str();
        ct4::pg::guarded([&] { ereport(NOTICE, (errmsg("%s", c))); });
    }
    // Read before finish(): the statement's values live until the Spi ends.
    std::vector<OutCol> row = result_row(sink, spi, job, record.run_id(), status, ran, arg);
    record.finish(status, counters);
    for (int i = 0; i < sink.columns(); i++)
        if (std::string(sink.column_name(i)) == "duration_ms")
            row[i] = {Float8GetDatum(record.elapsed_ms()), false};
    sink.put_row(row);
    return (Datum)0;
}

Datum crm_check_notifications(FunctionCallInfo fcinfo) {
    return run(fcinfo, kCheckNotifications,
               ct4::pg::p_timestamptz(ct4::pg::arg_timestamptz(fcinfo, 0, "as_of")));
}

Datum crm_refresh_seller_metrics(FunctionCallInfo fcinfo) {
    return run(fcinfo, kSellerMetrics,
               ct4::pg::p_timestamptz(ct4::pg::arg_timestamptz(fcinfo, 0, "as_of")));
}

Datum crm_cleanup(FunctionCallInfo fcinfo) {
    return run(fcinfo, kCleanup,
               ct4::pg::p_timestamptz(ct4::pg::arg_timestamptz(fcinfo, 0, "as_of")));
}

Datum crm_daily_report(FunctionCallInfo fcinfo) {
    return run(fcinfo, kDailyReport, ct4::pg::p_date(ct4::pg::arg_date(fcinfo, 0, "for_date")));
}

}  // namespace

CT4_FUNCTION(ct4_crm_check_notifications, crm_check_notifications)
CT4_FUNCTION(ct4_crm_refresh_seller_metrics, crm_refresh_seller_metrics)
CT4_FUNCTION(ct4_crm_cleanup, crm_cleanup)
CT4_FUNCTION(ct4_crm_daily_report, crm_daily_report)
