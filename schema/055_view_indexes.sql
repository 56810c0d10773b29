-- Indexes for the funnel views (schema/050_ops_views.sql).
-- Identity links store a lead's key as text (source_pk = lead_id::text), so a
-- look-up from a link to its lead (e.g. the views filtered by driver_id or
-- person_key) needs the lead's key as text too.
CREATE INDEX module_ct_cabinet_leads_lead_id_text_idx
    ON raw.module_ct_cabinet_leads ((lead_id::text));
