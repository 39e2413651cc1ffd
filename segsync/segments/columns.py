"""Column types of the segment inputs: the live warehouse tables when built, else the declared contract."""
from __future__ import annotations

import duckdb

from segsync.store import table_columns, table_exists

# Kept in sync with docs/architecture.md ("Warehouse tables" -> accounts, account_daily_usage) and the types
# segsync/build gives them; the live table wins whenever it exists. Derived measures come from measures.yaml.
DECLARED_ACCOUNTS: dict[str, str] = {
    "account_id": "VARCHAR",
    "account_name": "VARCHAR",
    "domain": "VARCHAR",
    "salesforce_account_id": "VARCHAR",
    "hubspot_company_id": "VARCHAR",
    "stripe_customer_id": "VARCHAR",
    "industry": "VARCHAR",
    "country": "VARCHAR",
    "acquisition_channel": "VARCHAR",
    "signup_date": "DATE",
    "plan_tier": "VARCHAR",
    "subscription_status": "VARCHAR",
    "is_trialing": "BOOLEAN",
    "is_delinquent": "BOOLEAN",
    "cancels_at": "TIMESTAMP WITH TIME ZONE",
    "billing_interval": "VARCHAR",
    "seats": "BIGINT",
    "mrr_minor": "BIGINT",
    "mrr": "DOUBLE",
    "currency": "VARCHAR",
    "mrr_reporting": "DOUBLE",
    "renewal_date": "DATE",
    "usage_30d": "BIGINT",
    "usage_prev_30d": "BIGINT",
    "usage_change_pct": "DOUBLE",
    "last_activity_at": "TIMESTAMP WITH TIME ZONE",
    "days_since_last_activity": "BIGINT",
    "key_features_used_30d": "BIGINT",
    "beta_features_used_30d": "BIGINT",
    "open_tickets": "BIGINT",
    "avg_csat": "DOUBLE",
    "adoption_score": "DOUBLE",
    "health_score": "DOUBLE",
    "churn_flag": "BOOLEAN",
    "contact_count": "BIGINT",
    # also built by segsync/build (beyond the architecture contract)
    "billing_interval_count": "BIGINT",
    "active_subscriptions": "BIGINT",
    "features_used_30d": "BIGINT",
    "tickets_90d": "BIGINT",
    "churn_events": "BIGINT",
    "last_churn_date": "DATE",
    "salesforce_owner_id": "VARCHAR",
    "employees": "BIGINT",
    "as_of_date": "DATE",
}

DECLARED_DAILY_USAGE: dict[str, str] = {
    "account_id": "VARCHAR",
    "day": "DATE",
    "usage_count": "BIGINT",
    "usage_duration_secs": "BIGINT",
    "error_count": "BIGINT",
    "features_used": "INTEGER",
}

NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC", "INT")


def kind_of(duckdb_type: str) -> str:
    """Map a DuckDB type to the kind that decides the allowed operators: number, string, date, timestamp, boolean."""
    upper = duckdb_type.upper()
    if upper == "BOOLEAN":
        return "boolean"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    if upper.startswith(NUMERIC_PREFIXES):
        return "number"
    if upper in ("VARCHAR", "TEXT", "STRING", "UUID") or upper.startswith("VARCHAR"):
        return "string"
    return "other"


def is_tz_aware(duckdb_type: str) -> bool:
    return duckdb_type.upper() in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")


def account_columns(con: duckdb.DuckDBPyConnection | None) -> dict[str, str]:
    """Columns of `accounts`: live when the table exists, else the declared contract."""
    if con is not None and table_exists(con, "accounts"):
        return table_columns(con, "accounts")
    return dict(DECLARED_ACCOUNTS)


def usage_columns(con: duckdb.DuckDBPyConnection | None) -> dict[str, str]:
    """Columns of `account_daily_usage`: live when the table exists, else the declared contract."""
    if con is not None and table_exists(con, "account_daily_usage"):
        return table_columns(con, "account_daily_usage")
    return dict(DECLARED_DAILY_USAGE)


def create_empty_inputs(con: duckdb.DuckDBPyConnection, accounts: dict[str, str], usage: dict[str, str]) -> None:
    """Create empty `accounts` and `account_daily_usage` tables with the given columns (fixtures, sql checks)."""
    from sqlglot import exp

    for name, columns in (("accounts", accounts), ("account_daily_usage", usage)):
        create = exp.Create(
            this=exp.Schema(this=exp.to_table(name), expressions=[
                exp.ColumnDef(this=exp.to_identifier(col, quoted=True), kind=exp.DataType.build(typ, dialect="duckdb"))
                for col, typ in columns.items()
            ]),
            kind="TABLE",
        )
        con.execute(create.sql("duckdb"))


def declared_account_columns(segments_dir=None) -> dict[str, str]:
    """The declared `accounts` columns plus the derived measures named in <segments_dir>/measures.yaml."""
    from pathlib import Path

    import yaml

    columns = dict(DECLARED_ACCOUNTS)
    path = Path(segments_dir) / "measures.yaml" if segments_dir else None
    if path is None or not path.exists():
        return columns
    try:
        entries = (yaml.safe_load(path.read_text()) or {}).get("measures") or []
    except (yaml.YAMLError, AttributeError):
        return columns  # the measures file's own checks (segsync.measures) report its problems
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("type"), str):
            columns[entry["name"]] = entry["type"].upper()
    return columns
