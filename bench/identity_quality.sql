-- Quality of the identity job's links against public.identity_truth
-- (source_table, source_pk, truth): one row of figures. Needs :'side'.
--   wrong_links     links whose row's true person differs from that of the
--                   row that made the person (its NEW_PERSON link)
--   paid_wrong      leads whose person's driver is someone else (a lead
--                   paid on another person's trips)
--   recall_pairs    pairs of rows of one true person that the job put on
--                   one person, over all such pairs
--   recall_driver   leads on the same person as their true driver, over the
--                   leads whose true person has a driver row
WITH l AS (
    SELECT il.source_table, il.person_key, il.match_rule, t.truth
      FROM canon.identity_links il
      JOIN public.identity_truth t USING (source_table, source_pk)),
founder AS (SELECT person_key, truth FROM l WHERE match_rule = 'NEW_PERSON'),
drv AS (SELECT person_key, truth FROM l WHERE source_table = 'drivers'),
true_pairs AS (SELECT sum(n * (n - 1) / 2) AS n
                 FROM (SELECT count(*) AS n FROM public.identity_truth GROUP BY truth) x),
found_pairs AS (SELECT sum(n * (n - 1) / 2) AS n
                  FROM (SELECT count(*) AS n FROM l GROUP BY person_key, truth) x),
leads_with_driver AS (
    SELECT count(*) AS n FROM public.identity_truth t
     WHERE t.source_table = 'module_ct_cabinet_leads'
       AND EXISTS (SELECT 1 FROM public.identity_truth d
                    WHERE d.source_table = 'drivers' AND d.truth = t.truth))
SELECT :'side' AS side,
       (SELECT count(*) FROM l) AS links,
       (SELECT count(*) FROM l JOIN founder f USING (person_key) WHERE l.truth <> f.truth) AS wrong_links,
       (SELECT count(*) FROM l JOIN drv d USING (person_key)
         WHERE l.source_table = 'module_ct_cabinet_leads' AND l.truth <> d.truth) AS paid_wrong,
       round((SELECT n FROM found_pairs) / nullif((SELECT n FROM true_pairs), 0), 4) AS recall_pairs,
       round((SELECT count(*) FROM l JOIN drv d USING (person_key)
               WHERE l.source_table = 'module_ct_cabinet_leads' AND l.truth = d.truth)::numeric
             / nullif((SELECT n FROM leads_with_driver), 0), 4) AS recall_driver,
       (SELECT count(*) FROM canon.identity_unmatched WHERE reason_code LIKE '%WEAK_MATCH') AS weak_matches;
