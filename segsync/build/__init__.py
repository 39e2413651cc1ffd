"""Build: raw tables -> accounts, contacts, account_daily_usage, match_report, data_issues (all in SQL)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from segsync.build.accounts import REQUIRED_COLUMNS, accounts_select, base_columns, build_rows
from segsync.build.money import build_money
from segsync.build.product import build_usage, create_product_bases
from segsync.config import ProjectConfig
from segsync.errors import InputError, Problem
from segsync.identity import build_identity
from segsync.measures import load_measures, measures_path
from segsync.quality import build_data_issues
from segsync.timeutil import to_utc
from sources.common import ensure_table
from sources.schemas import API_TABLES

__all__ = ["BuildResult", "build_accounts", "REQUIRED_COLUMNS"]


@dataclass
class BuildResult:
    """Row counts of one build, the match report per source/status and data issues per rule."""

    run_id: str
    as_of: datetime
    accounts: int = 0
    contacts: int = 0
    account_daily_usage: int = 0
    match_report: dict[str, dict[str, int]] = field(default_factory=dict)
    data_issues: dict[str, int] = field(default_factory=dict)


FINAL_TABLES = {
    "contacts": "SELECT * FROM contacts_final ORDER BY contact_key",
    "account_daily_usage": "SELECT * FROM usage_daily ORDER BY account_id, day",
    "match_report": "SELECT source, record_id AS source_record_id, account_id, status, reason FROM id_match "
                    "ORDER BY source, record_id",
    "data_issues": "SELECT * FROM quality_issues ORDER BY rule, source, record_id",
}


def build_accounts(con: duckdb.DuckDBPyConnection, config: ProjectConfig, *, as_of: datetime | None = None,
                   run_id: str | None = None) -> BuildResult:
    """Rebuild every unified table from the raw tables; the final tables are swapped in one transaction."""
    as_of = to_utc(as_of) if as_of else datetime.now(timezone.utc)
    run_id = run_id or uuid.uuid4().hex[:12]
    con.execute("SET TimeZone = 'UTC'")
    for table in API_TABLES:
        ensure_table(con, table)
    create_product_bases(con)
    build_identity(con, config.identity)
    build_money(con, config.money, as_of)
    path = measures_path(config.project_dir, config.measures)
    key_features = _key_features(path)
    build_usage(con, key_features, as_of)
    build_rows(con, as_of)
    measures = load_measures(path, base_columns(con))
    stripe = config.source("stripe")
    issues = build_data_issues(con, run_id, str(stripe.get("subscription_id_metadata_key") or "product_subscription_id"))
    select = accounts_select(measures)
    con.execute(f"CREATE OR REPLACE TEMP TABLE accounts_next AS {select}")
    present = {r[0] for r in con.execute("DESCRIBE accounts_next").fetchall()}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise InputError([Problem(str(path), f"accounts would lack required columns {missing}", path="measures",
                                  expected="every column listed in docs/architecture.md")])
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE OR REPLACE TABLE accounts AS SELECT * FROM accounts_next")
        for table, query in FINAL_TABLES.items():
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    result = BuildResult(run_id=run_id, as_of=as_of, data_issues=issues)
    result.accounts = con.execute("SELECT count(*) FROM accounts").fetchone()[0]
    result.contacts = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    result.account_daily_usage = con.execute("SELECT count(*) FROM account_daily_usage").fetchone()[0]
    for source, status, n in con.execute(
            "SELECT source, status, count(*) FROM match_report GROUP BY ALL ORDER BY ALL").fetchall():
        result.match_report.setdefault(source, {})[status] = n
    return result


def _key_features(path) -> list[str]:
    """Key features are read before the measures are checked (they shape the usage columns)."""
    import yaml

    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text()) or {}
    features = raw.get("key_features") or []
    return [str(f) for f in features] if isinstance(features, list) else []
