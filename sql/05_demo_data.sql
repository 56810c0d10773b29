-- ct4.generate_demo_data: deterministic, every kind of mess present.
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments,
         canon.persons, canon.identity_links, canon.identity_unmatched,
         ops.cabinet_claims_14d, ct4.job_runs RESTART IDENTITY CASCADE;
-- Arguments are checked.
SELECT * FROM ct4.generate_demo_data(-1);
SELECT * FROM ct4.generate_demo_data(10, NULL);
SELECT * FROM ct4.generate_demo_data(10, 1, NULL);

-- Determinism: generate twice (replace) and compare the md5 of every table.
CREATE TEMP TABLE md5s (gen integer, tbl text, md5 text);
CREATE FUNCTION pg_temp.table_md5s(gen integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO md5s
    SELECT gen, 'leads', md5(string_agg(t::text, '|' ORDER BY t.lead_id)) FROM raw.module_ct_cabinet_leads t
    UNION ALL SELECT gen, 'drivers', md5(string_agg(t::text, '|' ORDER BY t.driver_id)) FROM raw.drivers t
    UNION ALL SELECT gen, 'trips', md5(string_agg(t::text, '|' ORDER BY t.driver_id, t.trip_date)) FROM raw.summary_daily t
    UNION ALL SELECT gen, 'payments', md5(string_agg(t::text, '|' ORDER BY t.payment_id)) FROM raw.claim_payments t;
$$;
SELECT lead_rows, driver_rows, trip_rows, payment_rows, current_date - first_lead_date AS first_days_ago,
       current_date - last_lead_date AS last_days_ago
  FROM ct4.generate_demo_data(2000, 7);
SELECT pg_temp.table_md5s(1);
-- Not empty now: refused unless replace.
SELECT * FROM ct4.generate_demo_data(2000, 7);
SELECT lead_rows, driver_rows, trip_rows, payment_rows FROM ct4.generate_demo_data(2000, 7, replace => true);
SELECT pg_temp.table_md5s(2);
SELECT a.tbl, a.md5 = b.md5 AS same_rows
  FROM md5s a JOIN md5s b ON a.tbl = b.tbl AND a.gen = 1 AND b.gen = 2 ORDER BY 1;
-- Another seed gives other rows.
SELECT lead_rows, driver_rows FROM ct4.generate_demo_data(2000, 8, replace => true);
SELECT pg_temp.table_md5s(3);
SELECT a.tbl, a.md5 = b.md5 AS same_rows
  FROM md5s a JOIN md5s b ON a.tbl = b.tbl AND a.gen = 1 AND b.gen = 3 ORDER BY 1;

-- Every kind of mess, counted on 2000 leads (seed 7).
SELECT lead_rows FROM ct4.generate_demo_data(2000, 7, replace => true);
SELECT kind, n
  FROM (VALUES
    ('phone +51 987 654 321',   (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^\+51 \d{3} \d{3} \d{3}$')),
    ('phone 987654321',         (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^9\d{8}$')),
    ('phone 0051987654321',     (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^0051\d{9}$')),
    ('phone (51) 987-654-321',  (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^\(51\) \d{3}-\d{3}-\d{3}$')),
    ('phone 51987654321',       (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^51\d{9}$')),
    ('phone bad 8 digits',      (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone ~ '^\d{8}$')),
    ('phone missing',           (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone IS NULL)),
    ('phone junk',              (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE phone = '123')),
    ('name with accents',       (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE full_name ~ '[áéíóúñÁÉÍÓÚÑ]')),
    ('name upper, family first',(SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE full_name ~ '^[A-Z]+ [A-Z]+( [A-Z]+)?$')),
    ('lead name ~ driver name', (SELECT count(*) FROM raw.module_ct_cabinet_leads l
                                   JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
                                  WHERE ct4.name_similarity(l.full_name, d.full_name) BETWEEN 0.8 AND 0.99)),
    ('name non-Latin or emoji', (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE full_name ~ '[^\x01-\x7F]' AND full_name !~ '[áéíóúñÁÉÍÓÚÑ]')),
    ('name missing',            (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE full_name IS NULL)),
    ('licence with O/I for 0/1',(SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE license_number ~ '^[A-Z][0-9OI]{8}$' AND license_number ~ '^.[^OI]*[OI]')),
    ('licence with separators', (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE license_number ~ '-')),
    ('licence missing',         (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE license_number IS NULL)),
    ('plate with O/I',          (SELECT count(*) FROM raw.drivers WHERE plate ~ '^[A-Z]{3}[0-9OI]{3}$' AND substr(plate, 4) ~ '[OI]')),
    ('plate missing',           (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE plate IS NULL)),
    ('lead date NULL',          (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE lead_date IS NULL)),
    ('second sign-up of a person', (SELECT count(*) FROM raw.module_ct_cabinet_leads WHERE ct4._demo_person_of(lead_id, 2000, 7) <> lead_id)),
    ('leads sharing a phone',   (SELECT count(*) FROM (SELECT ct4.normalize_phone(phone) FROM raw.module_ct_cabinet_leads
                                  WHERE ct4.normalize_phone(phone) IS NOT NULL GROUP BY 1 HAVING count(*) > 1) x)),
    ('drivers sharing a phone', (SELECT count(*) FROM (SELECT ct4.normalize_phone(phone) FROM raw.drivers
                                  WHERE ct4.normalize_phone(phone) IS NOT NULL GROUP BY 1 HAVING count(*) > 1) x)),
    ('drivers with several leads', (SELECT count(*) FROM raw.drivers d
                                  WHERE (SELECT count(*) FROM raw.module_ct_cabinet_leads l
                                          WHERE 'drv_' || lpad(ct4._demo_person_of(l.lead_id, 2000, 7)::text, 9, '0') = d.driver_id) > 1)),
    ('leads never a driver',    (SELECT count(*) FROM raw.module_ct_cabinet_leads l
                                  WHERE NOT EXISTS (SELECT FROM raw.drivers d
                                          WHERE d.driver_id = 'drv_' || lpad(ct4._demo_person_of(l.lead_id, 2000, 7)::text, 9, '0')))),
    ('drivers without a lead',  (SELECT count(*) FROM raw.drivers WHERE substr(driver_id, 5)::bigint > 2000)),
    ('drivers never driving',   (SELECT count(*) FROM raw.drivers d WHERE NOT EXISTS (SELECT FROM raw.summary_daily s WHERE s.driver_id = d.driver_id))),
    ('first trip on day 13',    (SELECT count(*) FROM raw.module_ct_cabinet_leads l JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
                                  WHERE (SELECT min(trip_date) FROM raw.summary_daily s WHERE s.driver_id = d.driver_id) = l.lead_date + 13)),
    ('first trip on day 14',    (SELECT count(*) FROM raw.module_ct_cabinet_leads l JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
                                  WHERE (SELECT min(trip_date) FROM raw.summary_daily s WHERE s.driver_id = d.driver_id) = l.lead_date + 14)),
    ('first trip after day 14', (SELECT count(*) FROM raw.module_ct_cabinet_leads l JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
                                  WHERE (SELECT min(trip_date) FROM raw.summary_daily s WHERE s.driver_id = d.driver_id) > l.lead_date + 14)),
    ('payments',                (SELECT count(*) FROM raw.claim_payments)),
    ('partial payments',        (SELECT count(*) FROM raw.claim_payments p JOIN ct4.milestones m USING (milestone_value) WHERE p.amount < m.amount)),
    ('trips today or later',    (SELECT count(*) FROM raw.summary_daily WHERE trip_date >= current_date))
  ) v(kind, n);
-- Lead dates: the last ~120 days, up to yesterday.
SELECT min(current_date - lead_date) AS min_days_ago, max(current_date - lead_date) AS max_days_ago
  FROM raw.module_ct_cabinet_leads;
-- Normalized keys: most rows normalize (the rest is the mess the jobs report).
SELECT count(ct4.normalize_phone(phone)) AS phones_ok, count(ct4.normalize_license(license_number)) AS licences_ok,
       count(ct4.normalize_plate(plate)) AS plates_ok, count(ct4.normalize_name(full_name)) AS names_ok
  FROM raw.module_ct_cabinet_leads;
-- Zero leads is allowed.
SELECT lead_rows, driver_rows, trip_rows, payment_rows FROM ct4.generate_demo_data(0, 7, replace => true);
