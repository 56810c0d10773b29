// The four CRM jobs of seed 004 (SPEC 8.2): ct4.crm_check_notifications,
// ct4.crm_refresh_seller_metrics, ct4.crm_cleanup, ct4.crm_daily_report.
// Each is one statement of crm_jobs.sql that does the whole work for the
// time it is given and returns its counters by name; jobs::Job does the
// rest (argument checked and recorded, run record, job lock and
// SKIPPED_LOCKED, counters as stats and as the result row).
#include "crm/crm_jobs.sql.hpp"
#include "jobs/job.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
}

namespace {

using ct4::jobs::Job;
using ct4::jobs::JobSpec;

namespace sql = ct4::sql::crm_jobs;  // src/crm/crm_jobs.sql

const JobSpec kCheckNotifications{"crm_notification_checks",
                                  {},
                                  {"unanswered_conversations", "hot_leads", "follow_up_reminders",
                                   "performance_alerts", "notifications_created"}};
const JobSpec kSellerMetrics{"crm_seller_metrics", {}, {"sellers", "metrics_upserted"}};
const JobSpec kCleanup{
    "crm_cleanup", {}, {"notifications_deleted", "metrics_deleted", "conversations_archived"}};
const JobSpec kDailyReport{
    "crm_daily_report", {}, {"conversations", "new_leads", "converted_leads", "recommendations"}};

// Runs `statement` ($1 the job's argument, $2 its run id) and reads the
// job's counters from its one row, by name.
void run_statement(Job &job, const char *statement, Datum arg, Oid arg_type) {
    ct4::pg::Spi &spi = job.spi();
    spi.exec(statement, {{arg_type, arg, false}, ct4::pg::p_int8(job.run_id())});
    for (const auto &c : job.counters())
        job.counter(c.first.c_str()) = spi.get_int4(0, spi.column(c.first.c_str()));
}

Datum run_as_of(FunctionCallInfo fcinfo, const JobSpec &spec, const char *statement) {
    Job job(fcinfo, spec);
    Datum as_of = job.timestamptz_arg(0, "as_of");
    return job.run([&](Job &j) { run_statement(j, statement, as_of, TIMESTAMPTZOID); });
}

Datum crm_check_notifications(FunctionCallInfo fcinfo) {
    return run_as_of(fcinfo, kCheckNotifications, sql::check_notifications);
}

Datum crm_refresh_seller_metrics(FunctionCallInfo fcinfo) {
    return run_as_of(fcinfo, kSellerMetrics, sql::refresh_seller_metrics);
}

Datum crm_cleanup(FunctionCallInfo fcinfo) {
    return run_as_of(fcinfo, kCleanup, sql::cleanup);
}

// The report's row also carries its day and the report (NULL when skipped).
Datum crm_daily_report(FunctionCallInfo fcinfo) {
    Job job(fcinfo, kDailyReport);
    Datum for_date = job.date_arg(0, "for_date");
    job.result_column("report_date", for_date, false);
    job.result_column("report", (Datum)0, true);
    return job.run([&](Job &j) {
        run_statement(j, sql::daily_report, for_date, DATEOID);
        bool isnull;
        Datum report = j.spi().get_datum(0, j.spi().column("report"), &isnull);
        j.result_column("report", report, isnull);
    });
}

}  // namespace

CT4_FUNCTION(ct4_crm_check_notifications, crm_check_notifications)
CT4_FUNCTION(ct4_crm_refresh_seller_metrics, crm_refresh_seller_metrics)
CT4_FUNCTION(ct4_crm_cleanup, crm_cleanup)
CT4_FUNCTION(ct4_crm_daily_report, crm_daily_report)
