-- Identity matching (SPEC 4.1, 4.2): every outcome on a small fixture, one
-- lead per case. Lead ids tell the case: 1xx link, 2xx ambiguous, 3xx weak,
-- 4xx new person, 5xx no candidates, 6xx invalid data, 7xx driver codes,
-- 8xx two sign-ups of one person, 9xx NULL lead_date. 30x and 1x0 are the
-- family traps of SPEC 4.2 (amended): relatives share a phone or a car, not
-- a person.
TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, canon.persons, canon.identity_links,
         canon.identity_unmatched, canon.identity_link_removals, canon.identity_blocks,
         canon.identity_lead_state, ct4.job_runs RESTART IDENTITY CASCADE;
-- Persons already known (as an earlier run would have left them).
INSERT INTO canon.persons (person_key) VALUES (1), (2), (3), (4), (5), (6), (7), (9), (10);
SELECT setval('canon.persons_person_key_seq', 100);
INSERT INTO canon.identity_links VALUES
    ('module_ct_cabinet_leads', '1', 1, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '2', 2, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '3', 3, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '4', 4, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '5', 5, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '6', 6, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '7', 7, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '9', 9, 'NEW_PERSON', NULL, '{}', now(), 0),
    ('module_ct_cabinet_leads', '10', 10, 'NEW_PERSON', NULL, '{}', now(), 0);
-- Drivers: D-DUP-1/2 tie for person 5, D-WEAK shares only a phone with
-- person 6, D-TAKEN is the best driver of person 7 but belongs to person 1
-- (lead 703 links to person 7 by phone, not to person 1 by D-TAKEN's license).
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate) VALUES
    ('D-DUP-1', 'Luis Vega', '900000001', 'Q-5555 5555', NULL),
    ('D-DUP-2', 'Luis Vega', '900000002', 'q55555555', NULL),
    ('D-WEAK', 'Someone Else', '966 666 666', NULL, NULL),
    ('D-TAKEN', 'Eva Cruz', NULL, 'Q77777777', NULL),
    ('D-NEW', 'Carla Nuñez', '+51 955 555 555', 'L-4040 4040', 'xyz-987'),
    -- Luis's brother drives with the family phone: not Luis's driver.
    ('D-BROTHER', 'Lucas Rojas Soto', '933 303 303', 'L-3131 3131', NULL);
INSERT INTO canon.persons (person_key) VALUES (8);
INSERT INTO canon.identity_links VALUES
    ('drivers', 'D-TAKEN', 1, 'LICENSE', 4, '{}', now(), 0);
-- The leads of this run (all dated today or NULL).
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate) VALUES
    (101, current_date, 'María García', '+51 911 111 111', 'q-1111 1111', NULL),
    (201, current_date, NULL, NULL, 'Q2222 2222', NULL),
    (301, current_date, 'Jorge Ramos', '944444444', NULL, NULL),
    -- José's family (person 9: phone 912 121 212, license Q90909090, plate FAM101):
    (302, current_date, 'Juan Perez Quispe', '912121212', NULL, NULL),          -- brother: WEAK_MATCH
    (303, current_date, 'María Pérez Quispe', '912121212', NULL, 'fam-101'),    -- sister, phone + car: WEAK_MATCH
    (110, current_date, 'Jose Perez', '+51 912 121 212', NULL, NULL),           -- a missing token: linked
    (120, current_date, 'Jsoe Perez Quispe', '912121212', NULL, 'FAM101'),      -- a typo: linked
    (130, current_date, 'Ana Torres', NULL, 'Q-1111 1111', NULL),               -- person 1's license outweighs the name
    (140, current_date, 'Luis Rojas Soto', '933303303', NULL, NULL),            -- Luis (person 10) again
    (401, current_date, 'Carla Nuñez', '955555555', 'L40404040', NULL),
    (501, current_date, NULL, '977777777', NULL, NULL),
    (502, current_date, 'Solo Placa', NULL, NULL, 'ZZZ-999'),
    (503, current_date, NULL, NULL, NULL, NULL),
    (601, current_date, 'Bad Data', '12-34', '!!', '---'),
    (602, current_date, '😀😀😀', repeat('-', 10000), repeat('x', 10000), '   -- ..  '),
    (701, current_date, 'Luis Vega', NULL, 'Q55555555', NULL),
    (702, current_date, 'Rosa León', '966666666', NULL, NULL),
    (703, current_date, 'Eva Cruz', '970 707 070', NULL, NULL),
    (801, current_date, 'Tomás Ortiz', '988 000 111', NULL, NULL),
    (802, current_date, 'Ortiz Tomas', '+51988000111', 'T-8080 8080', NULL),
    (901, NULL, 'Nadia Paz', '999 000 222', NULL, NULL);
