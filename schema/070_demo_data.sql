-- ct4.generate_demo_data(leads, seed, replace): realistic, deterministic demo
-- data in raw.* at any scale (docs/demo_data.md).
--
-- Determinism: every value is a function of (row number, seed, current_date)
-- through hashint8extended, never random(), so the rows do not depend on the
-- plan, parallelism or insertion order: the same arguments on the same day
-- give byte-identical tables. Lead dates are relative to current_date (the
-- last ~120 days) so that the daily jobs always find recent work.
--
-- Model: lead i belongs to a "person seed" p (p = i, or an earlier lead's
-- number for a second sign-up of the same person). A person's attributes
-- (name, phone, licence, plate, whether and how it drives) are functions of
-- p; each source row (lead or driver) writes them in its own messy format.
-- Persons with is_driver get a raw.drivers row 'drv_<p>'; n/20 more drivers
-- never signed up through the cabinet.
--
-- The helpers are single-expression SQL functions without SET, so that the
-- planner inlines them into the INSERT ... SELECT (no per-row call cost).
-- OFFSET 0 keeps a subquery's computed columns as plain values: without it
-- the planner pastes the whole hash expression into every use (and refuses
-- to inline a helper whose argument is such an expensive expression).

-- Uniform hash in [0, 1) of (n, k) under seed; k < 64 names the purpose.
CREATE FUNCTION ct4._demo_u(n bigint, k integer, seed integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.hashint8extended($1 * 64 + $2, $3) & 2147483647)::double precision / 2147483648.0
$$;

