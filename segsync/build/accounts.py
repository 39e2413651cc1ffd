"""The unified rows: accounts (base columns + YAML measures) and contacts, as SQL over the build's temp tables."""
from __future__ import annotations

import duckdb

from segsync.build.sqlrun import run_script
from segsync.measures import MeasureSet

# Columns other components rely on (docs/architecture.md); the build fails loudly if one goes missing.
REQUIRED_COLUMNS = (
    "account_id", "account_name", "domain", "salesforce_account_id", "hubspot_company_id", "stripe_customer_id",
    "industry", "country", "acquisition_channel", "signup_date", "plan_tier", "subscription_status", "is_trialing",
    "is_delinquent", "cancels_at", "billing_interval", "seats", "mrr_minor", "mrr", "currency", "mrr_reporting",
    "renewal_date", "usage_30d", "usage_prev_30d", "usage_change_pct", "last_activity_at",
    "days_since_last_activity", "key_features_used_30d", "beta_features_used_30d", "open_tickets", "avg_csat",
    "adoption_score", "health_score", "churn_flag", "contact_count",
)

CONTACTS = r"""
CREATE OR REPLACE TEMP TABLE contacts_all AS
WITH sf AS (
    SELECT 'salesforce' AS source, c.id AS record_id, c.email, c.first_name, c.last_name, c.id AS salesforce_contact_id,
           CAST(NULL AS VARCHAR) AS hubspot_contact_id, m.account_id, 1 AS source_rank, c.system_modstamp AS updated_at
    FROM raw_salesforce_contact c
    LEFT JOIN id_sf_survivor s ON s.id = c.account_id
    LEFT JOIN id_match m ON m.source = 'salesforce' AND m.status = 'matched' AND m.record_id = s.survivor
    WHERE NOT coalesce(c.is_deleted, false) AND c.master_record_id IS NULL
), hs AS (
    SELECT 'hubspot' AS source, c.id AS record_id, c.email, c.first_name, c.last_name,
           CAST(NULL AS VARCHAR) AS salesforce_contact_id, c.id AS hubspot_contact_id,
           arg_min(m.account_id, (NOT coalesce(a.is_primary, false), a.company_id)) AS account_id, 2 AS source_rank,
           c.updated_at
    FROM raw_hubspot_contact c
    LEFT JOIN raw_hubspot_company_contact a ON a.contact_id = c.id
    LEFT JOIN id_hs_survivor sv ON sv.id = a.company_id
    LEFT JOIN id_match m ON m.source = 'hubspot' AND m.status = 'matched'
          AND m.record_id = coalesce(sv.survivor, a.company_id)
    WHERE NOT coalesce(c.archived, false)
    GROUP BY ALL
)
SELECT *, lower(trim(email)) AS email_key,
       coalesce(regexp_full_match(trim(email), '[^@\s]+@[^@\s]+\.[^@\s]+'), false) AS valid_email
FROM (SELECT * FROM sf UNION ALL BY NAME SELECT * FROM hs);

CREATE OR REPLACE TEMP TABLE contacts_final AS
WITH ok AS (SELECT * FROM contacts_all WHERE valid_email AND account_id IS NOT NULL),
chosen AS (
    SELECT email_key,
           arg_min(account_id, (source_rank, -epoch_us(coalesce(updated_at, TIMESTAMPTZ '1900-01-01')), record_id))
               AS account_id
    FROM ok GROUP BY email_key
)
SELECT o.email_key AS contact_key, c.account_id,
       arg_min(trim(o.email), (o.source_rank, o.record_id)) AS email,
       arg_min(o.first_name, (o.source_rank, o.record_id)) AS first_name,
       arg_min(o.last_name, (o.source_rank, o.record_id)) AS last_name,
       min(o.salesforce_contact_id) FILTER (WHERE o.account_id = c.account_id) AS salesforce_contact_id,
       min(o.hubspot_contact_id) FILTER (WHERE o.account_id = c.account_id) AS hubspot_contact_id
FROM ok o JOIN chosen c USING (email_key)
GROUP BY o.email_key, c.account_id;
"""

