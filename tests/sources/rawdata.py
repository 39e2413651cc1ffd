"""Hand-made raw tables for build tests: written through the real batch writer with the declared types."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb

from segsync.config import ProjectConfig, load_config
from sources.common import BatchWriter, RawTable
from sources.product_db import parse_tables

REPO = Path(__file__).resolve().parents[2]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def project_config(**overrides) -> ProjectConfig:
    """The repository's segsync.yaml (product tables, identity, measures) with sections overridden."""
    config = load_config(REPO / "segsync.yaml", env={})
    return config.model_copy(update=overrides)


def product_table(name: str) -> RawTable:
    tables = {t.name: t.raw for t in parse_tables(project_config().source("product_db"))}
    return tables[name]


def write(con: duckdb.DuckDBPyConnection, table: RawTable, rows: list[dict], *, run_id: str = "test") -> int:
    return BatchWriter(con, table, "test", run_id, upsert=not table.name.startswith("raw_product_")).write(rows)


def product_accounts(con, rows: list[dict]) -> None:
    defaults = {"name": None, "domain": None, "salesforce_account_id": None, "country": "US", "seats": 10,
                "is_trial": False, "churn_flag": False}
    write(con, product_table("accounts"), [{**defaults, "name": r["account_id"], **r} for r in rows])
