"""HubSpot source: property typing, full list loads, overlap-only incremental search, the 10,000 cap, archived/merged."""
from __future__ import annotations

from datetime import date

import pytest

from segsync import store
from sources import hubspot as hs
from sources import ingest
from sources.common import read_cursor
from tests.sources.rawdata import project_config, utc

DEFINITIONS = {
    "numberofemployees": {"name": "numberofemployees", "type": "number", "fieldType": "number"},
    "annualrevenue": {"name": "annualrevenue", "type": "number", "fieldType": "number"},
    "is_public": {"name": "is_public", "type": "bool", "fieldType": "booleancheckbox"},
    "renewal_day": {"name": "renewal_day", "type": "date", "fieldType": "date"},
    "hs_lastmodifieddate": {"name": "hs_lastmodifieddate", "type": "datetime", "fieldType": "date"},
    "regions": {"name": "regions", "type": "enumeration", "fieldType": "checkbox"},
    "industry": {"name": "industry", "type": "enumeration", "fieldType": "select"},
}


def test_string_values_are_typed_from_property_definitions():
    assert hs.typed_value("250", DEFINITIONS["numberofemployees"]) == 250
    assert hs.typed_value("1250000.50", DEFINITIONS["annualrevenue"]) == 1250000.5
    assert hs.typed_value("true", DEFINITIONS["is_public"]) is True
    assert hs.typed_value("false", DEFINITIONS["is_public"]) is False
    assert hs.typed_value("2026-03-01", DEFINITIONS["renewal_day"]) == date(2026, 3, 1)
    assert hs.typed_value("1772323200000", DEFINITIONS["renewal_day"]) == date(2026, 3, 1)
    assert hs.typed_value("2026-03-01T10:00:00.000Z", DEFINITIONS["hs_lastmodifieddate"]) == utc(2026, 3, 1, 10)
    assert hs.typed_value("emea;apac", DEFINITIONS["regions"]) == ["emea", "apac"]
    assert hs.typed_value("Technology", DEFINITIONS["industry"]) == "Technology"
    assert hs.typed_value("", DEFINITIONS["numberofemployees"]) is None
    spec = hs.object_specs({"company_properties": ["is_public", "regions", "renewal_day"]})[0]
    row = hs.to_row(spec, {"id": 7, "archived": False, "properties": {
        "name": "Acme", "numberofemployees": "250", "hs_lastmodifieddate": "2026-03-01T10:00:00.000Z",
        "is_public": "true", "regions": "emea;apac", "renewal_day": "2026-03-01", "hs_merged_object_ids": "3;5"}},
        DEFINITIONS)
    assert (row["id"], row["numberofemployees"], row["updated_at"], row["merged_object_ids"]) == (
        "7", 250.0, utc(2026, 3, 1, 10), ["3", "5"])
    assert row["properties"] == '{"is_public": true, "regions": ["emea", "apac"], "renewal_day": "2026-03-01"}'


@pytest.fixture(scope="module")
def dataset():
    from sandbox.datasets import load_dataset

    return load_dataset({"dataset": "ravenstack", "today": "2026-12-01"})


@pytest.fixture
def portal(hubspot_sandbox, dataset):
    emulator = hubspot_sandbox["hubspot"]
    with emulator.lock:
        seeded = emulator.seed(dataset)
    emulator.log.clear()
    return hubspot_sandbox, emulator, seeded


def config(**section):
    return project_config(sources={"hubspot": {"enabled": True, "account_id_property": "product_account_id",
                                               "overlap_seconds": 300, **section}})


