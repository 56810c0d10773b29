-- Relatives who share a phone, a car or a surname are not one person (SPEC
-- 4.2 amended, issue 13): the name agrees only when every token of the name
-- with fewer tokens has its own counterpart in the other; a conflicting name
-- scores nothing and is never linked on phone and plate alone; the same in
-- the driver step; the outcome codes stay those of SPEC 4.1.
BEGIN;
SELECT plan(22);
SET LOCAL client_min_messages = warning;

-- José (phone 912 121 212, license Q90909090, car FAM-101) and his driver row.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate) VALUES
    (1, current_date - 5, 'José Pérez Quispe', '+51 912 121 212', 'Q-9090 9090', 'FAM-101'),
    (10, current_date - 5, 'Luis Rojas Soto', '933 303 303', NULL, NULL),
    (20, current_date - 5, 'Carmen Vidal Rios', '955 000 555', 'Q55550000', NULL);
INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate) VALUES
    ('D-JOSE', 'Jose Perez Quispe', '912121212', 'Q90909090', 'fam101'),
    -- Luis's brother drives with the family phone.
    ('D-LUCAS', 'Lucas Rojas Soto', '933303303', 'L-3131 3131', NULL);
SELECT results_eq('SELECT newly_linked, newly_driver_mapped, conflicts FROM ct4.reconcile_leads_pipeline()',
                  $$VALUES (3, 1, 1)$$, 'José, Luis and Carmen make their persons; José gets his driver, Luis not');
SELECT is((SELECT reason_code FROM canon.identity_unmatched WHERE source_pk = '10'), 'DRIVER_WEAK_MATCH',
          'the brother who drives is not Luis''s driver (old rule: PHONE+NAME, 3, linked)');
SELECT is((SELECT details->'candidates'->0->'name_conflict' FROM canon.identity_unmatched WHERE source_pk = '10'),
          '{"tokens": ["lucas"], "against": ["luis", "rojas", "soto"]}'::jsonb,
          'its details name the token without counterpart and the other name''s tokens');
SELECT is((SELECT (details->'candidates'->0->>'score')::int FROM canon.identity_unmatched WHERE source_pk = '10'),
          2, 'the driver keeps its score: the name scores nothing');

-- The family signs up with José's phone and car.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate) VALUES
    (2, current_date, 'Juan Perez Quispe', '912121212', NULL, NULL),           -- brother, phone
    (3, current_date, 'María Pérez Quispe', '912121212', NULL, 'fam 101'),     -- sister, phone + car
    (4, current_date, 'Jose Perez', '0051912121212', NULL, NULL),              -- José, a token missing
    (5, current_date, 'Quispe Jsoe Perez', '912121212', NULL, 'FAM101'),       -- José, a typo
    (6, current_date, 'Jose Perez Quispe', NULL, 'Q90909090', 'FAM101');       -- José, his license
SELECT results_eq('SELECT processed, newly_linked, conflicts FROM ct4.reconcile_leads_pipeline()',
                  $$VALUES (5, 3, 2)$$, 'José''s three sign-ups link; his brother and sister are conflicts');
SELECT results_eq($$SELECT source_pk, match_rule FROM canon.identity_links
                     WHERE source_table = 'module_ct_cabinet_leads' AND source_pk IN ('4', '5', '6') ORDER BY 1$$,
                  $$VALUES ('4', 'PHONE+NAME'), ('5', 'PHONE+PLATE+NAME'), ('6', 'LICENSE+PLATE+NAME')$$,
                  'a missing token and a typo still agree');
SELECT is((SELECT count(DISTINCT person_key) FROM canon.identity_links
            WHERE source_pk IN ('1', '4', '5', '6', 'D-JOSE')), 1::bigint, 'on José''s person');
SELECT results_eq($$SELECT source_pk, reason_code FROM canon.identity_unmatched WHERE source_pk IN ('2', '3') ORDER BY 1$$,
                  $$VALUES ('2', 'WEAK_MATCH'), ('3', 'WEAK_MATCH')$$,
                  'brother and sister: WEAK_MATCH, for review (old rule: both linked to José)');
SELECT is((SELECT count(*) FROM canon.identity_links WHERE source_pk IN ('2', '3')), 0::bigint,
          'no link and no new person for them');
SELECT is((SELECT details->'candidates'->0->'name_conflict'->'tokens' FROM canon.identity_unmatched
            WHERE source_pk = '2'), '["juan"]'::jsonb, 'the brother''s token without counterpart');
