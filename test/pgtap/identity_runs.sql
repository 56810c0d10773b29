-- Runs on generated data: C0 invariants, idempotence (canon checksums before
-- and after a second run), dry_run writing nothing but its run record.
BEGIN;
SELECT plan(21);
-- 3000 drivers; 2000 leads: most are sign-ups of a driver in another format,
-- some are second sign-ups, some share a phone, some are garbage.
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate)
SELECT 'D' || i, 'Driver ' || chr(65 + i % 26) || chr(65 + i / 26 % 26) || ' Lastname' || (i % 97),
       (900000000 + i)::text, 'Q' || (10000000 + i), 'P' || lpad(i::text, 5, '0')
  FROM generate_series(1, 3000) i;
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate)
SELECT i, current_date - (i % 40),
       CASE WHEN i % 50 = 0 THEN NULL ELSE 'lastname' || (d % 97) || ' driver ' || chr(65 + d % 26) || chr(65 + d / 26 % 26) END,
       CASE WHEN i % 7 = 0 THEN '+51 ' || (900000000 + d) WHEN i % 11 = 0 THEN '☎ -- ☎' ELSE NULL END,
       CASE WHEN i % 7 <> 0 THEN 'q-' || (10000000 + d) END,
       CASE WHEN i % 3 = 0 THEN 'p-' || lpad(d::text, 5, '0') END
  FROM generate_series(1, 2000) i, LATERAL (SELECT CASE WHEN i % 13 = 0 THEN i - 1 ELSE i END + (i % 5) * 400 AS d) x;
UPDATE raw.module_ct_cabinet_leads SET phone = '☎ -- ☎', license_number = repeat('!', 10000), plate = NULL
 WHERE lead_id % 101 = 0;

SELECT is(status, 'DRY_RUN', 'dry run') FROM ct4.reconcile_leads_pipeline(days_back => 100, row_limit => 5000, dry_run => true);
SELECT is((SELECT count(*) FROM canon.persons) + (SELECT count(*) FROM canon.identity_links)
          + (SELECT count(*) FROM canon.identity_unmatched),
          0::bigint, 'dry_run writes nothing to canon');
SELECT is((SELECT count(*) FROM ct4.job_runs WHERE status = 'DRY_RUN'), 1::bigint, 'dry_run keeps its run record');
CREATE TEMP TABLE dry AS SELECT stats - 'duration_ms' AS s FROM ct4.job_runs WHERE status = 'DRY_RUN';

CREATE TEMP TABLE first AS SELECT * FROM ct4.reconcile_leads_pipeline(days_back => 100, row_limit => 5000);
SELECT is((SELECT processed FROM first), 2000, 'every lead processed');
SELECT ok((SELECT newly_linked > 1000 AND newly_driver_mapped > 500 FROM first), 'most leads linked and mapped');
SELECT is((SELECT stats - 'duration_ms' FROM ct4.job_runs WHERE run_id = (SELECT run_id FROM first)),
          (SELECT s FROM dry), 'dry_run computed the same counters as the real run');
-- C0: a person has at most one driver; a driver at most one person; every link has rule, evidence, run.
SELECT is((SELECT count(*) FROM (SELECT person_key FROM canon.identity_links WHERE source_table = 'drivers'
                                  GROUP BY 1 HAVING count(*) > 1) x), 0::bigint, 'a person has at most one driver');
SELECT is((SELECT count(*) FROM canon.identity_links WHERE match_rule IS NULL OR evidence = '{}' OR run_id IS NULL
              OR (match_rule <> 'NEW_PERSON' AND match_score < 3)), 0::bigint, 'every link has rule, score >= threshold, evidence, run');
-- A link's evidence names the keys its row had, as the expression indexes
-- (the only copy of the keys) normalize them.
SELECT is((SELECT count(*) FROM canon.identity_links l
             JOIN raw.module_ct_cabinet_leads r ON l.source_table = 'module_ct_cabinet_leads'
                                               AND l.source_pk = r.lead_id::text
            WHERE (l.evidence->'keys'->>'phone') IS DISTINCT FROM ct4.normalize_phone(r.phone)
               OR (l.evidence->'keys'->>'license') IS DISTINCT FROM left(ct4.normalize_license(r.license_number), 64)),
          0::bigint, 'every lead link''s evidence holds the keys of its raw row');
SELECT is((SELECT count(*) FROM canon.identity_unmatched u JOIN canon.identity_links l
             ON l.source_table = u.source_table AND l.source_pk = u.source_pk
            WHERE u.reason_code NOT LIKE 'DRIVER_%'), 0::bigint, 'no linked lead has an identity unmatched row');
