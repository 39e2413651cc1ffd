"""Helpers for the HubSpot emulator contract tests: client, raw HTTP, error bodies, a small seed dataset."""
from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pyarrow as pa

from segsync.clients.hubspot import make_hubspot

INDUSTRIES = ["FinTech", "DevTools", "EdTech"]
COUNTRIES = ["US", "UK", "DE"]


def client(sandbox):
    return make_hubspot(sandbox.env())


def emulator(sandbox):
    return sandbox["hubspot"]


def raw(sandbox, method: str, path: str, *, token: str | None = None, **kwargs) -> httpx.Response:
    """A plain HTTP call (for what the official client has no method for, or to see headers and bodies)."""
    env = sandbox.env()
    headers = {"Authorization": f"Bearer {token or env['HUBSPOT_ACCESS_TOKEN']}"}
    return httpx.request(method, env["HUBSPOT_BASE_URL"] + path, headers=headers, timeout=30, **kwargs)


def body_of(exc) -> dict:
    """The JSON error body of a failed hubspot-api-client call."""
    data = exc.body
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def dataset(accounts: int, contacts_per_account: int = 2) -> SimpleNamespace:
    """A stand-in for sandbox.datasets.Dataset: accounts (hubspot_id 1000+i) and contacts (hubspot_id 50000+k)."""
    rows = range(accounts)
    account_table = pa.table({
        "account_id": [f"A{i:05d}" for i in rows],
        "name": [f"Company {i}" for i in rows],
        "domain": [f"company{i}.example.com" for i in rows],
        "industry": [INDUSTRIES[i % 3] for i in rows],
        "country": [COUNTRIES[i % 3] for i in rows],
        "signup_date": pa.array([19_700 + i % 300 for i in rows], pa.date32()),
        "hubspot_id": [str(1000 + i) for i in rows],
    })
    pairs = [(i, j) for i in rows for j in range(contacts_per_account)]
    contact_table = pa.table({
        "contact_id": [f"C{k:06d}" for k in range(len(pairs))],
        "account_id": [f"A{i:05d}" for i, _ in pairs],
        "email": [f"Person{j}@Company{i}.example.com" for i, j in pairs],
        "first_name": [f"First{j}" for _, j in pairs],
        "last_name": [f"Last{i}" for i, _ in pairs],
        "title": ["CTO" if j == 0 else "Engineer" for _, j in pairs],
        "hubspot_id": [str(50000 + k) for k in range(len(pairs))],
    })
    return SimpleNamespace(accounts=account_table, contacts=contact_table)


def seed(sandbox, accounts: int, contacts_per_account: int = 2) -> dict:
    target = emulator(sandbox)
    with target.lock:
        target.reset()
        return target.seed(dataset(accounts, contacts_per_account))


def configure(sandbox, **settings) -> None:
    emulator(sandbox).configure(settings)
