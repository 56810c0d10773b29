-- SQL normalizers (SPEC 4.2): ct4.normalize_*, ct4.name_similarity and ct4.name_tokens_agree.
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
-- NULL in, NULL out (STRICT), but name_similarity: no name is similarity 0 (SPEC 4.2).
SELECT ct4.normalize_phone(NULL) IS NULL AS phone_null, ct4.normalize_name(NULL) IS NULL AS name_null,
       ct4.name_similarity(NULL, 'x') AS similarity_null, ct4.name_similarity('x', NULL) AS null_similarity,
       ct4.name_similarity(NULL, NULL) AS both_null, ct4.name_tokens_agree(NULL, 'x') IS NULL AS tokens_null;
-- Jaro-Winkler reference pairs of SPEC 4.2.
SELECT a, b, round(ct4.name_similarity(a, b)::numeric, 6) AS similarity
  FROM (VALUES ('martha', 'marhta'), ('dwayne', 'duane'), ('dixon', 'dicksonx'),
               ('william', 'williams'), ('jaz', 'jal'), ('a', 'ab'), ('abc', 'xyz')) v(a, b);
-- On normalized names: accents and token order do not matter; empty is 0.
SELECT a, b, round(ct4.name_similarity(a, b)::numeric, 6) AS similarity
  FROM (VALUES ('José Pérez', 'PEREZ JOSE'), ('José Pérez', 'Jose Peres'), ('Ñandú', 'nandu'),
               ('', 'abc'), ('😀', '😀'), ('Дмитрий', 'Дмитрии')) v(a, b);
-- The token rule of SPEC 4.2 (amended): every token of the name with fewer
-- tokens has its own counterpart (Jaro-Winkler >= 0.90, or an initial). The
-- job's name agrees when both columns hold: similarity >= 0.85 and tokens.
SELECT a, b, round(ct4.name_similarity(a, b)::numeric, 6) AS similarity,
       ct4.name_tokens_agree(a, b) AS tokens_agree
  FROM (VALUES ('Juan Perez Quispe', 'José Pérez Quispe'),   -- the brother: juan has no counterpart
               ('María Pérez Quispe', 'Jose Perez Quispe'),  -- the sister
               ('Lucas Rojas Soto', 'Luis Rojas Soto'),      -- the brother who is the driver
               ('Jose Perez', 'José Pérez Quispe'),          -- a missing token agrees
               ('Jsoe Perez Quispe', 'Jose Perez Quispe'),   -- a typo agrees
               ('QUISPE, Pérez José', 'jose perez quispe'),  -- order and accents do not matter
               ('J. Perez Quispe', 'Jose Perez Quispe'),     -- an initial pairs with its letter
               ('Jose Jose', 'Jose Perez'),                  -- each counterpart is used once
               ('Juan Quispe', 'Juan Carlos Quispe'),        -- tokens pair, the whole name does not
               ('', 'Jose'), ('😀', 'Jose')) v(a, b);
-- Hostile lengths cost bounded work: each normalized name is compared on its
-- first 200 bytes (as the job, which ignores longer names).
SELECT ct4.name_similarity(repeat('a', 400000), repeat('b', 400000)) AS long_distinct,
       ct4.name_similarity(repeat('a', 400000), repeat('a', 400000)) AS long_same,
       ct4.name_tokens_agree(repeat('ab ', 100000), repeat('ab ', 100000) || 'x') AS long_tokens;
-- Declared IMMUTABLE, PARALLEL SAFE and STRICT (name_similarity is not).
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
  FROM pg_proc p WHERE p.pronamespace = 'ct4'::regnamespace
   AND p.proname IN ('normalize_phone', 'normalize_license', 'normalize_plate', 'normalize_name',
                     'name_similarity', 'name_tokens_agree')
 ORDER BY 1;