def test_full_load_pages_the_list_endpoint_with_associations(portal, warehouse):
    sandbox, emulator, seeded = portal
    con = store.connect(warehouse)
    result = ingest(con, config(), sandbox.env(), source="hubspot", full=True)
    assert result.tables == {"raw_hubspot_company": seeded["companies"], "raw_hubspot_contact": seeded["contacts"],
                             "raw_hubspot_company_contact": seeded["associations"]}
    lists = [e for e in emulator.log.entries() if e.method == "GET" and e.path == "/crm/v3/objects/companies"
             and "archived=false" in e.query.lower()]
    assert [e.records for e in lists] == [100] * (seeded["companies"] // 100) + (
        [seeded["companies"] % 100] if seeded["companies"] % 100 else [])
    typed = store.table_columns(con, "raw_hubspot_company")
    assert typed["numberofemployees"] == "DOUBLE" and typed["updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert con.execute("SELECT count(*) FROM raw_hubspot_company WHERE product_account_id IS NULL").fetchone()[0] == 0


def test_second_run_searches_only_the_overlap_window(portal, warehouse):
    sandbox, emulator, seeded = portal
    con = store.connect(warehouse)
    ingest(con, config(), sandbox.env(), source="hubspot")
    cursor = read_cursor(con, "hubspot", "companies")
    emulator.log.clear()
    again = ingest(con, config(), sandbox.env(), source="hubspot")
    searches = [e for e in emulator.log.entries() if e.path.endswith("/search")]
    assert [e.path for e in searches] == ["/crm/v3/objects/companies/search", "/crm/v3/objects/contacts/search"]
    newest_companies = con.execute("SELECT count(*) FROM raw_hubspot_company WHERE updated_at >= ?::TIMESTAMPTZ "
                                   "- INTERVAL 300 SECOND", [cursor.value]).fetchone()[0]
    assert searches[0].records == newest_companies == again.tables["raw_hubspot_company"]
    assert again.tables["raw_hubspot_company"] < seeded["companies"] // 10
    assert read_cursor(con, "hubspot", "companies") == cursor


def test_windows_over_the_search_cap_are_split(monkeypatch):
    calls = []

    class FakeClient:
        def search(self, spec, lo, hi, after=0, limit=hs.SEARCH_LIMIT):
            calls.append((lo, hi, after))
            total = (hi - lo + 1) * 30  # 30 records per millisecond
            if total > hs.SEARCH_CAP:
                return {"total": total, "results": [{"id": "x"}] * limit, "paging": {"next": {"after": "200"}}}
            start = after
            end = min(after + limit, total)
            page = {"total": total, "results": [{"id": f"{lo}-{i}"} for i in range(start, end)]}
            if end < total:
                page["paging"] = {"next": {"after": str(end)}}
            return page

    spec = hs.object_specs({})[0]
    seen = [r["id"] for page in hs.search_window(FakeClient(), spec, 0, 999) for r in page]
    assert len(seen) == 30 * 1000 == len(set(seen) - {"x"})
    assert max(after for _, _, after in calls) < hs.SEARCH_CAP


def test_merged_and_archived_records_are_recorded(portal, warehouse):
    import httpx

    sandbox, emulator, seeded = portal
    env = sandbox.env()
    con = store.connect(warehouse)
    ingest(con, config(), env, source="hubspot")
    primary, merged = [r[0] for r in con.execute(
        "SELECT id FROM raw_hubspot_company ORDER BY id LIMIT 2").fetchall()]
    contact = con.execute("SELECT id FROM raw_hubspot_contact ORDER BY id LIMIT 1").fetchone()[0]
    headers = {"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}
    with httpx.Client(base_url=env["HUBSPOT_BASE_URL"], headers=headers) as http:
        http.post("/crm/v3/objects/companies/merge",
                  json={"primaryObjectId": primary, "objectIdToMerge": merged}).raise_for_status()
        http.delete(f"/crm/v3/objects/contacts/{contact}").raise_for_status()
    ingest(con, config(), env, source="hubspot")
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT id, archived, merged_object_ids FROM raw_hubspot_company WHERE id IN (?, ?)", [primary, merged]).fetchall()}
    assert rows == {primary: (False, [merged]), merged: (True, None)}
    assert con.execute("SELECT archived FROM raw_hubspot_contact WHERE id = ?", [contact]).fetchone()[0] is True
    # association changes do not touch the contacts' modification time: the build follows the merge instead
    from segsync.build import build_accounts
    from tests.sources.rawdata import product_accounts

    product_accounts(con, [{"account_id": a, "domain": f"{a}.example"} for a in ("A-x", "A-y")])
    con.execute("UPDATE raw_hubspot_company SET product_account_id = 'A-x' WHERE id = ?", [primary])
    build_accounts(con, project_config(), as_of=utc(2026, 12, 1))
    linked = con.execute("SELECT count(*) FROM contacts WHERE account_id = 'A-x'").fetchone()[0]
    live = [c for c in emulator.state.associations.targets("companies", primary) if c != contact]
    assert linked == len(live) > 2


def test_a_full_list_load_commits_its_cursor_only_at_the_end(portal, warehouse):
    from segsync.errors import FatalError

    sandbox, emulator, seeded = portal
    emulator.faults.add({"method": "GET", "path": r"^/crm/v3/objects/companies$", "status": 400, "nth": [3]})
    con = store.connect(warehouse)
    with pytest.raises(FatalError):
        ingest(con, config(), sandbox.env(), source="hubspot")
    assert con.execute("SELECT count(*) FROM raw_hubspot_company").fetchone()[0] == 200  # two pages committed
    assert read_cursor(con, "hubspot", "companies") is None  # list order is by id: no cursor until the end
    emulator.faults.clear()
    result = ingest(con, config(), sandbox.env(), source="hubspot")
    assert result.tables["raw_hubspot_company"] == seeded["companies"]
    assert read_cursor(con, "hubspot", "companies") is not None
