"""Product-side bases: cleaned accounts, de-duplicated usage, the daily usage series, usage windows, tickets."""
from __future__ import annotations

import duckdb

from segsync import store
from segsync.build.sqlrun import run_script
from segsync.errors import InputError, Problem

# raw product table -> column -> (DuckDB type, required). Optional columns are NULL when not configured.
PRODUCT_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    "raw_product_accounts": {
        "account_id": ("VARCHAR", True), "name": ("VARCHAR", True), "domain": ("VARCHAR", True),
        "salesforce_account_id": ("VARCHAR", False), "industry": ("VARCHAR", False), "country": ("VARCHAR", False),
        "signup_date": ("DATE", False), "referral_source": ("VARCHAR", False), "plan_tier": ("VARCHAR", False),
        "seats": ("BIGINT", False), "is_trial": ("BOOLEAN", False), "churn_flag": ("BOOLEAN", False),
        "updated_at": ("TIMESTAMPTZ", False),
    },
    "raw_product_feature_usage": {
        "usage_id": ("VARCHAR", True), "account_id": ("VARCHAR", True), "usage_date": ("DATE", True),
        "feature_name": ("VARCHAR", True), "usage_count": ("BIGINT", True), "subscription_id": ("VARCHAR", False),
        "usage_duration_secs": ("BIGINT", False), "error_count": ("BIGINT", False),
        "is_beta_feature": ("BOOLEAN", False),
    },
    "raw_product_support_tickets": {
        "ticket_id": ("VARCHAR", True), "account_id": ("VARCHAR", True), "submitted_at": ("TIMESTAMPTZ", True),
        "closed_at": ("TIMESTAMPTZ", False), "satisfaction_score": ("DOUBLE", False), "priority": ("VARCHAR", False),
    },
    "raw_product_churn_events": {
        "churn_event_id": ("VARCHAR", True), "account_id": ("VARCHAR", True), "churn_date": ("DATE", True),
        "reason_code": ("VARCHAR", False),
    },
    "raw_product_subscriptions": {
        "subscription_id": ("VARCHAR", True), "account_id": ("VARCHAR", True), "start_date": ("DATE", True),
        "end_date": ("DATE", False), "churn_flag": ("BOOLEAN", False),
    },
}
OPTIONAL_TABLES = {"raw_product_subscriptions", "raw_product_churn_events", "raw_product_support_tickets"}


def create_product_bases(con: duckdb.DuckDBPyConnection) -> None:
    """Views base_<table> with every expected column (typed), checking the required ones exist."""
    problems = []
    for table, columns in PRODUCT_COLUMNS.items():
        base = table.replace("raw_", "base_", 1)
        present = store.table_columns(con, table) if store.table_exists(con, table) else {}
        if not present and table in OPTIONAL_TABLES | {"raw_product_feature_usage"}:
            selects = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, (t, _) in columns.items())
            con.execute(f"CREATE OR REPLACE TEMP VIEW {base}_all AS SELECT {selects}, "
                        f"CAST(NULL AS TIMESTAMPTZ) AS _loaded_at WHERE false")
            continue
        missing = [c for c, (_, required) in columns.items() if required and c not in present]
        if missing:
            name = table.removeprefix("raw_product_")
            problems.append(Problem("segsync.yaml", f"product table `{name}` lacks required columns {missing}",
                                    path=f"sources.product_db.tables.{name}.columns",
                                    value=sorted(present), expected=f"columns {sorted(columns)}"))
            continue
        selects = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' if c in present else f'CAST(NULL AS {t}) AS "{c}"'
                            for c, (t, _) in columns.items())
        con.execute(f"CREATE OR REPLACE TEMP VIEW {base}_all AS SELECT {selects}, _loaded_at FROM {table}")
    if problems:
        raise InputError(problems)
    run_script(con, DEDUPE)


