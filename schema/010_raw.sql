-- Inputs the jobs read (SPEC 2.1). Written by the user's ingestion.
CREATE TABLE raw.module_ct_cabinet_leads (
    lead_id        bigint PRIMARY KEY,
    lead_date      date,            -- NULL in bad data: reported by the jobs, never claimed
    full_name      text,
    phone          text,
    license_number text,
    plate          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX module_ct_cabinet_leads_lead_date_idx
    ON raw.module_ct_cabinet_leads (lead_date, lead_id);

CREATE TABLE raw.drivers (
    driver_id      text PRIMARY KEY,
    full_name      text,
    phone          text,
    license_number text,
    plate          text,
    hired_at       date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.summary_daily (
    driver_id              text    NOT NULL,
    trip_date              date    NOT NULL,
    count_orders_completed integer NOT NULL CHECK (count_orders_completed >= 0),
    PRIMARY KEY (driver_id, trip_date)
);

CREATE TABLE raw.claim_payments (
    payment_id      bigint PRIMARY KEY,
    driver_id       text          NOT NULL,
    milestone_value integer       NOT NULL,
    lead_date       date          NOT NULL,
    amount          numeric(12,2) NOT NULL,
    paid_at         timestamptz   NOT NULL
);
CREATE INDEX claim_payments_claim_idx
    ON raw.claim_payments (driver_id, milestone_value, lead_date);

SELECT pg_catalog.pg_extension_config_dump('raw.module_ct_cabinet_leads', '');
SELECT pg_catalog.pg_extension_config_dump('raw.drivers', '');
SELECT pg_catalog.pg_extension_config_dump('raw.summary_daily', '');
SELECT pg_catalog.pg_extension_config_dump('raw.claim_payments', '');
