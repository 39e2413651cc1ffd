"""Writes the product database (SQLite by default, any SQLAlchemy URL) from a seed dataset, in bulk."""
from __future__ import annotations

import io
from datetime import datetime, time, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, Table,
                        create_engine, event, insert)
from sqlalchemy.engine import Engine, make_url

from sandbox.datasets import Dataset
from segsync.redact import redact

DEFAULT_PRODUCT_DB_URL = "sqlite:///.segsync/product.db"
# Accounts whose CRM link is stored in the 15-character form (row index % 10 == 3) or left empty (% 33 == 5).
SHORT_ID_EVERY, SHORT_ID_AT = 10, 3
MISSING_ID_EVERY, MISSING_ID_AT = 33, 5
INSERT_CHUNK = 50_000

metadata = MetaData()

accounts_table = Table(
    "accounts", metadata,
    Column("account_id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain", String(255)),
    Column("salesforce_account_id", String(18)),
    Column("signup_date", Date),
    Column("plan_tier", String(32)),
    Column("seats", Integer),
    Column("is_trial", Boolean),
    Column("churn_flag", Boolean),
    Column("country", String(8)),
    Column("industry", String(64)),
    Column("referral_source", String(64)),
    Column("updated_at", DateTime),
)

subscriptions_table = Table(
    "subscriptions", metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("account_id", String(32), index=True),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("plan_tier", String(32)),
    Column("seats", Integer),
    Column("mrr_amount", BigInteger),
    Column("arr_amount", BigInteger),
    Column("is_trial", Boolean),
    Column("upgrade_flag", Boolean),
    Column("downgrade_flag", Boolean),
    Column("churn_flag", Boolean),
    Column("billing_frequency", String(16)),
    Column("auto_renew_flag", Boolean),
)

feature_usage_table = Table(
    "feature_usage", metadata,
    Column("id", Integer, primary_key=True),  # surrogate: usage_id has duplicates in the source data
    Column("usage_id", String(32)),
    Column("subscription_id", String(32)),
    Column("account_id", String(32)),
    Column("usage_date", Date, index=True),  # the one index: incremental reads by day
    Column("feature_name", String(64)),
    Column("usage_count", Integer),
    Column("usage_duration_secs", Integer),
    Column("error_count", Integer),
    Column("is_beta_feature", Boolean),
)

support_tickets_table = Table(
    "support_tickets", metadata,
    Column("ticket_id", String(32), primary_key=True),
    Column("account_id", String(32), index=True),
    Column("submitted_at", Date),
    Column("closed_at", DateTime),
    Column("resolution_time_hours", Float),
    Column("priority", String(16)),
    Column("first_response_time_minutes", Integer),
    Column("satisfaction_score", Float),
    Column("escalation_flag", Boolean),
)

churn_events_table = Table(
    "churn_events", metadata,
    Column("churn_event_id", String(32), primary_key=True),
    Column("account_id", String(32), index=True),
    Column("churn_date", Date),
    Column("reason_code", String(32)),
    Column("refund_amount_usd", Float),
    Column("preceding_upgrade_flag", Boolean),
    Column("preceding_downgrade_flag", Boolean),
    Column("is_reactivation", Boolean),
    Column("feedback_text", String(1000)),
)


def _with_index(table: pa.Table) -> pa.Table:
    """The table with its row position as column `_i` (SQL row order is not guaranteed otherwise)."""
    return table.append_column("_i", pa.array(range(table.num_rows), pa.int64()))


def product_tables(dataset: Dataset) -> dict[str, pa.Table]:
    """The rows of each product table as Arrow, in the order of the SQLAlchemy tables' columns."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("ds_accounts", _with_index(dataset.accounts))
    con.register("ds_usage", _with_index(dataset.feature_usage))
    midnight = datetime.combine(dataset.today, time(0), tzinfo=timezone.utc).replace(tzinfo=None)
    accounts = con.sql(f"""
SELECT account_id, name, domain,
       CASE WHEN (_i + 1) % {MISSING_ID_EVERY} = {MISSING_ID_AT + 1} THEN NULL
            WHEN (_i + 1) % {SHORT_ID_EVERY} = {SHORT_ID_AT + 1} THEN left(salesforce_id, 15)
            ELSE salesforce_id END AS salesforce_account_id,
       signup_date, plan_tier, seats, is_trial, churn_flag, country, industry, referral_source,
       ?::TIMESTAMP - to_minutes((((_i + 1) * 7919) % 43200)::BIGINT) AS updated_at
FROM ds_accounts ORDER BY _i""", params=[midnight]).to_arrow_table()
    usage = con.sql("SELECT * EXCLUDE (_i), _i + 1 AS id FROM ds_usage ORDER BY _i").to_arrow_table()
    con.close()
    return {
        "accounts": accounts,
        "subscriptions": dataset.subscriptions,
        "feature_usage": usage,
        "support_tickets": dataset.support_tickets,
        "churn_events": dataset.churn_events,
    }


def _engine(url: str) -> Engine:
    """An engine for the bulk load; on SQLite the journal lives in memory and fsync is off while seeding."""
    parsed = make_url(url)
    engine = create_engine(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _fast_bulk_load(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA journal_mode = MEMORY")
            cursor.close()
    return engine


def _sqlite_rows(table: pa.Table) -> list[tuple]:
    """Rows for the sqlite3 driver: dates/timestamps as ISO text (how SQLAlchemy stores them on SQLite)."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us")).cast(pa.string())
        elif pa.types.is_date(field.type):
            column = column.cast(pa.string())
        columns.append(column.to_pylist())
    return list(zip(*columns))


def _copy_postgres(conn, name: str, rows: pa.Table) -> None:
    """PostgreSQL bulk load with COPY ... FROM STDIN (CSV written by Arrow; empty unquoted cells are NULL)."""
    buffer = io.BytesIO()
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=True, quoting_style="needed"))
    buffer.seek(0)
    columns = ", ".join(rows.column_names)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)",
                           io.TextIOWrapper(buffer, encoding="utf-8"))
    finally:
        cursor.close()


def write_product_db(dataset: Dataset, url: str = DEFAULT_PRODUCT_DB_URL) -> dict[str, int]:
    """(Re)create the product tables at `url` and bulk-insert the dataset; returns rows written per table."""
    engine = _engine(url)
    tables = product_tables(dataset)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
            for name, rows in tables.items():
                target = metadata.tables[name]
                rows = rows.select([c.name for c in target.columns])
                if engine.dialect.name == "sqlite":
                    placeholders = ", ".join("?" for _ in target.columns)
                    names = ", ".join(c.name for c in target.columns)
                    conn.connection.driver_connection.executemany(
                        f"INSERT INTO {name} ({names}) VALUES ({placeholders})", _sqlite_rows(rows))
                elif engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2":
                    _copy_postgres(conn, name, rows)
                else:
                    for batch in rows.to_batches(INSERT_CHUNK):
                        conn.execute(insert(target), batch.to_pylist())
                counts[name] = rows.num_rows
    except Exception as exc:
        raise RuntimeError(f"writing the product database at {redact(str(make_url(url)))} failed: "
                           f"{redact(str(exc))}") from exc
    finally:
        engine.dispose()
    return counts
