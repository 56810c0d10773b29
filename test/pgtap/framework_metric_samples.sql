-- ct4.metric_samples(): the rows of ct4.metrics()' own text (SPEC 11), what
-- the postgres_exporter queries read (contrib/postgres_exporter/).
BEGIN;
SELECT plan(6);

-- Runs of every final kind, so that every family has samples. Recorded
-- RUNNING first and then finished, as runs are (the counters count a run
-- when it leaves RUNNING).
INSERT INTO ct4.job_runs (job_name, status, started_at, stats)
SELECT j, 'RUNNING', now() - interval '1 hour', jsonb_build_object('final', s)
  FROM unnest(ARRAY['reconcile_leads_pipeline', 'reconcile_claims_14d']) j,
       unnest(ARRAY['SUCCESS', 'FAILED', 'SKIPPED_LOCKED']) s;
UPDATE ct4.job_runs SET status = stats->>'final', finished_at = now() - interval '59 minutes', stats = '{}'
 WHERE status = 'RUNNING';

-- One statement: both read the same rows and the same now().
CREATE TEMP TABLE side AS
WITH l AS (SELECT t.line, row_number() OVER (ORDER BY t.i) AS n
             FROM regexp_split_to_table(ct4.metrics(), E'\n') WITH ORDINALITY t(line, i)
            WHERE t.line <> '' AND t.line !~ '^#'),
     s AS (SELECT * FROM ct4.metric_samples() WITH ORDINALITY x(metric, labels, value, n))
SELECT l.line, s.metric, s.labels, s.value FROM l FULL JOIN s USING (n);

SELECT is((SELECT count(*) FROM side WHERE line IS NULL OR metric IS NULL), 0::bigint,
          'one row per sample line of ct4.metrics(), in its order');
SELECT is((SELECT count(*) FROM side WHERE line NOT LIKE metric || '{%' AND line NOT LIKE metric || ' %'), 0::bigint,
          'each row names its line''s metric');
SELECT is((SELECT count(*) FROM side WHERE value IS DISTINCT FROM split_part(line, ' ', -1)::float8), 0::bigint,
          'each row''s value is its line''s number');
-- The labels, rendered back in the line's order, are the line's labels.
SELECT is((SELECT count(*) FROM side s
            WHERE s.line <> s.metric
                  || coalesce('{' || (SELECT string_agg(k.key || '=' || ct4._prom_label(k.value), ','
                                                        ORDER BY strpos(s.line, k.key || '="'))
                                        FROM jsonb_each_text(s.labels) k) || '}', '')
                  || ' ' || split_part(s.line, ' ', -1)),
          0::bigint, 'each row''s labels are its line''s labels');
SELECT ok((SELECT count(DISTINCT metric) FROM side) >= 12
          AND EXISTS (SELECT 1 FROM side WHERE metric = 'ct4_job_runs_total'
                         AND labels = '{"job": "reconcile_claims_14d", "status": "FAILED"}' AND value = 1),
          'every family is there, labels as jsonb');
-- Escapes of the exposition format come back as they were (\\ before n stays).
SELECT is(ct4._prom_unescape(btrim(ct4._prom_label(E'a\\nb"c\nd\\'), '"')), E'a\\nb"c\nd\\',
          'label escapes round-trip');

SELECT * FROM finish();
ROLLBACK;