SELECT results_eq($$SELECT (c->>'score')::int, c->>'rule', (c->>'name_similarity')::numeric > 0.85
                      FROM canon.identity_unmatched u, jsonb_array_elements(u.details->'candidates') c
                     WHERE u.source_pk = '2'$$,
                  $$VALUES (2, 'PHONE', true)$$, 'his whole name is 0.851 alike, yet the name scores nothing');
SELECT results_eq($$SELECT (c->>'score')::int, c->>'rule', c->'name_conflict'->'tokens'
                      FROM canon.identity_unmatched u, jsonb_array_elements(u.details->'candidates') c
                     WHERE u.source_pk = '3'$$,
                  $$VALUES (3, 'PHONE+PLATE', '["maria"]'::jsonb)$$,
                  'the sister reaches the threshold on phone and plate, but a conflicting name is never linked on them');
SELECT is((SELECT evidence->'compared'->'name'->'name_pairs' FROM canon.identity_links WHERE source_pk = '5'),
          '[["jsoe", "jose", 0.925], ["perez", "perez", 1], ["quispe", "quispe", 1]]'::jsonb,
          'a link''s evidence shows the token pairing (the shorter name''s tokens, their counterparts)');

-- Only an equal license, a personal document, outweighs a name conflict.
INSERT INTO raw.module_ct_cabinet_leads (lead_id, lead_date, full_name, phone, license_number, plate) VALUES
    (21, current_date, 'Rosa Vidal Rios', NULL, 'Q-5555 0000', NULL);
SELECT results_eq('SELECT newly_linked, conflicts FROM ct4.reconcile_leads_pipeline()', $$VALUES (1, 0)$$,
                  'a name conflict with an equal license is linked');
SELECT results_eq($$SELECT match_rule, evidence->'compared'->'name'->'name_conflict'->'tokens'
                      FROM canon.identity_links WHERE source_pk = '21'$$,
                  $$VALUES ('LICENSE', '["rosa"]'::jsonb)$$, 'its evidence keeps the conflict');

-- The operator sees the rule at work in psql.
SELECT results_eq($$SELECT ct4.name_tokens_agree('Juan Perez Quispe', 'José Pérez Quispe'),
                           ct4.name_tokens_agree('Jose Perez', 'José Pérez Quispe'),
                           ct4.name_tokens_agree('Quispe Jsoe', 'José Pérez Quispe'),  -- tokens only: the whole name differs
                           ct4.name_tokens_agree('Jose Jose', 'Jose Perez')$$,
                  $$VALUES (false, true, true, false)$$, 'ct4.name_tokens_agree');

-- The threshold is a setting: at 0.80 "lucas" and "luis" (0.827) are
-- counterparts, and the next run gives Luis the driver.
UPDATE ct4.settings SET value = '0.80' WHERE name = 'name_token_similarity_min';
SELECT results_eq('SELECT newly_driver_mapped FROM ct4.reconcile_leads_pipeline()', $$VALUES (1)$$,
                  'name_token_similarity_min is read by the job');
SELECT is((SELECT match_rule FROM canon.identity_links WHERE source_pk = 'D-LUCAS'), 'PHONE+NAME',
          'D-LUCAS linked at 0.80');

-- At 0 every token pairs: the old rule (whole-name similarity only).
UPDATE ct4.settings SET value = '0' WHERE name = 'name_token_similarity_min';
SELECT results_eq('SELECT newly_linked FROM ct4.reconcile_leads_pipeline()', $$VALUES (2)$$,
                  'at 0, the old rule: brother and sister link to José');
SELECT results_eq($$SELECT source_pk, match_rule FROM canon.identity_links WHERE source_pk IN ('2', '3') ORDER BY 1$$,
                  $$VALUES ('2', 'PHONE+NAME'), ('3', 'PHONE+PLATE')$$, 'as under the old rule');

-- A bad value is refused when written (SPEC 6: the similarities 0..1).
SELECT throws_ok($$UPDATE ct4.settings SET value = '1.5' WHERE name = 'name_token_similarity_min'$$,
                 '22023', NULL, 'name_token_similarity_min out of 0..1 is refused');
SELECT throws_ok($$UPDATE ct4.settings SET value = 'high' WHERE name = 'name_token_similarity_min'$$,
                 '22023', NULL, 'name_token_similarity_min not a number is refused');

SELECT * FROM finish();
ROLLBACK;
