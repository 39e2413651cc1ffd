"""Salesforce source against the sandbox: paging to totalSize, compound cursor with overlap, deletes/merges, Bulk 2.0."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import unquote_plus

import pytest

from segsync import store
from segsync.errors import FatalError
from sources import ingest
from sources.common import read_cursor
from sources.salesforce import build_soql, object_specs, soql_string
from tests.sources.rawdata import project_config


@pytest.fixture(scope="module")
def dataset():
    from sandbox.datasets import load_dataset

    return load_dataset({"dataset": "ravenstack", "today": "2026-12-01"})


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@pytest.fixture
def org(sf_sandbox, dataset):
    emulator = sf_sandbox["salesforce"]
    with emulator.lock:
        emulator.seed(dataset)
        base = datetime.now(timezone.utc) - timedelta(days=1)
        ids = {name: list(emulator.org.records[name]) for name in ("Account", "Contact")}
        for name, record_ids in ids.items():
            emulator.org.set_modstamp(name, record_ids, stamp(base), None)
    emulator.log.clear()
    return sf_sandbox, emulator, ids, base


def config(**salesforce):
    section = {"enabled": True, "account_external_id": "Product_Account_Id__c", "overlap_seconds": 300,
               "bulk_threshold": 50_000, "page_size": 200, **salesforce}
    return project_config(sources={"salesforce": section})


def queries(emulator):
    """(path, SOQL or None, records) for each query call in the request log."""
    out = []
    for entry in emulator.log.entries():
        if "/query" in entry.path or "/queryAll" in entry.path:
            text = unquote_plus(entry.query.partition("q=")[2]) if "q=" in entry.query else None
            out.append((entry.path, text, entry.records))
    return out


def test_soql_values_are_escaped_and_the_window_is_bounded():
    assert soql_string("O'Brien \\ \"x\"\n") == "'O\\'Brien \\\\ \\\"x\\\"\\n'"
    account = object_specs({})[0]
    cap = datetime(2026, 12, 3, 13, 0, 0, 123000, tzinfo=timezone.utc)
    soql = build_soql(account, since=cap - timedelta(minutes=5), cap=cap)
    assert soql.endswith("FROM Account WHERE SystemModstamp >= 2026-12-03T12:55:00.123Z AND "
                         "SystemModstamp <= 2026-12-03T13:00:00.123Z ORDER BY SystemModstamp ASC, Id ASC")
    assert "Product_Account_Id__c" in soql and "IsDeleted" in soql and "MasterRecordId" in soql


def test_full_load_follows_every_page_and_commits_the_cursor(org, warehouse, dataset):
    sandbox, emulator, ids, base = org
    con = store.connect(warehouse)
    result = ingest(con, config(), sandbox.env(), source="salesforce", full=True)
    n_accounts, n_contacts = dataset.accounts.num_rows, dataset.contacts.num_rows
    assert result.tables == {"raw_salesforce_account": n_accounts, "raw_salesforce_contact": n_contacts}
    account_pages = -(-n_accounts // 200)
    contact_pages = -(-n_contacts // 200)
    assert result.requests == account_pages + contact_pages
    logged = queries(emulator)
    assert [r for _, _, r in logged[:account_pages]] == [200] * (account_pages - 1) + [n_accounts % 200 or 200]
    assert all("/queryAll" in path for path, _, _ in logged)
    last_id = max(ids["Account"])
    assert read_cursor(con, "salesforce", "Account").id == last_id
    row = con.execute("SELECT product_account_id, website, is_deleted FROM raw_salesforce_account WHERE id = ?",
                      [dataset.accounts["salesforce_id"][0].as_py()]).fetchone()
    assert row == (dataset.accounts["account_id"][0].as_py(), dataset.accounts["domain"][0].as_py(), False)


def test_second_run_reads_only_the_overlap_window_shared_stamp_and_late_commit(org, warehouse):
    sandbox, emulator, ids, base = org
    con = store.connect(warehouse)
    ingest(con, config(), sandbox.env(), source="salesforce")
    cursor = read_cursor(con, "salesforce", "Account")
    assert cursor.value == base.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    emulator.log.clear()
    again = ingest(con, config(), sandbox.env(), source="salesforce")
    # every record shares the cursor's stamp, so the overlap re-reads exactly them and nothing newer exists
    soql = queries(emulator)[0][1]
    assert f"SystemModstamp >= {(base - timedelta(seconds=300)).strftime('%Y-%m-%dT%H:%M:%S.000Z')}" in soql
    # now move most records far into the past: the overlap window then holds only what changed near the cursor
    with emulator.lock:
        emulator.org.set_modstamp("Account", ids["Account"][3:], stamp(base - timedelta(days=3)), None)
        emulator.org.set_modstamp("Contact", ids["Contact"], stamp(base - timedelta(days=3)), None)
        # a late commit: stamped 2 minutes before the cursor, committed after the previous run
        emulator.org.set_modstamp("Account", ids["Account"][:1], stamp(base - timedelta(minutes=2)), None)
        emulator.org.records["Account"][ids["Account"][0]]["Name"] = "Late Commit Ltd"
    emulator.log.clear()
    third = ingest(con, config(), sandbox.env(), source="salesforce")
    assert third.tables == {"raw_salesforce_account": 3, "raw_salesforce_contact": 0}
    assert [r for _, _, r in queries(emulator)] == [3, 0]
    assert again.requests > third.requests == 2
    assert con.execute("SELECT name FROM raw_salesforce_account WHERE id = ?", [ids["Account"][0]]).fetchone()[0] == \
        "Late Commit Ltd"


def test_deletes_and_merges_arrive_through_query_all(org, warehouse):
    sandbox, emulator, ids, base = org
    with emulator.lock:
        emulator.org.set_modstamp("Account", ids["Account"], stamp(base - timedelta(days=3)), None)
        emulator.org.set_modstamp("Contact", ids["Contact"], stamp(base - timedelta(days=3)), None)
        emulator.org.set_modstamp("Account", ids["Account"][3:8], stamp(base - timedelta(days=2)), None)
        emulator.org.set_modstamp("Contact", ids["Contact"][-1:], stamp(base - timedelta(days=2)), None)
    con = store.connect(warehouse)
    ingest(con, config(), sandbox.env(), source="salesforce")
    winner, loser, deleted = ids["Account"][0], ids["Account"][1], ids["Account"][2]
    loser_contacts = con.execute("SELECT count(*) FROM raw_salesforce_contact WHERE account_id = ?",
                                 [loser]).fetchone()[0]
    with emulator.lock:
        emulator.org.merge(winner, [loser])
        obj = emulator.org.objects["Account"]
        emulator.org.delete(obj, deleted, emulator.org.next_stamp())
    result = ingest(con, config(), sandbox.env(), source="salesforce")
    assert result.tables["raw_salesforce_account"] == 5 + 3  # the cursor's stamp (overlap) + the three changed
    assert result.tables["raw_salesforce_contact"] == 1 + loser_contacts and loser_contacts > 0
    rows = dict((r[0], r[1:]) for r in con.execute(
        "SELECT id, is_deleted, master_record_id FROM raw_salesforce_account WHERE id IN (?, ?, ?)",
        [winner, loser, deleted]).fetchall())
    assert rows == {winner: (False, None), loser: (True, winner), deleted: (True, None)}
    moved = con.execute("SELECT count(*) FROM raw_salesforce_contact WHERE account_id = ?", [winner]).fetchone()[0]
    assert moved == sum(1 for c in emulator.org.records["Contact"].values() if c["AccountId"] == winner)


def test_bulk_api_above_threshold_and_total_size_check(org, warehouse, dataset):
    sandbox, emulator, ids, base = org
    con = store.connect(warehouse)
    result = ingest(con, config(bulk_threshold=100), sandbox.env(), source="salesforce", full=True)
    assert result.tables == {"raw_salesforce_account": dataset.accounts.num_rows,
                             "raw_salesforce_contact": dataset.contacts.num_rows}
    assert any("/jobs/query" in e.path for e in emulator.log.entries())
    assert con.execute("SELECT count(*) FROM raw_salesforce_account WHERE is_deleted IS NULL").fetchone()[0] == 0


def test_a_short_page_is_an_error_not_a_silent_gap(org, warehouse, monkeypatch):
    sandbox, emulator, ids, base = org
    import sources.salesforce as sf_source

    real = sf_source._pages

    def lossy(client, soql, page_size):
        for total, records in real(client, soql, page_size):
            yield total, records[:-1]

    monkeypatch.setattr(sf_source, "_pages", lossy)
    con = store.connect(warehouse)
    with pytest.raises(FatalError, match="but the query reported totalSize 500"):
        ingest(con, config(), sandbox.env(), source="salesforce", full=True)


def test_crash_between_pages_of_one_shared_stamp_resumes_without_skipping(org, warehouse):
    sandbox, emulator, ids, base = org
    con = store.connect(warehouse)
    emulator.faults.add({"method": "GET", "path": r"/queryAll/.+", "status": 400, "code": "INVALID_QUERY_LOCATOR",
                         "times": 1})
    with pytest.raises(FatalError):
        ingest(con, config(), sandbox.env(), source="salesforce")
    committed = con.execute("SELECT count(*) FROM raw_salesforce_account").fetchone()[0]
    assert committed == 200  # the first page and its cursor (stamp, 200th id) were committed together
    assert read_cursor(con, "salesforce", "Account").id == sorted(ids["Account"])[199]
    ingest(con, config(), sandbox.env(), source="salesforce")
    # all 500 share the cursor's stamp: a strict "after (stamp, id)" restart would still be right, and the
    # overlap re-read guarantees late commits under that stamp are seen too
    assert con.execute("SELECT count(*) FROM raw_salesforce_account").fetchone()[0] == 500


def test_records_stamped_after_the_run_started_wait_for_the_next_run(org, warehouse):
    sandbox, emulator, ids, base = org
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    with emulator.lock:
        emulator.org.set_modstamp("Account", ids["Account"][:1], stamp(future), None)
    con = store.connect(warehouse)
    started = datetime.now(timezone.utc)
    ingest(con, config(), sandbox.env(), source="salesforce")
    assert con.execute("SELECT count(*) FROM raw_salesforce_account WHERE id = ?", [ids["Account"][0]]).fetchone()[0] == 0
    cursor = read_cursor(con, "salesforce", "Account")
    assert cursor.value <= started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
