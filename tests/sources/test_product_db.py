"""Product database source: SQLite and a throwaway PostgreSQL 15 cluster, config-declared tables and types."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from segsync import store
from segsync.build import build_accounts
from segsync.errors import InputError
from sources import ingest
from tests.sources.rawdata import project_config

RAVEN_COUNTS = {"raw_product_accounts": 500, "raw_product_subscriptions": 5000, "raw_product_feature_usage": 25000,
                "raw_product_support_tickets": 2000, "raw_product_churn_events": 600}


@pytest.fixture(scope="module")
def ravenstack():
    from sandbox.datasets import load_dataset

    return load_dataset({"dataset": "ravenstack", "today": "2026-12-01"})


def test_sqlite_ravenstack_ingest_and_build(tmp_path, warehouse, ravenstack):
    from sandbox.product_db import write_product_db

    url = f"sqlite:///{tmp_path / 'product.db'}"
    write_product_db(ravenstack, url)
    con = store.connect(warehouse)
    config = project_config()
    result = ingest(con, config, {"PRODUCT_DB_URL": url}, source="product_db")
    assert result.tables == RAVEN_COUNTS and result.requests == 5 and result.issues == 0
    types = store.table_columns(con, "raw_product_support_tickets")
    assert types["submitted_at"] == "TIMESTAMP WITH TIME ZONE" and types["satisfaction_score"] == "DOUBLE"
    built = build_accounts(con, config, as_of=datetime(2026, 12, 1, 12, tzinfo=timezone.utc))
    assert built.accounts == 500
    assert built.data_issues["country_alias"] == 58  # RavenStack writes UK for GB
    assert built.data_issues["duplicate_usage_id"] == 21  # 25,000 rows, 24,979 distinct ids
    assert built.data_issues["empty_csat"] == 825  # 2,000 tickets, 1,175 scored
    assert con.execute("SELECT count(*) FROM accounts WHERE country = 'UK'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM accounts WHERE country = 'GB'").fetchone()[0] == 58
    # a second run re-reads the tables and sweeps, so counts stay exact (no duplicates from the earlier load)
    again = ingest(con, config, {"PRODUCT_DB_URL": url}, source="product_db")
    assert again.tables == RAVEN_COUNTS
    assert con.execute("SELECT count(*) FROM raw_product_feature_usage").fetchone()[0] == 25000


def _small_db(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE accounts (account_id TEXT, name TEXT, domain TEXT, seats TEXT)"))
        conn.execute(sa.text("INSERT INTO accounts VALUES ('A1', 'One', 'one.com', '12'), ('A2', 'Two', 'two.com', 'lots')"))
    engine.dispose()


def test_values_that_do_not_cast_are_reported_not_dropped(tmp_path, warehouse):
    url = f"sqlite:///{tmp_path / 'small.db'}"
    _small_db(url)
    section = {"url": url, "tables": {"accounts": {"table": "accounts", "key": "account_id", "columns": {
        "account_id": "VARCHAR", "name": "VARCHAR", "domain": "VARCHAR", "seats": "BIGINT"}}}}
    con = store.connect(warehouse)
    result = ingest(con, project_config(sources={"product_db": section}), {}, source="product_db")
    assert result.tables == {"raw_product_accounts": 2} and result.issues == 1
    assert con.execute("SELECT account_id, seats FROM raw_product_accounts ORDER BY 1").fetchall() == [
        ("A1", 12), ("A2", None)]
    assert con.execute("SELECT rule, record_id, detail FROM ingest_issues").fetchall() == [
        ("malformed_value", "A2", "raw_product_accounts: seats=lots does not cast to the declared type; stored NULL")]


def test_config_errors_name_the_field(tmp_path, warehouse):
    url = f"sqlite:///{tmp_path / 'small.db'}"
    _small_db(url)
    con = store.connect(warehouse)
    bad = {"url": url, "tables": {"accounts": {"table": "accounts", "columns": {"account_id": "VARCHAR", "plan": "TEXT"}},
                                  "usage": {"columns": {"x": "VARCHAR"}}}}
    with pytest.raises(InputError) as err:
        ingest(con, project_config(sources={"product_db": bad}), {}, source="product_db")
    text = str(err.value)
    assert "sources.product_db.tables.accounts" in text and "'TEXT'" in text
    assert "sources.product_db.tables.usage: needs exactly one of `table` and `query`" in text
    missing = {"url": url, "tables": {"accounts": {"query": "SELECT account_id FROM accounts",
                                                   "columns": {"account_id": "VARCHAR", "plan_tier": "VARCHAR"}}}}
    with pytest.raises(InputError, match=r"declared columns not returned by the product database: \['plan_tier'\]"):
        ingest(con, project_config(sources={"product_db": missing}), {}, source="product_db")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL cluster run as the `postgres` user on a free port (the server refuses root)."""
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        pytest.fail("PostgreSQL binaries initdb/pg_ctl are required for the postgres-marked tests")
    root = tempfile.mkdtemp(prefix="segsync-pg-")
    data = os.path.join(root, "data")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    subprocess.run([*as_postgres, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, "pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
                    f"-p {port} -k {root} -h 127.0.0.1 -F", "start"], check=True, capture_output=True)
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            sa.create_engine(url).connect().close()
            break
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield url
    subprocess.run([*as_postgres, "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_postgres_product_db(postgres_url, warehouse, ravenstack):
    from sandbox.product_db import write_product_db

    write_product_db(ravenstack, postgres_url)
    con = store.connect(warehouse)
    config = project_config()
    result = ingest(con, config, {"PRODUCT_DB_URL": postgres_url}, source="product_db")
    assert result.tables == RAVEN_COUNTS and result.issues == 0
    first = con.execute("SELECT signup_date, updated_at FROM raw_product_accounts ORDER BY account_id LIMIT 1").fetchone()
    assert isinstance(first[0], date) and first[1].tzinfo is not None
    built = build_accounts(con, config, as_of=datetime(2026, 12, 1, 12, tzinfo=timezone.utc))
    assert built.accounts == 500 and built.data_issues["country_alias"] == 58
