"""Helpers for the Salesforce emulator contract tests: the client, admin calls, small hand-built datasets."""
from __future__ import annotations

from types import SimpleNamespace

import gc

import httpx
import pytest
import pyarrow as pa

from sandbox.salesforce.ids import make_id
from segsync.clients.salesforce import make_salesforce


_open_clients: list = []


def client(sandbox, **overrides):
    """simple-salesforce through make_salesforce (closed after the test so the server can stop quickly)."""
    env = dict(sandbox.env(), **overrides)
    sf = make_salesforce(env)
    _open_clients.append(sf)
    return sf


@pytest.fixture(autouse=True)
def close_clients():
    yield
    while _open_clients:
        _open_clients.pop().session.close()
    gc.collect()  # exceptions kept by pytest.raises hold responses whose sockets must close before the server stops


def admin(sandbox, method: str, path: str, json=None) -> httpx.Response:
    """Call one of the emulator's /__sandbox/ routes (TLS with the sandbox CA)."""
    env = sandbox.env()
    with httpx.Client(base_url=env["SALESFORCE_INSTANCE_URL"], verify=env["SALESFORCE_CA_BUNDLE"],
                      trust_env=False) as http:
        return http.request(method, path, json=json)


def raw(sandbox, method: str, path: str, **kwargs) -> httpx.Response:
    """A plain HTTP call with the sandbox's Bearer token (for calls simple-salesforce has no method for)."""
    env = sandbox.env()
    headers = {"Authorization": f"Bearer {env['SALESFORCE_ACCESS_TOKEN']}", **kwargs.pop("headers", {})}
    with httpx.Client(base_url=env["SALESFORCE_INSTANCE_URL"], verify=env["SALESFORCE_CA_BUNDLE"],
                      trust_env=False) as http:
        return http.request(method, path, headers=headers, **kwargs)


def account_ids(count: int) -> list[str]:
    return [make_id("001", 5_000_000 + i) for i in range(count)]


def contact_ids(count: int) -> list[str]:
    return [make_id("003", 5_000_000 + i) for i in range(count)]


def dataset(accounts: int, contacts_per_account: int = 0) -> SimpleNamespace:
    """A stand-in for sandbox.datasets.Dataset with accounts and contacts tables (Arrow, the documented columns)."""
    ids = account_ids(accounts)
    account_table = pa.table({
        "account_id": [f"A-{i:06d}" for i in range(accounts)],
        "name": [f"Company {i}" for i in range(accounts)],
        "domain": [f"company-{i}.example.com" for i in range(accounts)],
        "industry": [("FinTech", "EdTech", "DevTools")[i % 3] for i in range(accounts)],
        "country": [("US", "UK", "DE", None)[i % 4] for i in range(accounts)],
        "signup_date": pa.array([19000 + i % 400 for i in range(accounts)], pa.int32()).cast(pa.date32()),
        "referral_source": [("partner", "organic", "ads")[i % 3] for i in range(accounts)],
        "salesforce_id": ids,
    })
    total = accounts * contacts_per_account
    text = pa.string()
    contact_table = pa.table({
        "contact_id": [f"C-{i:07d}" for i in range(total)],
        "account_id": [f"A-{i // max(contacts_per_account, 1):06d}" for i in range(total)],
        "email": [f"person{i}@company-{i // max(contacts_per_account, 1)}.example.com" for i in range(total)],
        "first_name": [f"First{i}" for i in range(total)],
        "last_name": [f"Last{i}" for i in range(total)],
        "title": ["CTO"] * total,
        "salesforce_id": contact_ids(total),
    }, schema=pa.schema([(name, text) for name in ("contact_id", "account_id", "email", "first_name", "last_name",
                                                   "title", "salesforce_id")]))
    return SimpleNamespace(accounts=account_table, contacts=contact_table)


def seed(sandbox, accounts: int, contacts_per_account: int = 0) -> SimpleNamespace:
    data = dataset(accounts, contacts_per_account)
    emulator = sandbox["salesforce"]
    with emulator.lock:
        emulator.reset()
        emulator.seed(data)
    return data
