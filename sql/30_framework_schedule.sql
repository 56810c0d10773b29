-- Job registry defaults and what ct4.schedule registers for each profile and
-- time zone (computed by ct4.schedule_plan, which needs no pg_cron).
SELECT job_name, command, enabled, max_runtime, max_retries, retry_delay
  FROM ct4.jobs ORDER BY job_name;
SELECT profile, maintenance, description FROM ct4.schedule_profiles ORDER BY profile;
SELECT profile, job_name, schedule, max_runtime, max_retries, retry_delay
  FROM ct4.job_schedules ORDER BY profile, job_name;
-- GMT cron lines per profile x zone, in January and July (DST).
SELECT p.profile, z.tz, to_char(d.day AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
       string_agg(replace(s.jobname, 'ct4:', '') || ' ' || s.utc_schedule, ' | ' ORDER BY s.jobname) AS gmt
  FROM ct4.schedule_profiles p
 CROSS JOIN (VALUES ('UTC'), ('America/Lima'), ('Europe/Madrid'), ('Asia/Kolkata')) z(tz)
 CROSS JOIN (VALUES (timestamptz '2025-01-15 12:00+00'), (timestamptz '2025-07-15 12:00+00')) d(day)
 CROSS JOIN LATERAL ct4.schedule_plan(p.profile, z.tz, d.day) s
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT rule_code, threshold, severity, enabled, params FROM ct4.alert_rules ORDER BY rule_code;
