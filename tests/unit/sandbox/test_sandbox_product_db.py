"""Product database writer on SQLite: tables, row counts, CRM id forms, duplicate usage ids, idempotent rewrite."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from sandbox.datasets import load_dataset, write_product_db
from sandbox.product_db import accounts_table, feature_usage_table
from segsync.sfid import to_18

EXPECTED = {"accounts": 500, "subscriptions": 5000, "feature_usage": 25000, "support_tickets": 2000,
            "churn_events": 600}


@pytest.fixture(scope="module")
def raven():
    return load_dataset({"dataset": "ravenstack", "today": "2026-12-03"})


def test_sqlite_product_db(tmp_path, raven):
    url = f"sqlite:///{tmp_path / 'nested' / 'product.db'}"
    assert write_product_db(raven, url) == EXPECTED
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for table, count in EXPECTED.items():
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == count
        ids = {r.account_id: r.salesforce_account_id for r in conn.execute(sa.select(accounts_table))}
        usage = conn.execute(sa.select(feature_usage_table).order_by(feature_usage_table.c.id).limit(1)).one()
        distinct_usage = conn.execute(sa.text("SELECT count(DISTINCT usage_id) FROM feature_usage")).scalar()
        first = conn.execute(sa.select(accounts_table).where(accounts_table.c.account_id == "A-2e4581")).one()
        closed = conn.execute(sa.text("SELECT closed_at FROM support_tickets WHERE ticket_id = 'T-0024de'")).scalar()
    engine.dispose()
    truth = dict(zip(raven.accounts.column("account_id").to_pylist(), raven.accounts.column("salesforce_id").to_pylist()))
    short = [a for a, v in ids.items() if v is not None and len(v) == 15]
    missing = [a for a, v in ids.items() if v is None]
    assert (len(short), len(missing)) == (49, 15)
    assert all(to_18(ids[a]) == truth[a] for a in short)
    assert all(ids[a] == truth[a] for a in ids if a not in short and a not in missing)
    assert (usage.id, usage.usage_id, usage.account_id, usage.usage_date) == (1, "U-1c6c24", "A-e08cd3",
                                                                              date(2025, 6, 28))
    assert distinct_usage == 24979  # duplicate usage ids kept, the surrogate id is the key
    assert (first.name, first.domain, first.signup_date, first.is_trial) == ("Company_0", "company-0.example.com",
                                                                              date(2026, 9, 18), False)
    assert isinstance(first.updated_at, datetime) and first.updated_at <= datetime(2026, 12, 3)
    assert closed.startswith("2025-06-29 03:00:00")


def test_rewrite_replaces_the_tables(tmp_path, raven):
    url = f"sqlite:///{tmp_path / 'product.db'}"
    write_product_db(raven, url)
    small = load_dataset({"dataset": "synthetic", "accounts": 50, "seed": 1, "today": "2026-12-03"})
    counts = write_product_db(small, url)
    assert counts["accounts"] == 50 and counts["feature_usage"] == 1000
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM accounts")).scalar() == 50
    engine.dispose()


def test_unreachable_database_names_the_url_without_secrets(raven):
    with pytest.raises(RuntimeError, match="product database at postgresql") as info:
        write_product_db(raven, "postgresql+psycopg2://user:hunter22@127.0.0.1:1/db")
    assert "hunter22" not in str(info.value)