-- Leads 1..7 belong to the persons above, were linked long ago, and are not
-- in this run's scope (they are done: no state row, and outside days_back). A person's
-- keys are those of its linked rows (and of its driver, for person 1).
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number) VALUES
    (1, '2000-01-01', 'Maria Garcia', '911111111', 'Q11111111'),
    -- persons 2 and 3 share a license: a lead with it and nothing else ties
    (2, '2000-01-01', 'Juan Soto', NULL, 'Q22222222'),
    (3, '2000-01-01', 'Ana Rojas', NULL, 'Q22222222'),
    -- person 4: a phone shared with a lead whose name differs (2 < 3)
    (4, '2000-01-01', 'Pedro Diaz', '944444444', NULL),
    -- persons 5, 6, 7 have no driver yet (driver step cases)
    (5, '2000-01-01', 'Luis Vega', NULL, 'Q55555555'),
    (6, '2000-01-01', 'Rosa Leon', '966666666', NULL),
    (7, '2000-01-01', 'Eva Cruz', '970707070', 'Q77777777'),
    (9, '2000-01-01', 'José Pérez Quispe', '912121212', 'Q90909090'),
    (10, '2000-01-01', 'Luis Rojas Soto', '933 303 303', NULL);
UPDATE raw.module_ct_cabinet_leads SET plate = 'FAM-101' WHERE lead_id = 9;
DELETE FROM canon.identity_lead_state WHERE lead_id < 100;

SELECT status, processed, newly_linked, newly_driver_mapped, still_no_candidates, conflicts, errors
  FROM ct4.reconcile_leads_pipeline(days_back => 30, row_limit => 100);

-- Links made by the run: rule, score and the evidence's compared keys.
SELECT source_table, source_pk, person_key, match_rule, match_score,
       evidence->'compared' AS compared
  FROM canon.identity_links WHERE run_id > 0 ORDER BY source_table DESC, source_pk::text;
-- Unmatched evidence: one row per lead, with candidates or what is missing.
SELECT source_pk, reason_code, details
  FROM canon.identity_unmatched ORDER BY source_pk::bigint;
-- The second sign-up of one person (801, 802) ended on one person.
SELECT count(DISTINCT person_key) AS persons_of_801_802
  FROM canon.identity_links WHERE source_pk IN ('801', '802');
-- A person's keys are those of the rows linked to it, normalized as the
-- expression indexes on the raw tables have them (no copy in canon): the
-- person of lead 401 got D-NEW's plate with its driver.
SELECT il.source_table, il.source_pk,
       ct4.normalize_phone(coalesce(l.phone, d.phone)) AS phone,
       ct4.normalize_license(coalesce(l.license_number, d.license_number)) AS license,
       ct4.normalize_plate(coalesce(l.plate, d.plate)) AS plate,
       ct4.normalize_name(coalesce(l.full_name, d.full_name)) AS name
  FROM canon.identity_links il
  JOIN canon.identity_links x ON x.person_key = il.person_key AND x.source_pk = '401'
  LEFT JOIN raw.module_ct_cabinet_leads l
    ON il.source_table = 'module_ct_cabinet_leads' AND l.lead_id::text = il.source_pk
  LEFT JOIN raw.drivers d ON il.source_table = 'drivers' AND d.driver_id = il.source_pk
 ORDER BY 1, 2;
-- The run record (canon.ingestion_runs).
SELECT job_name, status, source_tables, stats - 'duration_ms' AS stats
  FROM canon.ingestion_runs ORDER BY run_id;

-- A second run with no new data links nothing and changes no row.
CREATE TEMP TABLE before AS
SELECT (SELECT md5(string_agg(l::text, ',' ORDER BY source_table, source_pk)) FROM canon.identity_links l) AS links,
       (SELECT md5(string_agg(u::text, ',' ORDER BY source_pk)) FROM canon.identity_unmatched u) AS unmatched,
       (SELECT count(*) FROM canon.persons) AS persons;
SELECT status, processed, newly_linked, newly_driver_mapped, still_no_candidates, conflicts, errors
  FROM ct4.reconcile_leads_pipeline(days_back => 30, row_limit => 100);
SELECT b.links = (SELECT md5(string_agg(l::text, ',' ORDER BY source_table, source_pk)) FROM canon.identity_links l) AS links_same,
       b.unmatched = (SELECT md5(string_agg(u::text, ',' ORDER BY source_pk)) FROM canon.identity_unmatched u) AS unmatched_same,
       b.persons = (SELECT count(*) FROM canon.persons) AS persons_same
  FROM before b;
