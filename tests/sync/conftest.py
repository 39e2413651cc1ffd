"""Fixtures for engine unit tests: a warehouse connection, the fake destination registered, membership helpers."""
from __future__ import annotations

import pyarrow as pa
import pytest

from segsync import store
from segsync.config import Guardrails, ProjectConfig
from segsync.retry import RetryPolicy
from tests.sync import fakes

FAST = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0)


@pytest.fixture
def con(warehouse):
    connection = store.connect(warehouse)
    yield connection
    connection.close()


@pytest.fixture
def fake(monkeypatch):
    """The fake destination's vendor side (fresh per test) with the `fake` type registered."""
    import destinations

    monkeypatch.setitem(destinations.DESTINATION_TYPES, "fake", "tests.sync.fakes:FakeListDestination")
    fakes.SERVERS.clear()
    server = fakes.FakeServer()
    fakes.SERVERS["fake"] = server
    yield server
    fakes.SERVERS.clear()


def make_config(batch_size: int = 100, **guardrails) -> ProjectConfig:
    return ProjectConfig(destinations={"fake": {"type": "fake", "batch_size": batch_size}},
                         guardrails=Guardrails(**guardrails))


def set_members(con, members: dict[str, list[str]], holdouts: dict[str, list[str]] | None = None) -> None:
    """Replace segment_membership with these members (and holdout members)."""
    con.execute("""CREATE OR REPLACE TABLE segment_membership (segment VARCHAR, account_id VARCHAR, split VARCHAR,
                   is_holdout BOOLEAN, run_id VARCHAR, evaluated_at TIMESTAMPTZ)""")
    rows = [(s, a, False) for s, ids in members.items() for a in ids]
    rows += [(s, a, True) for s, ids in (holdouts or {}).items() for a in ids]
    table = pa.table({"segment": pa.array([r[0] for r in rows], pa.string()),
                      "account_id": pa.array([r[1] for r in rows], pa.string()),
                      "is_holdout": pa.array([r[2] for r in rows], pa.bool_())})
    con.register("_members", table)
    con.execute("INSERT INTO segment_membership SELECT segment, account_id, 'treatment', is_holdout, 'r', now() "
                "FROM _members")
    con.unregister("_members")


def accounts(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]
