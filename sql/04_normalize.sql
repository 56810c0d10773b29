-- SQL normalizers (SPEC 4.2): ct4.normalize_* and ct4.name_similarity.
-- Phones: digits kept, leading 00 dropped, 9 digits get 51, 11..15 digits.
SELECT input, ct4.normalize_phone(input) AS phone
  FROM (VALUES ('+51 987 654 321'), ('987654321'), ('0051987654321'), ('(51) 987-654-321'),
               ('51987654321'), ('98765432'), ('9876543210'), ('1234567890123456'),
               ('+1 (415) 555-2671'), ('00 44 20 7946 0958'), (''), ('--- () +'), ('tel: none'),
               ('９８７６５４３２１'), ('0098765432')) v(input);
-- Licences and plates: A-Z0-9 upper-case, O read as 0, I as 1, at least 5.
SELECT input, ct4.normalize_license(input) AS license, ct4.normalize_plate(input) AS plate
  FROM (VALUES ('Q-1234 5678'), ('q12345678'), ('QI2345O78'), ('abc-123'), ('AB-12'), ('ab12'),
               (''), (' - / '), ('ÁBC-123'), ('oil-010')) v(input);
-- Names: accents folded, lower case, tokens sorted; non-Latin letters kept.
SELECT input, ct4.normalize_name(input) AS name
  FROM (VALUES ('José Pérez'), ('PEREZ JOSE'), ('  María-José   NÚÑEZ '), ('Zoë Brontë'),
               ('Łukasz Wójcik'), ('Дмитрий Иванов'), ('王 伟'), ('Ana 😀 Flores'), ('😀'),
               (''), ('  -- 123 '), ('O''Brien'), ('Jose' || chr(769) || ' Perez')) v(input);
-- NULL in, NULL out (STRICT).
SELECT ct4.normalize_phone(NULL) IS NULL AS phone_null, ct4.normalize_name(NULL) IS NULL AS name_null,
       ct4.name_similarity(NULL, 'x') IS NULL AS similarity_null;
-- Jaro-Winkler reference pairs of SPEC 4.2.
SELECT a, b, round(ct4.name_similarity(a, b)::numeric, 6) AS similarity
  FROM (VALUES ('martha', 'marhta'), ('dwayne', 'duane'), ('dixon', 'dicksonx'),
               ('william', 'williams'), ('jaz', 'jal'), ('a', 'ab'), ('abc', 'xyz')) v(a, b);
-- On normalized names: accents and token order do not matter; empty is 0.
SELECT a, b, round(ct4.name_similarity(a, b)::numeric, 6) AS similarity
  FROM (VALUES ('José Pérez', 'PEREZ JOSE'), ('José Pérez', 'Jose Peres'), ('Ñandú', 'nandu'),
               ('', 'abc'), ('😀', '😀'), ('Дмитрий', 'Дмитрии')) v(a, b);
-- Declared IMMUTABLE, PARALLEL SAFE and STRICT.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
  FROM pg_proc p WHERE p.pronamespace = 'ct4'::regnamespace
   AND p.proname IN ('normalize_phone', 'normalize_license', 'normalize_plate', 'normalize_name', 'name_similarity')
 ORDER BY 1;
