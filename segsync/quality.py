"""Data-quality rules: every quirk and malformed record becomes one data_issues row, counted per rule."""
from __future__ import annotations

import duckdb

from segsync import store

# rule -> SELECT returning (source, record_id, detail, action) over the build's temp tables.
RULES: dict[str, str] = {
    "duplicate_account_id": """
        SELECT 'product_db', account_id, count(*)::VARCHAR || ' product rows share this account id', 'kept the latest load'
        FROM base_product_accounts_all WHERE account_id IS NOT NULL GROUP BY account_id HAVING count(*) > 1""",
    "missing_account_id": """
        SELECT 'product_db', NULL, 'product account ' || coalesce(name, '?') || ' has no account_id', 'dropped'
        FROM base_product_accounts_all WHERE nullif(trim(account_id), '') IS NULL""",
    "country_alias": """
        SELECT 'product_db', account_id, 'country ' || country_raw || ' is not ISO 3166', 'normalised to GB'
        FROM base_product_accounts WHERE upper(trim(country_raw)) = 'UK'""",
    "invalid_country": """
        SELECT 'product_db', account_id, 'country ' || country_raw || ' is not a two-letter code', 'set to NULL'
        FROM base_product_accounts WHERE country_raw IS NOT NULL AND country IS NULL""",
    "duplicate_usage_id": """
        SELECT 'product_db', usage_id, count(*)::VARCHAR || ' usage rows share this id', 'kept one (latest usage_date)'
        FROM base_product_feature_usage_all GROUP BY usage_id HAVING count(*) > 1""",
    "orphan_usage": """
        SELECT 'product_db', u.usage_id, 'usage row for unknown account ' || coalesce(u.account_id, 'NULL'),
               'excluded from usage'
        FROM base_product_feature_usage u LEFT JOIN base_product_accounts a USING (account_id)
        WHERE a.account_id IS NULL""",
    "malformed_usage": """
        SELECT 'product_db', u.usage_id, 'usage row without a date or with a negative count/duration/errors',
               'excluded from usage'
        FROM base_product_feature_usage u JOIN base_product_accounts a USING (account_id)
        WHERE u.usage_date IS NULL OR coalesce(u.usage_count, 0) < 0 OR coalesce(u.usage_duration_secs, 0) < 0
           OR coalesce(u.error_count, 0) < 0""",
    "usage_before_subscription_start": """
        SELECT 'product_db', u.usage_id, 'usage on ' || u.usage_date::VARCHAR || ' before subscription '
               || u.subscription_id || ' started on ' || s.start_date::VARCHAR, 'kept in usage'
        FROM usage_clean u JOIN quality_subscription_starts s USING (subscription_id)
        WHERE u.usage_date < s.start_date""",
    "empty_csat": """
        SELECT 'product_db', ticket_id, 'ticket has no satisfaction score', 'excluded from avg_csat'
        FROM base_product_support_tickets WHERE satisfaction_score IS NULL""",
    "orphan_ticket": """
        SELECT 'product_db', t.ticket_id, 'ticket for unknown account ' || coalesce(t.account_id, 'NULL'), 'excluded'
        FROM base_product_support_tickets t LEFT JOIN base_product_accounts a USING (account_id)
        WHERE a.account_id IS NULL""",
    "orphan_churn_event": """
        SELECT 'product_db', c.churn_event_id, 'churn event for unknown account ' || coalesce(c.account_id, 'NULL'),
               'excluded'
        FROM base_product_churn_events c LEFT JOIN base_product_accounts a USING (account_id)
        WHERE a.account_id IS NULL""",
    "contradicting_churn_flags": """
        SELECT 'product_db', a.account_id,
               CASE WHEN a.churn_flag THEN 'churn_flag is true but ' || m.counting_subscriptions::VARCHAR
                         || ' subscription(s) are active or past due'
                    ELSE 'churn_flag is false but ' || c.churn_events::VARCHAR
                         || ' churn event(s) exist and no subscription is active' END,
               'kept churn_flag as the product database says'
        FROM base_product_accounts a
        LEFT JOIN money_accounts m USING (account_id) LEFT JOIN churn_stats c USING (account_id)
        WHERE (a.churn_flag AND coalesce(m.counting_subscriptions, 0) > 0)
           OR (NOT a.churn_flag AND coalesce(c.churn_events, 0) > 0 AND m.account_id IS NOT NULL
               AND m.counting_subscriptions = 0 AND NOT m.is_trialing)""",
    "overlapping_subscriptions": """
        SELECT 'stripe', b.subscription_id, 'runs at the same time as ' || count(*)::VARCHAR
               || ' earlier subscription(s) of account ' || min(a.account_id) || ', e.g. ' || min(a.subscription_id),
               'all kept'
        FROM quality_subscription_spans a JOIN quality_subscription_spans b
          ON a.account_id = b.account_id AND (a.started, a.subscription_id) < (b.started, b.subscription_id)
         AND a.started < coalesce(b.ended, TIMESTAMPTZ '9999-12-31') AND b.started < coalesce(a.ended, TIMESTAMPTZ '9999-12-31')
        GROUP BY b.subscription_id""",
    "orphan_subscription": """
        SELECT 'stripe', s.id, 'subscription of customer ' || coalesce(s.customer_id, 'NULL')
               || ' that is deleted or was not read', 'excluded from MRR'
        FROM raw_stripe_subscription s LEFT JOIN raw_stripe_customer c ON c.id = s.customer_id WHERE c.id IS NULL""",
    "orphan_subscription_item": """
        SELECT 'stripe', i.item_id, 'item of subscription ' || i.subscription_id || ' has unknown price '
               || coalesce(i.price_id, 'NULL'), 'excluded from MRR'
        FROM money_items i WHERE i.price_missing""",
    "unpriced_item": """
        SELECT 'stripe', item_id, 'price ' || price_id || ' (' || coalesce(billing_scheme, '?')
               || ') has no usable amount or tier table', 'excluded from MRR'
        FROM money_item_amounts
        WHERE period_amount IS NULL AND usage_type <> 'metered' AND NOT price_missing""",
    "metered_price_excluded": """
        SELECT 'stripe', item_id, 'metered price ' || price_id || ' on subscription ' || subscription_id,
               'excluded from MRR'
        FROM money_items WHERE usage_type = 'metered'""",
    "discount_currency_mismatch": """
        SELECT 'stripe', subscription_id, foreign_amount_off::VARCHAR || ' amount-off discount(s) in another currency',
               'ignored'
        FROM money_subscriptions WHERE foreign_amount_off > 0""",
    "mixed_currency": """
        SELECT 'stripe', account_id, 'active subscriptions in more than one currency', 'mrr_minor and mrr set to NULL'
        FROM money_accounts WHERE mixed_currency""",
    "missing_fx_rate": """
        SELECT 'stripe', account_id, 'no rate in money.rates for ' || array_to_string(missing_rates, ', '),
               'mrr_reporting set to NULL'
        FROM money_reporting WHERE len(missing_rates) > 0""",
    "ambiguous_match": """
        SELECT source, record_id, reason, 'not linked to any account' FROM id_match WHERE status = 'ambiguous'""",
    "duplicate_crm_record": """
        SELECT source, account_id, records::VARCHAR || ' ' || source || ' records match this account',
               'linked ' || record_id || ' (best rule, then latest update)'
        FROM id_links WHERE records > 1 AND source <> 'stripe'""",
    "invalid_email": """
        SELECT source, record_id, 'email ' || coalesce(email, 'NULL') || ' is not an address', 'contact excluded'
        FROM contacts_all WHERE NOT valid_email""",
    "contact_without_account": """
        SELECT source, record_id, 'contact ' || email || ' belongs to no matched account', 'contact excluded'
        FROM contacts_all WHERE valid_email AND account_id IS NULL""",
    "contact_in_several_accounts": """
        SELECT 'contacts', email_key, 'email appears under ' || count(DISTINCT account_id)::VARCHAR || ' accounts',
               'kept the Salesforce (else latest) account'
        FROM contacts_all WHERE valid_email AND account_id IS NOT NULL
        GROUP BY email_key HAVING count(DISTINCT account_id) > 1""",
}


