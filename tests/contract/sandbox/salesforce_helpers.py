"""Helpers for the Salesforce emulator contract tests: the client, admin calls, small hand-built datasets."""
from __future__ import annotations

from types import SimpleNamespace

import gc
import ssl

import duckdb
import httpx
import pytest

from sandbox.salesforce.ids import BASE62, POD, make_id
from segsync.sfid import duckdb_macros
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
    with httpx.Client(base_url=env["SALESFORCE_INSTANCE_URL"], trust_env=False,
                      verify=ssl.create_default_context(cafile=env["SALESFORCE_CA_BUNDLE"])) as http:
        return http.request(method, path, json=json)


def raw(sandbox, method: str, path: str, **kwargs) -> httpx.Response:
    """A plain HTTP call with the sandbox's Bearer token (for calls simple-salesforce has no method for)."""
    env = sandbox.env()
    headers = {"Authorization": f"Bearer {env['SALESFORCE_ACCESS_TOKEN']}", **kwargs.pop("headers", {})}
    with httpx.Client(base_url=env["SALESFORCE_INSTANCE_URL"], trust_env=False,
                      verify=ssl.create_default_context(cafile=env["SALESFORCE_CA_BUNDLE"])) as http:
        return http.request(method, path, headers=headers, **kwargs)


ACCOUNT_BASE, CONTACT_BASE = 5_000_000, 5_000_000


def account_ids(count: int) -> list[str]:
    return [make_id("001", ACCOUNT_BASE + i) for i in range(count)]


def contact_ids(count: int) -> list[str]:
    return [make_id("003", CONTACT_BASE + i) for i in range(count)]


def _id_sql(prefix: str, counter: str) -> str:
    """DuckDB twin of sandbox.salesforce.ids.make_id (same ids, vectorised) for large test tables."""
    digits = " || ".join(f"substr('{BASE62}', (({counter} // {62 ** k}) % 62)::INTEGER + 1, 1)"
                         for k in reversed(range(9)))
    body = f"('{prefix}' || '{POD}' || {digits})"
    return f"({body} || sfid_suffix({body}))"


def dataset(accounts: int, contacts_per_account: int = 0, contacts: int | None = None) -> SimpleNamespace:
    """A stand-in for sandbox.datasets.Dataset with accounts and contacts tables (Arrow, the documented columns).

    Account i has Id account_ids(n)[i], account_id A-00000i, Name "Company i"; contact j belongs to account
    j // contacts_per_account. Built in DuckDB so 100k accounts and 350k contacts take well under a second.
    """
    per = max(contacts_per_account, 1)
    total = accounts * contacts_per_account if contacts is None else contacts
    con = duckdb.connect()
    con.execute(duckdb_macros())
    account_table = con.sql(f"""
        SELECT 'A-' || lpad(i::VARCHAR, 6, '0') AS account_id, 'Company ' || i AS name,
               'company-' || i || '.example.com' AS domain,
               ['FinTech', 'EdTech', 'DevTools'][i % 3 + 1] AS industry,
               ['US', 'UK', 'DE', NULL][i % 4 + 1] AS country,
               (DATE '2022-01-08' + (i % 400)::INTEGER) AS signup_date,
               ['partner', 'organic', 'ads'][i % 3 + 1] AS referral_source,
               {_id_sql('001', f'(i + {ACCOUNT_BASE})')} AS salesforce_id
        FROM range({accounts}) t(i) ORDER BY i""").to_arrow_table()
    contact_table = con.sql(f"""
        SELECT 'C-' || lpad(j::VARCHAR, 7, '0') AS contact_id, 'A-' || lpad((j // {per})::VARCHAR, 6, '0') AS account_id,
               'person' || j || '@company-' || (j // {per}) || '.example.com' AS email,
               'First' || j AS first_name, 'Last' || j AS last_name, 'CTO' AS title,
               {_id_sql('003', f'(j + {CONTACT_BASE})')} AS salesforce_id
        FROM range({total}) t(j) ORDER BY j""").to_arrow_table()
    con.close()
    return SimpleNamespace(accounts=account_table, contacts=contact_table)


def seed(sandbox, accounts: int, contacts_per_account: int = 0) -> SimpleNamespace:
    data = dataset(accounts, contacts_per_account)
    emulator = sandbox["salesforce"]
    with emulator.lock:
        emulator.reset()
        emulator.seed(data)
    return data