DEDUPE = r"""
-- product accounts: one row per account id (latest load wins, then the greatest row), country aliases fixed
CREATE OR REPLACE TEMP TABLE base_product_accounts AS
SELECT * REPLACE (
         CASE WHEN upper(trim(country)) = 'UK' THEN 'GB'
              WHEN regexp_full_match(upper(trim(country)), '[A-Z]{2}') THEN upper(trim(country)) END AS country),
       country AS country_raw
FROM base_product_accounts_all WHERE nullif(trim(account_id), '') IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _loaded_at DESC, updated_at DESC NULLS LAST, name DESC, domain DESC) = 1;

CREATE OR REPLACE TEMP TABLE base_product_feature_usage AS
SELECT * FROM base_product_feature_usage_all
QUALIFY row_number() OVER (PARTITION BY usage_id
        ORDER BY _loaded_at DESC, usage_date DESC, usage_count DESC, feature_name, account_id) = 1;

CREATE OR REPLACE TEMP TABLE base_product_support_tickets AS
SELECT * FROM base_product_support_tickets_all
QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY _loaded_at DESC, submitted_at DESC) = 1;

CREATE OR REPLACE TEMP TABLE base_product_churn_events AS
SELECT * FROM base_product_churn_events_all
QUALIFY row_number() OVER (PARTITION BY churn_event_id ORDER BY _loaded_at DESC, churn_date DESC) = 1;

CREATE OR REPLACE TEMP TABLE base_product_subscriptions AS
SELECT * FROM base_product_subscriptions_all
QUALIFY row_number() OVER (PARTITION BY subscription_id ORDER BY _loaded_at DESC, start_date DESC) = 1;
"""

USAGE = r"""
-- usage rows that count: account known, usage_date present, no negative numbers
CREATE OR REPLACE TEMP TABLE usage_clean AS
SELECT u.* FROM base_product_feature_usage u
JOIN base_product_accounts a USING (account_id)
WHERE u.usage_date IS NOT NULL AND coalesce(u.usage_count, 0) >= 0 AND coalesce(u.usage_duration_secs, 0) >= 0
  AND coalesce(u.error_count, 0) >= 0;

CREATE OR REPLACE TEMP TABLE usage_daily AS
SELECT account_id, usage_date AS day, sum(coalesce(usage_count, 0))::BIGINT AS usage_count,
       sum(coalesce(usage_duration_secs, 0))::BIGINT AS usage_duration_secs,
       sum(coalesce(error_count, 0))::BIGINT AS error_count, count(DISTINCT feature_name)::BIGINT AS features_used
FROM usage_clean GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE usage_windows AS
SELECT account_id,
       sum(usage_count) FILTER (WHERE day > $as_of_date - 30 AND day <= $as_of_date)::BIGINT AS usage_30d,
       sum(usage_count) FILTER (WHERE day > $as_of_date - 60 AND day <= $as_of_date - 30)::BIGINT AS usage_prev_30d,
       max(day) FILTER (WHERE day <= $as_of_date) AS last_active_day
FROM usage_daily GROUP BY account_id;

CREATE OR REPLACE TEMP TABLE usage_features AS
SELECT u.account_id,
       count(DISTINCT u.feature_name) FILTER (WHERE k.feature_name IS NOT NULL OR NOT $key_list_given)
           AS key_features_used_30d,
       count(DISTINCT u.feature_name) FILTER (WHERE coalesce(u.is_beta_feature, false)) AS beta_features_used_30d,
       count(DISTINCT u.feature_name) AS features_used_30d
FROM usage_clean u LEFT JOIN key_features k ON k.feature_name = u.feature_name
WHERE u.usage_date > $as_of_date - 30 AND u.usage_date <= $as_of_date
GROUP BY u.account_id;

CREATE OR REPLACE TEMP TABLE ticket_stats AS
SELECT account_id,
       count(*) FILTER (WHERE submitted_at <= $as_of AND (closed_at IS NULL OR closed_at > $as_of)) AS open_tickets,
       avg(satisfaction_score) FILTER (WHERE satisfaction_score IS NOT NULL AND submitted_at <= $as_of) AS avg_csat,
       count(*) FILTER (WHERE submitted_at > $as_of - INTERVAL 90 DAY AND submitted_at <= $as_of) AS tickets_90d
FROM base_product_support_tickets GROUP BY account_id;

CREATE OR REPLACE TEMP TABLE churn_stats AS
SELECT account_id, count(*) AS churn_events, max(churn_date) AS last_churn_date
FROM base_product_churn_events WHERE churn_date <= $as_of_date GROUP BY account_id;
"""


def build_usage(con: duckdb.DuckDBPyConnection, key_features: list[str], as_of) -> None:
    """Temp tables usage_clean, usage_daily, usage_windows, usage_features, ticket_stats, churn_stats."""
    con.execute("CREATE OR REPLACE TEMP TABLE key_features (feature_name VARCHAR)")
    if key_features:
        con.executemany("INSERT INTO key_features VALUES (?)", [[f] for f in key_features])
    run_script(con, USAGE, {"as_of": as_of, "as_of_date": as_of.date(), "key_list_given": bool(key_features)})