SPANS = """
CREATE OR REPLACE TEMP TABLE quality_subscription_starts AS
SELECT subscription_id, min(start_date) AS start_date FROM (
    SELECT subscription_id, start_date FROM base_product_subscriptions
    UNION ALL
    SELECT json_extract_string(metadata, '$.' || $metadata_key), CAST(start_date AS DATE) FROM raw_stripe_subscription
) WHERE subscription_id IS NOT NULL GROUP BY subscription_id;

CREATE OR REPLACE TEMP TABLE quality_subscription_spans AS
SELECT c.account_id, s.id AS subscription_id, coalesce(s.start_date, s.created) AS started,
       coalesce(s.ended_at, CASE WHEN s.status IN ('canceled', 'incomplete_expired') THEN s.canceled_at END) AS ended
FROM raw_stripe_subscription s
JOIN id_match c ON c.source = 'stripe' AND c.status = 'matched' AND c.record_id = s.customer_id
WHERE s.status NOT IN ('incomplete', 'incomplete_expired');
"""


def build_data_issues(con: duckdb.DuckDBPyConnection, run_id: str, metadata_key: str) -> dict[str, int]:
    """Fill temp table quality_issues from every rule plus the sources' ingest issues; returns counts per rule."""
    from segsync.build.sqlrun import run_script

    run_script(con, SPANS, {"metadata_key": metadata_key})
    con.execute("""CREATE OR REPLACE TEMP TABLE quality_issues (run_id VARCHAR, rule VARCHAR, source VARCHAR,
                   record_id VARCHAR, detail VARCHAR, action VARCHAR)""")
    for rule, select in RULES.items():
        con.execute(f"INSERT INTO quality_issues SELECT ?, ?, * FROM ({select})", [run_id, rule])
    if store.table_exists(con, "ingest_issues"):
        con.execute("INSERT INTO quality_issues SELECT ?, rule, source, record_id, detail, action FROM ingest_issues",
                    [run_id])
    return dict(con.execute("SELECT rule, count(*) FROM quality_issues GROUP BY rule ORDER BY rule").fetchall())