-- Hash in [0, m).
CREATE FUNCTION ct4._demo_h(n bigint, k integer, seed integer, m integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((pg_catalog.hashint8extended($1 * 64 + $2, $3) & 2147483647) % $4)::integer
$$;

-- Lead dates grow with the lead number over 120 days up to yesterday, +-1 day.
CREATE FUNCTION ct4._demo_date(i bigint, n bigint, seed integer) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT current_date - 120 + ((($1 - 1) * 118) / greatest($2, 1))::integer
           + ct4._demo_h($1, 1, $3, 3)
$$;

-- The person seed of lead i: 8 % of leads (not the first) are a second
-- sign-up of a person who signed up up to ~10 days (n/12 leads) earlier.
CREATE FUNCTION ct4._demo_person_of(i bigint, n bigint, seed integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN $1 > 1 AND ct4._demo_u($1, 2, $3) < 0.08
                THEN greatest(1, $1 - 1 - floor(ct4._demo_u($1, 3, $3) * greatest($2 / 12, 1))::bigint)
                ELSE $1 END
$$;

-- A person's identity. 1 % share the phone and family name of person p-1
-- (relatives: ambiguous look-alikes). Phones, licences and plates are random,
-- so chance collisions happen as in real data.
CREATE FUNCTION ct4._demo_person(p bigint, seed integer)
RETURNS TABLE(first_name text, last1 text, last2 text, phone9 text, license text, plate text,
              is_driver boolean, foreign_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['José','María','Jesús','Ángel','Rocío','Sofía','Iñigo','Martín','Lucía','Raúl',
                  'Verónica','Andrés','Nicolás','Inés','Joaquín','Mónica','Óscar','Ramón','Begoña','Héctor',
                  'Carlos','Luis','Ana','Juan','Pedro','Rosa','Miguel','Carmen','Jorge','Diana'])
               [1 + ct4._demo_h(p, 10, seed, 30)],
           (ARRAY['Pérez','Gómez','Núñez','Rodríguez','Fernández','López','Martínez','Sánchez','Ramírez','Torres',
                  'Flores','Rivera','Gutiérrez','Chávez','Quispe','Mamani','Huamán','Castañeda','Peña','Ibáñez',
                  'Muñoz','Díaz','Vásquez','Rojas','Mendoza','Cruz','Morales','Ortiz','Silva','Vargas'])
               [1 + ct4._demo_h(f.family, 11, seed, 30)],
           (ARRAY['Pérez','Gómez','Núñez','Rodríguez','Fernández','López','Martínez','Sánchez','Ramírez','Torres',
                  'Flores','Rivera','Gutiérrez','Chávez','Quispe','Mamani','Huamán','Castañeda','Peña','Ibáñez',
                  'Muñoz','Díaz','Vásquez','Rojas','Mendoza','Cruz','Morales','Ortiz','Silva','Vargas'])
               [1 + ct4._demo_h(p, 12, seed, 30)],
           '9' || lpad(ct4._demo_h(f.family, 13, seed, 100000000)::text, 8, '0'),
           chr(65 + ct4._demo_h(p, 14, seed, 26)) || lpad(ct4._demo_h(p, 15, seed, 100000000)::text, 8, '0'),
           chr(65 + ct4._demo_h(p, 16, seed, 26)) || chr(65 + ct4._demo_h(p, 17, seed, 26))
               || chr(65 + ct4._demo_h(p, 18, seed, 26)) || lpad(ct4._demo_h(p, 19, seed, 1000)::text, 3, '0'),
           ct4._demo_u(p, 20, seed) < 0.62,
           -- 0.5 % non-Latin or decorated names
           CASE WHEN ct4._demo_u(p, 21, seed) < 0.005
                THEN (ARRAY['Дмитрий Иванов','Ольга Смирнова','王 伟','Zoë Brontë','Łukasz Wójcik',
                            'Γιώργος Παπαδόπουλος','Ngọc Trần','Ana 😀 Flores'])[1 + ct4._demo_h(p, 22, seed, 8)]
           END
      FROM (SELECT CASE WHEN p > 1 AND ct4._demo_u(p, 23, seed) < 0.01 THEN p - 1 ELSE p END AS family) f
$$;

-- Name as one source row writes it: accents or not, upper/lower case, family
-- names first, hyphens and double spaces, a dropped letter (typo, 1 in 11).
CREATE FUNCTION ct4._demo_fmt_name(first text, last1 text, last2 text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $4 % 11
        WHEN 1 THEN upper(translate($2 || ' ' || $3 || ' ' || $1, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        WHEN 2 THEN lower(translate($1 || ' ' || $2, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        WHEN 3 THEN $1 || '  ' || $2 || '-' || $3
        WHEN 4 THEN upper($2) || ', ' || $1
        WHEN 5 THEN $1 || ' ' || overlay($2 placing '' from 2 for 1) || ' ' || $3
        WHEN 6 THEN upper(translate($2 || ' ' || $1, 'ÁÉÍÓÚáéíóúÑñÜü', 'AEIOUaeiouNnUu'))
        ELSE $1 || ' ' || $2 || ' ' || $3
    END
$$;

-- Phone as written: '+51 987 654 321', '987654321', '0051987654321',
-- '(51) 987-654-321', '51987654321'.
CREATE FUNCTION ct4._demo_fmt_phone(phone9 text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN '+51 ' || substr($1, 1, 3) || ' ' || substr($1, 4, 3) || ' ' || substr($1, 7, 3)
        WHEN 1 THEN $1
        WHEN 2 THEN '0051' || $1
        WHEN 3 THEN '(51) ' || substr($1, 1, 3) || '-' || substr($1, 4, 3) || '-' || substr($1, 7, 3)
        ELSE '51' || $1
    END
$$;

-- Licence / plate as written: separators, lower case, O for 0 and I for 1.
CREATE FUNCTION ct4._demo_fmt_license(lic text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN $1
        WHEN 1 THEN substr($1, 1, 1) || '-' || substr($1, 2, 4) || ' ' || substr($1, 6)
        WHEN 2 THEN lower($1)
        ELSE translate($1, '01', 'OI')
    END
$$;

CREATE FUNCTION ct4._demo_fmt_plate(plate text, style integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $2
        WHEN 0 THEN substr($1, 1, 3) || '-' || substr($1, 4)
        WHEN 1 THEN lower(substr($1, 1, 3) || '-' || substr($1, 4))
        WHEN 2 THEN substr($1, 1, 3) || ' ' || substr($1, 4)
        ELSE translate($1, '01', 'OI')
    END
$$;

-- A timestamp on day d at a hashed time of day (UTC).
CREATE FUNCTION ct4._demo_ts(d date, n bigint, k integer, seed integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ($1 + make_interval(secs => ct4._demo_h($2, $3, $4, 86400)))::timestamp AT TIME ZONE 'UTC'
$$;

CREATE FUNCTION ct4.generate_demo_data(leads integer, seed integer DEFAULT 42,
                                       replace boolean DEFAULT false)
RETURNS TABLE(lead_rows bigint, driver_rows bigint, trip_rows bigint, payment_rows bigint,
              first_lead_date date, last_lead_date date, duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n      constant bigint := generate_demo_data.leads;
    s      constant integer := generate_demo_data.seed;
    t0     constant timestamptz := clock_timestamp();
    wdays  integer;
BEGIN
    IF n IS NULL OR n < 0 OR n > 100000000 THEN
        RAISE EXCEPTION 'leads must be between 0 and 100000000 (got %)', coalesce(n::text, 'NULL')
            USING ERRCODE = '22023';
    ELSIF s IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = '22023';
    ELSIF generate_demo_data.replace IS NULL THEN
        RAISE EXCEPTION 'replace must not be NULL' USING ERRCODE = '22023';
    END IF;

    IF generate_demo_data.replace THEN
        TRUNCATE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments;
        IF EXISTS (SELECT FROM canon.identity_links) OR EXISTS (SELECT FROM ops.cabinet_claims_14d) THEN
            RAISE NOTICE 'raw.* replaced; canon.* and ops.cabinet_claims_14d still hold rows derived from the old data'
                USING HINT = 'TRUNCATE canon.persons, canon.identity_links, canon.identity_unmatched, ops.cabinet_claims_14d RESTART IDENTITY CASCADE to start over.';
        END IF;
    ELSIF EXISTS (SELECT FROM raw.module_ct_cabinet_leads) OR EXISTS (SELECT FROM raw.drivers)
       OR EXISTS (SELECT FROM raw.summary_daily) OR EXISTS (SELECT FROM raw.claim_payments) THEN
        RAISE EXCEPTION 'raw tables are not empty: demo data is generated into empty raw.* tables only'
            USING ERRCODE = '55000',
                  HINT = 'Call ct4.generate_demo_data(leads, seed, replace => true) to TRUNCATE raw.* first.';
    END IF;
    wdays := coalesce((SELECT st.value::integer FROM ct4.settings st WHERE st.name = 'window_days'), 14);

    -- Leads. Each writes its person's data in its own format, with gaps:
    -- 1 % NULL date, 2 % no name, 5 % no phone, 2 % an 8-digit phone,
    -- 35 % no licence, 50 % no plate, 0.5 % junk rows ('Test', '123').
    INSERT INTO raw.module_ct_cabinet_leads
        (lead_id, lead_date, full_name, phone, license_number, plate, created_at, updated_at)
    SELECT g.i,
           CASE WHEN ct4._demo_u(g.i, 30, s) >= 0.01 THEN g.d END,
           CASE WHEN junk THEN 'Test'
                WHEN ct4._demo_u(g.i, 31, s) < 0.02 THEN NULL
                WHEN per.foreign_name IS NOT NULL THEN per.foreign_name
                ELSE ct4._demo_fmt_name(per.first_name, per.last1, per.last2, ct4._demo_h(g.i, 32, s, 11)) END,
           CASE WHEN junk THEN '123'
                WHEN ct4._demo_u(g.i, 33, s) < 0.05 THEN NULL
                WHEN ct4._demo_u(g.i, 33, s) < 0.07 THEN substr(per.phone9, 2)
                ELSE ct4._demo_fmt_phone(per.phone9, ct4._demo_h(g.i, 34, s, 5)) END,
           CASE WHEN junk OR ct4._demo_u(g.i, 35, s) < 0.35 THEN NULL
                ELSE ct4._demo_fmt_license(per.license, ct4._demo_h(g.i, 36, s, 4)) END,
           CASE WHEN junk OR ct4._demo_u(g.i, 37, s) < 0.50 THEN NULL
                ELSE ct4._demo_fmt_plate(per.plate, ct4._demo_h(g.i, 38, s, 4)) END,
           ct4._demo_ts(g.d, g.i, 39, s), ct4._demo_ts(g.d, g.i, 39, s)
      FROM (SELECT i, ct4._demo_date(i, n, s) AS d, ct4._demo_person_of(i, n, s) AS p,
                   ct4._demo_u(i, 40, s) < 0.005 AS junk
              FROM generate_series(1::bigint, n) AS i OFFSET 0) g
      CROSS JOIN LATERAL (SELECT * FROM ct4._demo_person(g.p, s) OFFSET 0) per;

    -- Drivers: persons of the leads that drive, plus n/20 who never signed up
    -- (person seeds above n). first_date = the person's first sign-up day.
    CREATE TEMP TABLE _demo_drivers ON COMMIT DROP AS
    SELECT q.p, 'drv_' || lpad(q.p::text, 9, '0') AS driver_id,
           ct4._demo_date((q.p - 1) % greatest(n, 1) + 1, n, s) AS first_date
      FROM (SELECT DISTINCT ct4._demo_person_of(i, n, s) AS p FROM generate_series(1::bigint, n) AS i
            UNION ALL
            SELECT p FROM generate_series(n + 1, n + n / 20) AS p) q
      CROSS JOIN LATERAL ct4._demo_person(q.p, s) per
     WHERE per.is_driver OR q.p > n
     ORDER BY q.p;  -- insertion in key order keeps the B-tree inserts cheap

    INSERT INTO raw.drivers (driver_id, full_name, phone, license_number, plate, hired_at, created_at, updated_at)
    SELECT d.driver_id,
           CASE WHEN ct4._demo_u(d.p, 41, s) < 0.01 THEN NULL
                WHEN per.foreign_name IS NOT NULL THEN per.foreign_name
                ELSE ct4._demo_fmt_name(per.first_name, per.last1, per.last2, ct4._demo_h(d.p, 42, s, 11)) END,
           CASE WHEN ct4._demo_u(d.p, 43, s) < 0.03 THEN NULL
                ELSE ct4._demo_fmt_phone(per.phone9, ct4._demo_h(d.p, 44, s, 5)) END,
           CASE WHEN ct4._demo_u(d.p, 45, s) < 0.02 THEN NULL
                ELSE ct4._demo_fmt_license(per.license, ct4._demo_h(d.p, 46, s, 4)) END,
           CASE WHEN ct4._demo_u(d.p, 47, s) < 0.10 THEN NULL
                ELSE ct4._demo_fmt_plate(per.plate, ct4._demo_h(d.p, 48, s, 4)) END,
           CASE WHEN ct4._demo_u(d.p, 49, s) >= 0.03 THEN d.first_date + ct4._demo_h(d.p, 50, s, 5) END,
           ct4._demo_ts(d.first_date, d.p, 51, s), ct4._demo_ts(d.first_date, d.p, 51, s)
      FROM _demo_drivers d
      CROSS JOIN LATERAL (SELECT * FROM ct4._demo_person(d.p, s) OFFSET 0) per;

    -- Trips, by driver profile (offsets from the person's first sign-up day):
    -- 15 % never drive; 2 % drive first on day 13 (last day of the window),
    -- 2 % first on day 14 (first day outside); 6 % start after day 15;
    -- the rest start on day 0..4 and drive for 1..120 days, on a share of
    -- 30..90 % of the days, 1..12 trips a day. No trips today or later.
    INSERT INTO raw.summary_daily (driver_id, trip_date, count_orders_completed)
    SELECT d.driver_id, d.first_date + pr.start_day + k, 1 + ct4._demo_h(d.p * 256 + k, 52, s, pr.max_per_day)
      FROM _demo_drivers d
      CROSS JOIN LATERAL (
          SELECT CASE WHEN u < 0.15 THEN 0
                      WHEN u < 0.19 THEN 1 + ct4._demo_h(d.p, 53, s, 20)
                      ELSE 1 + ct4._demo_h(d.p, 53, s, 120) END AS days,
                 CASE WHEN u < 0.17 THEN 13
                      WHEN u < 0.19 THEN wdays
                      WHEN u < 0.25 THEN 15 + ct4._demo_h(d.p, 54, s, 30)
                      ELSE ct4._demo_h(d.p, 54, s, 5) END AS start_day,
                 CASE WHEN u < 0.19 THEN 1.0 ELSE 0.3 + 0.6 * ct4._demo_u(d.p, 55, s) END AS share,
                 1 + ct4._demo_h(d.p, 56, s, 12) AS max_per_day
            FROM (SELECT ct4._demo_u(d.p, 57, s) AS u OFFSET 0) x
          OFFSET 0
      ) pr
      CROSS JOIN LATERAL generate_series(0, pr.days - 1) AS k
     WHERE (k = 0 OR ct4._demo_u(d.p * 256 + k, 58, s) < pr.share)
       AND d.first_date + pr.start_day + k < current_date;

    -- Payments for about half of what would be claims: the person's first
    -- lead, when its own driver reached the milestone in the window and the
    -- window closed 1..30 days ago; 3 % are partial payments.
    INSERT INTO raw.claim_payments (payment_id, driver_id, milestone_value, lead_date, amount, paid_at)
    SELECT w.lead_id * 100 + m.milestone_value, w.driver_id, m.milestone_value, w.lead_date,
           CASE WHEN ct4._demo_u(w.lead_id * 100 + m.milestone_value, 59, s) < 0.03
                THEN round(m.amount / 2, 2) ELSE m.amount END,
           ct4._demo_ts(w.lead_date + wdays + ct4._demo_h(w.lead_id, 60, s, 30), w.lead_id, 61, s)
      FROM (SELECT l.lead_id, l.lead_date, d.driver_id, sum(t.count_orders_completed) AS trips
              FROM raw.module_ct_cabinet_leads l
              JOIN raw.drivers d ON d.driver_id = 'drv_' || lpad(l.lead_id::text, 9, '0')
              JOIN raw.summary_daily t
                ON t.driver_id = d.driver_id AND t.trip_date >= l.lead_date
               AND t.trip_date < l.lead_date + wdays
             WHERE ct4._demo_u(l.lead_id, 62, s) < 0.5
               AND ct4._demo_person_of(l.lead_id, n, s) = l.lead_id
             GROUP BY l.lead_id, l.lead_date, d.driver_id) w
      JOIN ct4.milestones m ON w.trips >= m.trips_required
     WHERE w.lead_date + wdays + ct4._demo_h(w.lead_id, 60, s, 30) < current_date
     ORDER BY 1;

    DROP TABLE _demo_drivers;
    ANALYZE raw.module_ct_cabinet_leads, raw.drivers, raw.summary_daily, raw.claim_payments;

    RETURN QUERY
    SELECT (SELECT count(*) FROM raw.module_ct_cabinet_leads),
           (SELECT count(*) FROM raw.drivers),
           (SELECT count(*) FROM raw.summary_daily),
           (SELECT count(*) FROM raw.claim_payments),
           (SELECT min(l.lead_date) FROM raw.module_ct_cabinet_leads l),
           (SELECT max(l.lead_date) FROM raw.module_ct_cabinet_leads l),
           round(extract(epoch FROM clock_timestamp() - t0) * 1000)::double precision;
END
$fn$;
COMMENT ON FUNCTION ct4.generate_demo_data(integer, integer, boolean) IS
    'Fills empty raw.* tables (or replaces them when replace) with deterministic, messy demo data for `leads` sign-ups';
-- The helpers are inlined into generate_demo_data, whose search_path is
-- pinned; nobody is granted them.
INSERT INTO ct4.access_grants (tier, kind, object, privileges)
SELECT 'owner', 'routine', f, 'EXECUTE' FROM unnest(ARRAY[
    'ct4._demo_u(bigint, integer, integer)', 'ct4._demo_h(bigint, integer, integer, integer)',
    'ct4._demo_date(bigint, bigint, integer)', 'ct4._demo_person_of(bigint, bigint, integer)',
    'ct4._demo_person(bigint, integer)', 'ct4._demo_fmt_name(text, text, text, integer)',
    'ct4._demo_fmt_phone(text, integer)', 'ct4._demo_fmt_license(text, integer)',
    'ct4._demo_fmt_plate(text, integer)', 'ct4._demo_ts(date, bigint, integer, integer)',
    'ct4.generate_demo_data(integer, integer, boolean)']) f;