ACCOUNTS_BASE = r"""
CREATE OR REPLACE TEMP MACRO segsync_country(x) AS CASE
    WHEN upper(trim(x)) = 'UK' THEN 'GB' WHEN regexp_full_match(upper(trim(x)), '[A-Z]{2}') THEN upper(trim(x)) END;

CREATE OR REPLACE TEMP TABLE accounts_base AS
SELECT p.account_id,
       coalesce(p.name, sf.name, hs.name) AS account_name,
       coalesce(segsync_domain(p.domain), segsync_domain(sf.website), segsync_domain(hs.domain)) AS domain,
       sfl.record_id AS salesforce_account_id,
       hsl.record_id AS hubspot_company_id,
       stl.record_id AS stripe_customer_id,
       coalesce(sf.industry, hs.industry, p.industry) AS industry,
       coalesce(segsync_country(sf.billing_country), segsync_country(hs.country), p.country) AS country,
       lower(coalesce(p.referral_source, sf.account_source)) AS acquisition_channel,
       p.signup_date,
       coalesce(m.plan_tier, p.plan_tier) AS plan_tier,
       m.subscription_status,
       coalesce(m.is_trialing, p.is_trial, false) AS is_trialing,
       coalesce(m.is_delinquent, false) AS is_delinquent,
       m.cancels_at,
       m.billing_interval,
       m.billing_interval_count,
       coalesce(m.seats, p.seats)::BIGINT AS seats,
       CASE WHEN coalesce(m.mixed_currency, false) THEN NULL ELSE coalesce(m.mrr_minor, 0) END::BIGINT AS mrr_minor,
       CASE WHEN coalesce(m.mixed_currency, false) THEN NULL
            ELSE round(coalesce(m.mrr_minor, 0) / pow(10, coalesce(e.exponent, 2)), coalesce(e.exponent, 2)) END
           ::DOUBLE AS mrr,
       m.currency,
       CASE WHEN coalesce(m.counting_subscriptions, 0) = 0 THEN 0.0 ELSE round(r.mrr_reporting, 2) END::DOUBLE
           AS mrr_reporting,
       CAST(m.renewal_at AS DATE) AS renewal_date,
       coalesce(m.counting_subscriptions, 0)::BIGINT AS active_subscriptions,
       coalesce(u.usage_30d, 0)::BIGINT AS usage_30d,
       coalesce(u.usage_prev_30d, 0)::BIGINT AS usage_prev_30d,
       CAST(u.last_active_day AS TIMESTAMPTZ) AS last_activity_at,
       coalesce(f.key_features_used_30d, 0)::BIGINT AS key_features_used_30d,
       coalesce(f.beta_features_used_30d, 0)::BIGINT AS beta_features_used_30d,
       coalesce(f.features_used_30d, 0)::BIGINT AS features_used_30d,
       coalesce(t.open_tickets, 0)::BIGINT AS open_tickets,
       round(t.avg_csat, 2)::DOUBLE AS avg_csat,
       coalesce(t.tickets_90d, 0)::BIGINT AS tickets_90d,
       coalesce(p.churn_flag, false) AS churn_flag,
       coalesce(ch.churn_events, 0)::BIGINT AS churn_events,
       ch.last_churn_date,
       sf.owner_id AS salesforce_owner_id,
       sf.number_of_employees AS employees,
       coalesce(cc.contact_count, 0)::BIGINT AS contact_count,
       $as_of_date::DATE AS as_of_date
FROM base_product_accounts p
LEFT JOIN id_links sfl ON sfl.source = 'salesforce' AND sfl.account_id = p.account_id
LEFT JOIN raw_salesforce_account sf ON sf.id = sfl.record_id
LEFT JOIN id_links hsl ON hsl.source = 'hubspot' AND hsl.account_id = p.account_id
LEFT JOIN raw_hubspot_company hs ON hs.id = hsl.record_id
LEFT JOIN id_links stl ON stl.source = 'stripe' AND stl.account_id = p.account_id
LEFT JOIN money_accounts m ON m.account_id = p.account_id
LEFT JOIN money_exponent e ON e.currency = m.currency
LEFT JOIN money_reporting r ON r.account_id = p.account_id
LEFT JOIN usage_windows u ON u.account_id = p.account_id
LEFT JOIN usage_features f ON f.account_id = p.account_id
LEFT JOIN ticket_stats t ON t.account_id = p.account_id
LEFT JOIN churn_stats ch ON ch.account_id = p.account_id
LEFT JOIN (SELECT account_id, count(*) AS contact_count FROM contacts_final GROUP BY account_id) cc
       ON cc.account_id = p.account_id;
"""


def accounts_select(measures: MeasureSet) -> str:
    """SELECT over accounts_base adding each measure in order (a measure may use earlier ones)."""
    layers = ["m0 AS (SELECT * FROM accounts_base)"]
    for index, measure in enumerate(measures.measures, start=1):
        layers.append(f"m{index} AS (SELECT *, {measure.select_sql()} FROM m{index - 1})")
    return f"WITH {', '.join(layers)} SELECT * FROM m{len(measures.measures)} ORDER BY account_id"


def build_rows(con: duckdb.DuckDBPyConnection, as_of) -> None:
    """Temp tables contacts_all, contacts_final, accounts_base; the final SELECT is accounts_select()."""
    run_script(con, CONTACTS)
    run_script(con, ACCOUNTS_BASE, {"as_of_date": as_of.date()})


def base_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("DESCRIBE accounts_base").fetchall()}
