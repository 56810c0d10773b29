-- ct4.metrics() as rows (SPEC 11): one row per sample, parsed from the very
-- text Prometheus would read, so every reader of the rows (SQL users, the
-- postgres_exporter queries of contrib/postgres_exporter/ct4_queries.yaml)
-- gets the same names, labels and values as a scrape of ct4.metrics(),
-- whatever metrics() computes them from. `value` is the sample's float64, as
-- Prometheus parses it. SECURITY DEFINER like metrics() (a reader calls it;
-- the unescaping helper is an internal).

-- A label value of the exposition format, unescaped (\\ \" \n), in one pass
-- over its tokens, so that an escaped backslash before an n stays two
-- characters.
CREATE FUNCTION ct4._prom_unescape(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(string_agg(CASE WHEN t.m[2] IS NULL THEN t.m[1]
                                    WHEN t.m[2] = 'n' THEN E'\n'
                                    ELSE t.m[2] END, '' ORDER BY t.i), '')
      FROM regexp_matches(v, E'([^\\\\]+|\\\\(.))', 'g') WITH ORDINALITY t(m, i)
$$;

CREATE FUNCTION ct4.metric_samples(OUT metric text, OUT labels jsonb, OUT value double precision)
RETURNS SETOF record
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.m[1],
           coalesce((SELECT jsonb_object_agg(l.m[1], ct4._prom_unescape(l.m[2]))
                       FROM regexp_matches(coalesce(s.m[3], ''),
                                           E'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"', 'g') l(m)),
                    '{}'),
           s.m[4]::double precision
      FROM regexp_split_to_table(ct4.metrics(), E'\n') WITH ORDINALITY x(line, i)
     CROSS JOIN LATERAL regexp_match(x.line, E'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (\\S+)$') s(m)
     WHERE s.m IS NOT NULL
     ORDER BY x.i
$$;

INSERT INTO ct4.access_grants (tier, kind, object, privileges) VALUES
    ('owner', 'routine', 'ct4._prom_unescape(text)', 'EXECUTE'),
    ('reader', 'routine', 'ct4.metric_samples()', 'EXECUTE');
