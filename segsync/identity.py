"""Identity: which Salesforce accounts, HubSpot companies and Stripe customers are which product account."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from segsync.sfid import duckdb_macros

DEFAULT_FREEMAIL = ("gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com",
                    "aol.com", "proton.me", "protonmail.com", "gmx.de", "mail.com")

# Normalised domain: lowercase, no scheme, no user@, no www., no path/query/port, no trailing dot.
MACROS = r"""
CREATE OR REPLACE TEMP MACRO segsync_domain(x) AS nullif(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(lower(trim(x)), '^[a-z][a-z0-9+.-]*://', ''), '^[^/@]*@', ''),
    '^www[0-9]*\.', ''), '[/?#:].*$', ''), '\.+$', ''), '');
CREATE OR REPLACE TEMP MACRO segsync_email_domain(e) AS
    CASE WHEN regexp_full_match(trim(e), '[^@\s]+@[^@\s]+\.[^@\s]+') THEN segsync_domain(split_part(trim(e), '@', 2)) END;
CREATE OR REPLACE TEMP MACRO segsync_sfid18(x) AS CASE
    WHEN regexp_full_match(trim(x), '[0-9A-Za-z]{15}') THEN trim(x) || sfid_suffix(trim(x))
    WHEN regexp_full_match(trim(x), '[0-9A-Za-z]{15}[A-Za-z0-5]{3}')
         AND upper(substr(trim(x), 16, 3)) = sfid_suffix(substr(trim(x), 1, 15))
      THEN substr(trim(x), 1, 15) || sfid_suffix(substr(trim(x), 1, 15))
    END;
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Domain and Salesforce-id helpers (the id checksum is segsync.sfid's SQL twin)."""
    con.execute(duckdb_macros().replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO"))
    con.execute(MACROS)


def load_freemail(con: duckdb.DuckDBPyConnection, identity: Mapping[str, Any]) -> None:
    domains = identity.get("freemail_domains") or list(DEFAULT_FREEMAIL)
    con.execute("CREATE OR REPLACE TEMP TABLE id_freemail (domain VARCHAR)")
    con.executemany("INSERT INTO id_freemail SELECT segsync_domain(?)", [[d] for d in domains])


# Each candidate query yields (source, record_id, rank, rule, account_id, evidence) for live records.
CANDIDATES = r"""
CREATE OR REPLACE TEMP TABLE id_sf_survivor AS
WITH RECURSIVE hops(id, survivor, depth) AS (
    SELECT id, id, 0 FROM raw_salesforce_account
    UNION ALL
    SELECT h.id, a.master_record_id, h.depth + 1 FROM hops h JOIN raw_salesforce_account a ON a.id = h.survivor
    WHERE a.master_record_id IS NOT NULL AND a.master_record_id <> a.id AND h.depth < 10
)
SELECT id, arg_max(survivor, depth) AS survivor FROM hops GROUP BY id;

-- HubSpot: a merged-away company id -> the surviving company (hs_merged_object_ids on the survivor)
CREATE OR REPLACE TEMP TABLE id_hs_survivor AS
SELECT merged_id AS id, min(id) AS survivor
FROM (SELECT id, unnest(merged_object_ids) AS merged_id FROM raw_hubspot_company WHERE NOT coalesce(archived, false))
GROUP BY merged_id;

CREATE OR REPLACE TEMP TABLE id_sf_live AS
SELECT * FROM raw_salesforce_account WHERE NOT coalesce(is_deleted, false) AND master_record_id IS NULL;

CREATE OR REPLACE TEMP TABLE id_product AS
SELECT account_id, segsync_domain(domain) AS domain_norm,
       coalesce(s.survivor, segsync_sfid18(p.salesforce_account_id)) AS crm_id, p.salesforce_account_id AS crm_raw
FROM base_product_accounts p
LEFT JOIN id_sf_survivor s ON s.id = segsync_sfid18(p.salesforce_account_id);

CREATE OR REPLACE TEMP TABLE id_candidates_sf AS
-- Salesforce accounts
SELECT 'salesforce' AS source, a.id AS record_id, 1 AS rank, 'explicit_id' AS rule, p.account_id,
       'product account id ' || a.product_account_id AS evidence
FROM id_sf_live a JOIN id_product p ON p.account_id = trim(a.product_account_id)
UNION ALL
SELECT 'salesforce', a.id, 2, 'crm_id', p.account_id, 'product database holds Salesforce id ' || p.crm_raw
FROM id_sf_live a JOIN id_product p ON p.crm_id = a.id
UNION ALL
SELECT 'salesforce', a.id, 3, 'domain', p.account_id, 'domain ' || p.domain_norm
FROM id_sf_live a JOIN id_product p ON p.domain_norm = segsync_domain(a.website)
WHERE p.domain_norm NOT IN (SELECT domain FROM id_freemail);

-- Salesforce accounts whose best rule names exactly one account (what CRM ids elsewhere resolve through)
CREATE OR REPLACE TEMP TABLE id_sf_resolved AS
WITH best AS (SELECT record_id, min(rank) AS rank FROM id_candidates_sf GROUP BY record_id)
SELECT c.record_id, min(c.account_id) AS account_id
FROM id_candidates_sf c JOIN best b USING (record_id, rank)
GROUP BY c.record_id HAVING count(DISTINCT c.account_id) = 1;

CREATE OR REPLACE TEMP TABLE id_candidates AS
SELECT * FROM id_candidates_sf
UNION ALL
-- HubSpot companies
SELECT 'hubspot', c.id, 1, 'explicit_id', p.account_id, 'product account id ' || c.product_account_id
FROM raw_hubspot_company c JOIN id_product p ON p.account_id = trim(c.product_account_id)
WHERE NOT coalesce(c.archived, false)
UNION ALL
SELECT 'hubspot', c.id, 2, 'crm_id', r.account_id, 'Salesforce id ' || c.salesforce_account_id
FROM raw_hubspot_company c
JOIN id_sf_survivor s ON s.id = segsync_sfid18(c.salesforce_account_id)
JOIN id_sf_resolved r ON r.record_id = s.survivor
WHERE NOT coalesce(c.archived, false)
UNION ALL
SELECT 'hubspot', c.id, 3, 'domain', p.account_id, 'domain ' || p.domain_norm
FROM raw_hubspot_company c JOIN id_product p ON p.domain_norm = segsync_domain(c.domain)
WHERE NOT coalesce(c.archived, false) AND p.domain_norm NOT IN (SELECT domain FROM id_freemail)
UNION ALL
-- Stripe customers
SELECT 'stripe', c.id, 1, 'explicit_id', p.account_id, 'metadata account id ' || c.account_id
FROM raw_stripe_customer c JOIN id_product p ON p.account_id = trim(c.account_id)
UNION ALL
SELECT 'stripe', c.id, 2, 'crm_id', r.account_id, 'metadata Salesforce id ' || c.salesforce_account_id
FROM raw_stripe_customer c
JOIN id_sf_survivor s ON s.id = segsync_sfid18(c.salesforce_account_id)
JOIN id_sf_resolved r ON r.record_id = s.survivor
UNION ALL
SELECT 'stripe', c.id, 3, 'domain', p.account_id, 'email domain ' || p.domain_norm
FROM raw_stripe_customer c JOIN id_product p ON p.domain_norm = segsync_email_domain(c.email)
WHERE p.domain_norm NOT IN (SELECT domain FROM id_freemail);

CREATE OR REPLACE TEMP TABLE id_records AS
SELECT 'salesforce' AS source, id AS record_id, product_account_id AS explicit_id, NULL AS crm_id,
       segsync_domain(website) AS domain, system_modstamp AS updated_at
FROM id_sf_live
UNION ALL
SELECT 'hubspot', id, product_account_id, salesforce_account_id, segsync_domain(domain), updated_at
FROM raw_hubspot_company WHERE NOT coalesce(archived, false)
UNION ALL
SELECT 'stripe', id, account_id, salesforce_account_id, segsync_email_domain(email), created
FROM raw_stripe_customer;
"""

MATCH_REPORT = r"""
CREATE OR REPLACE TEMP TABLE id_best AS
WITH ranked AS (
    SELECT *, min(rank) OVER (PARTITION BY source, record_id) AS best_rank FROM id_candidates
)
SELECT source, record_id, min(rank) AS rank, min(rule) AS rule,
       list(DISTINCT account_id ORDER BY account_id) AS accounts, min(evidence) AS evidence
FROM ranked WHERE rank = best_rank GROUP BY source, record_id;

CREATE OR REPLACE TEMP TABLE id_match AS
SELECT r.source, r.record_id,
       CASE WHEN len(b.accounts) = 1 THEN b.accounts[1] END AS account_id,
       CASE WHEN b.accounts IS NULL THEN 'unmatched' WHEN len(b.accounts) = 1 THEN 'matched' ELSE 'ambiguous' END
           AS status,
       CASE
         WHEN len(b.accounts) = 1 THEN b.rule || ': ' || b.evidence
         WHEN len(b.accounts) > 1 THEN b.rule || ': ' || b.evidence || ' matches ' || len(b.accounts)::VARCHAR
              || ' accounts (' || array_to_string(b.accounts, ', ') || ')'
         ELSE concat_ws('; ',
              CASE WHEN nullif(trim(r.explicit_id), '') IS NOT NULL
                   THEN 'account id ' || r.explicit_id || ' is not a product account' END,
              CASE WHEN nullif(trim(r.crm_id), '') IS NOT NULL
                   THEN 'Salesforce id ' || r.crm_id || ' matches no product account' END,
              CASE WHEN r.domain IS NULL THEN 'no usable domain'
                   WHEN r.domain IN (SELECT domain FROM id_freemail) THEN 'domain ' || r.domain || ' is freemail (never matched)'
                   ELSE 'domain ' || r.domain || ' matches no account' END)
       END AS reason,
       b.rank, r.updated_at
FROM id_records r LEFT JOIN id_best b USING (source, record_id);

-- the record chosen per account and source: best rule, then latest update, then id
CREATE OR REPLACE TEMP TABLE id_links AS
SELECT source, account_id, arg_min(record_id, (rank, -epoch_us(coalesce(updated_at, TIMESTAMPTZ '1900-01-01')), record_id))
       AS record_id, count(*) AS records
FROM id_match WHERE status = 'matched' GROUP BY source, account_id;
"""


def build_identity(con: duckdb.DuckDBPyConnection, identity: Mapping[str, Any]) -> None:
    """Fill temp tables id_match (one row per source record) and id_links (chosen record per account and source).

    Needs base_product_accounts and the raw tables to exist.
    """
    install_macros(con)
    load_freemail(con, identity)
    con.execute(CANDIDATES)
    con.execute(MATCH_REPORT)


def match_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """source -> status -> records, from the match_report table."""
    counts: dict[str, dict[str, int]] = {}
    for source, status, n in con.execute(
            "SELECT source, status, count(*) FROM match_report GROUP BY ALL ORDER BY ALL").fetchall():
        counts.setdefault(source, {})[status] = n
    return counts