SELECT ok((SELECT count(*) FROM canon.identity_unmatched WHERE reason_code = 'INVALID_DATA') > 0, 'garbage is recorded as INVALID_DATA');

-- A second run with no new data changes nothing in canon.
CREATE TEMP TABLE sums AS
SELECT (SELECT md5(string_agg(p::text, ',' ORDER BY person_key)) FROM canon.persons p) AS persons,
       (SELECT md5(string_agg(l::text, ',' ORDER BY source_table, source_pk)) FROM canon.identity_links l) AS links,
       (SELECT md5(string_agg(u::text, ',' ORDER BY source_pk)) FROM canon.identity_unmatched u) AS unmatched;
SELECT is(newly_linked + newly_driver_mapped, 0, 'second run links nothing')
  FROM ct4.reconcile_leads_pipeline(days_back => 100, row_limit => 5000);
SELECT is((SELECT s::text FROM sums s),
          (SELECT ROW((SELECT md5(string_agg(p::text, ',' ORDER BY person_key)) FROM canon.persons p),
                      (SELECT md5(string_agg(l::text, ',' ORDER BY source_table, source_pk)) FROM canon.identity_links l),
                      (SELECT md5(string_agg(u::text, ',' ORDER BY source_pk)) FROM canon.identity_unmatched u))::text),
          'canon checksums equal after the second run');
-- Even when its outcomes are recomputed (settings touched: epoch moves).
UPDATE ct4.settings SET value = value WHERE name = 'link_threshold';
SELECT is(newly_linked + newly_driver_mapped, 0, 'a full re-evaluation links nothing either')
  FROM ct4.reconcile_leads_pipeline(days_back => 100, row_limit => 5000);
-- A person's keys are those of every row linked to it, read from the raw
-- rows: a new lead that shares only its driver's license (not a key of any
-- lead) links to that person, by the driver's row.
CREATE TEMP TABLE d AS
SELECT l.person_key, dr.driver_id, dr.license_number, dr.full_name
  FROM canon.identity_links l JOIN raw.drivers dr ON dr.driver_id = l.source_pk
 WHERE l.source_table = 'drivers'
   AND NOT EXISTS (SELECT 1 FROM canon.identity_links x JOIN raw.module_ct_cabinet_leads r
                     ON x.source_table = 'module_ct_cabinet_leads' AND r.lead_id::text = x.source_pk
                    WHERE x.person_key = l.person_key
                      AND ct4.normalize_license(r.license_number) = ct4.normalize_license(dr.license_number))
 ORDER BY dr.driver_id LIMIT 1;
SELECT is((SELECT count(*) FROM d), 1::bigint, 'a driver whose license none of its person''s leads has');
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, license_number)
SELECT 900001, current_date, full_name, lower(license_number) FROM d;
SELECT is(newly_linked, 1, 'the lead with only that license links')
  FROM ct4.reconcile_leads_pipeline(days_back => 1, row_limit => 5000, process_limbo => false);
SELECT is((SELECT person_key FROM canon.identity_links
            WHERE source_table = 'module_ct_cabinet_leads' AND source_pk = '900001'),
          (SELECT person_key FROM d), 'to the person of that driver');
-- A done lead has no state row; a change to it makes it NEW, and the next
-- run finds it done again and changes nothing.
SELECT is((SELECT count(*) FROM canon.identity_lead_state s JOIN canon.identity_links ll
             ON ll.source_table = 'module_ct_cabinet_leads' AND ll.source_pk = s.lead_id::text
           JOIN canon.identity_links dl ON dl.source_table = 'drivers' AND dl.person_key = ll.person_key),
          0::bigint, 'no lead that is done has a state row');
UPDATE raw.module_ct_cabinet_leads SET full_name = full_name || ' ' WHERE lead_id = 900001;
SELECT is((SELECT stage FROM canon.identity_lead_state WHERE lead_id = 900001), 'NEW', 'a changed done lead is NEW');
SELECT is(newly_linked + newly_driver_mapped, 0, 'the next run links nothing')
  FROM ct4.reconcile_leads_pipeline(days_back => 1, row_limit => 5000, process_limbo => false);
SELECT is((SELECT count(*) FROM canon.identity_lead_state WHERE lead_id = 900001), 0::bigint,
          'and finds the lead done again');
SELECT * FROM finish();
ROLLBACK;
