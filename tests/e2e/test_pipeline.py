"""The main job end to end: RavenStack through every sandbox, state checked through the vendors' own APIs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.datasets import load_dataset, write_product_db
from sandbox.server import start
from segsync import store
from segsync.config import load_config
from segsync.segments import load_segments

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.prefect

READ_ONLY_POSTS = ("/search", "/batch/read", "/jobs/query", "/composite/sobjects/Account/describe")


def write_calls(emulator) -> list:
    """Logged calls that change vendor state (reads via POST, like HubSpot search, are not writes)."""
    return [e for e in emulator.log.entries()
            if e.method in ("POST", "PUT", "PATCH", "DELETE") and not any(p in e.path for p in READ_ONLY_POSTS)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, prefect_server):
    from sandbox.provision import provision_sandbox

    root = tmp_path_factory.mktemp("demo")
    sandbox = start(state_dir=root / "sandbox")
    saved = dict(os.environ)
    try:
        dataset = load_dataset({"dataset": "ravenstack"})
        for vendor in sandbox.running:
            with sandbox[vendor].lock:
                sandbox[vendor].reset()
                sandbox[vendor].seed(dataset)
        product_url = f"sqlite:///{root / 'product.db'}"
        write_product_db(dataset, product_url)
        os.environ.update(sandbox.env())
        os.environ.update({"PRODUCT_DB_URL": product_url, "SEGSYNC_WAREHOUSE": str(root / "warehouse.duckdb"),
                           "SEGSYNC_CONFIG": str(ROOT / "segsync.yaml")})
        config = load_config(ROOT / "segsync.yaml")
        provision_sandbox(config, dict(os.environ))
        for vendor in sandbox.running:
            sandbox[vendor].log.clear()
        yield sandbox, config
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sandbox.stop()


@pytest.fixture(scope="module")
def first_run(demo):
    from flows.pipeline import segsync_pipeline

    sandbox, config = demo
    summary = segsync_pipeline(config_path=str(ROOT / "segsync.yaml"))
    return summary


def membership(config=None) -> dict[str, set[str]]:
    con = store.connect(os.environ["SEGSYNC_WAREHOUSE"], read_only=True)
    try:
        rows = con.execute("SELECT segment, account_id FROM segment_membership WHERE NOT is_holdout").fetchall()
    finally:
        con.close()
    members: dict[str, set[str]] = {}
    for segment, account in rows:
        members.setdefault(segment, set()).add(account)
    return members


def warehouse_rows(sql: str) -> list[tuple]:
    con = store.connect(os.environ["SEGSYNC_WAREHOUSE"], read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_summary_shows_every_segment_with_members_and_every_destination_with_writes(demo, first_run):
    _, config = demo
    segments = load_segments(config.segments_path, config=config)
    assert first_run["status"] == "ok", first_run
    assert {s.name for s in segments} <= set(first_run["segments"])
    assert all(count > 0 for count in first_run["segments"].values()), first_run["segments"]
    assert first_run["accounts"] == 500
    for name in ("salesforce", "hubspot", "mailchimp"):
        report = first_run["destinations"][name]
        assert report["write_calls"] > 0 and report["retry"] == 0, (name, report)
    assert sum(first_run["sources"]["product_db"]["rows"].values()) > 25_000


def test_salesforce_accounts_carry_exactly_their_segments(demo, first_run):
    from destinations.salesforce_fields import field_layout
    from segsync.clients.salesforce import make_salesforce

    _, config = demo
    segments = load_segments(config.segments_path, config=config)
    layout = field_layout(config.destination("salesforce"), segments, "salesforce")
    members = membership(config)
    sf_ids = dict(warehouse_rows("SELECT account_id, salesforce_account_id FROM accounts "
                                 "WHERE salesforce_account_id IS NOT NULL"))
    expected = {sf_ids[a]: set() for a in sf_ids}
    for seg in layout.segments:
        for account in members.get(seg.segment, ()):
            if account in sf_ids:
                expected[sf_ids[account]].add(seg.segment)
    sf = make_salesforce(dict(os.environ))
    fields = ", ".join(["Id", layout.segments_field, *sorted(layout.checkbox_fields())])
    records = sf.query_all(f"SELECT {fields} FROM Account")["records"]
    checked = 0
    for record in records:
        if record["Id"] not in expected:
            continue
        want = expected[record["Id"]]
        got = set(filter(None, (record[layout.segments_field] or "").split(";")))
        assert got == want, record["Id"]
        for seg in layout.segments:
            assert bool(record[seg.checkbox]) == (seg.segment in want), (record["Id"], seg.checkbox)
        checked += 1
    assert checked == len(expected) > 400


def test_hubspot_lists_hold_exactly_the_members(demo, first_run):
    assert_hubspot_lists_match_membership()


def assert_hubspot_lists_match_membership():
    from destinations.audiences import DEFAULT_LIST_TEMPLATE
    from segsync.clients.hubspot import make_hubspot

    members = membership()
    company = dict(warehouse_rows("SELECT account_id, hubspot_company_id FROM accounts "
                                  "WHERE hubspot_company_id IS NOT NULL"))
    client = make_hubspot(dict(os.environ))
    for segment, accounts in members.items():
        name = DEFAULT_LIST_TEMPLATE.replace("{segment}", segment)
        list_id = client.crm.lists.lists_api.get_by_name(list_name=name, object_type_id="0-2").list.list_id
        got, after = set(), None
        while True:
            page = client.crm.lists.memberships_api.get_page(list_id=list_id, limit=250, **({"after": after} if after else {}))
            got |= {str(r.record_id) for r in page.results}
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                break
        assert got == {company[a] for a in accounts if a in company}, segment


def test_mailchimp_contacts_carry_exactly_their_segment_tags(demo, first_run):
    from destinations.mailchimp import DEFAULT_TAG_TEMPLATE

    sandbox, config = demo
    members = membership(config)
    contacts = warehouse_rows("SELECT lower(email), account_id FROM contacts WHERE email IS NOT NULL")
    expected: dict[str, set[str]] = {}
    for email, account in contacts:
        tags = expected.setdefault(email, set())
        for segment, accounts in members.items():
            if account in accounts:
                tags.add(DEFAULT_TAG_TEMPLATE.replace("{segment}", segment))
    from segsync.clients.mailchimp import make_mailchimp

    client = make_mailchimp(dict(os.environ))
    audience = client.lists.get_all_lists()["lists"][0]["id"]
    present: dict[str, set[str]] = {}
    offset = 0
    while True:
        page = client.lists.get_list_members_info(audience, count=1000, offset=offset)
        for member in page["members"]:
            present[member["email_address"].lower()] = {t["name"] for t in member["tags"]}
        offset += 1000
        if offset >= page["total_items"]:
            break
    forgotten = {e for e in expected if e not in present}
    assert len(forgotten) <= 5  # permanently deleted addresses are skipped and reported, never re-added
    for email, want in expected.items():
        if email in present:
            assert {t for t in present[email] if t.startswith("segsync: ")} == want, email


def test_second_run_without_changes_writes_nothing(demo, first_run):
    from flows.pipeline import segsync_pipeline

    sandbox, _ = demo
    for vendor in sandbox.running:
        sandbox[vendor].log.clear()
    summary = segsync_pipeline(config_path=str(ROOT / "segsync.yaml"))
    assert all(r["write_calls"] == 0 for r in summary["destinations"].values()), summary["destinations"]
    for vendor in ("salesforce", "hubspot", "mailchimp", "klaviyo"):
        assert write_calls(sandbox[vendor]) == [], vendor
    assert summary["segments"] == first_run["segments"]


def test_reconciled_run_without_drift_writes_nothing_and_reports_no_drift(demo, first_run):
    """`segsync run --reconcile` right after a sync: every destination holds what segsync confirmed (the
    observed Salesforce fields hash equal to the confirmed payloads), so nothing is marked and nothing sent."""
    from flows.pipeline import segsync_pipeline

    sandbox, _ = demo
    for vendor in sandbox.running:
        sandbox[vendor].log.clear()
    summary = segsync_pipeline(config_path=str(ROOT / "segsync.yaml"), reconcile=True)
    drift = {name: report["reconcile"] for name, report in summary["destinations"].items()}
    assert set(drift) == {"salesforce", "hubspot", "mailchimp"}  # the enabled ones
    assert all(d["checked"] > 0 for d in drift.values()), drift
    assert {(n, d["missing"], d["changed"], d["foreign"]) for n, d in drift.items()} == \
        {(n, 0, 0, 0) for n in drift}
    assert all(r["write_calls"] == 0 for r in summary["destinations"].values()), summary["destinations"]
    for vendor in ("salesforce", "hubspot", "mailchimp", "klaviyo"):
        assert write_calls(sandbox[vendor]) == [], vendor


def test_dry_run_sends_nothing_and_changes_no_stored_state(demo, first_run):
    """A dry run far in the future plans big changes but leaves membership, history and sync state alone."""
    from flows.pipeline import segsync_pipeline

    sandbox, _ = demo
    snapshot_sql = ("SELECT (SELECT count(*) FROM segment_membership), (SELECT count(*) FROM segment_history), "
                    "(SELECT count(*) FROM sync_state), (SELECT max(as_of_date) FROM accounts)")
    before = warehouse_rows(snapshot_sql)
    for vendor in sandbox.running:
        sandbox[vendor].log.clear()
    summary = segsync_pipeline(config_path=str(ROOT / "segsync.yaml"), as_of="2099-01-01", dry_run=True)
    assert summary["dry_run"] is True and summary["segments"] != first_run["segments"]
    assert all(r["write_calls"] == 0 for r in summary["destinations"].values())
    for vendor in ("salesforce", "hubspot", "mailchimp"):
        assert write_calls(sandbox[vendor]) == [], vendor
    assert warehouse_rows(snapshot_sql) == before
    assert not Path(os.environ["SEGSYNC_WAREHOUSE"]).with_name("warehouse.dry-run.duckdb").exists()


def test_guardrail_stops_a_mass_removal_until_that_plan_is_approved(demo, first_run, tmp_path):
    """A segment edit that would drop most members stops before sending; approving that exact plan applies it."""
    import shutil

    from flows.pipeline import segsync_pipeline

    sandbox, _ = demo
    shutil.copytree(ROOT / "segment_defs", tmp_path / "segment_defs")
    shutil.copy(ROOT / "segsync.yaml", tmp_path / "segsync.yaml")
    keep = sorted(membership(None)["churn_risk"])[0]
    churn = tmp_path / "segment_defs" / "churn_risk.yaml"
    churn.write_text("name: churn_risk\ndescription: shrunk by mistake\nowner: test\n"
                     f"where:\n  all:\n    - {{field: account_id, op: eq, value: '{keep}'}}\n")
    for vendor in sandbox.running:
        sandbox[vendor].log.clear()

    blocked = segsync_pipeline(config_path=str(tmp_path / "segsync.yaml"))
    assert blocked["status"] == "blocked"
    assert blocked["segments"]["churn_risk"] == 1
    for name in ("salesforce", "hubspot", "mailchimp"):
        report = blocked["destinations"][name]
        assert "churn_risk" in report["blocked_reason"] and report["write_calls"] == 0, (name, report)
        assert write_calls(sandbox[name]) == [], name

    approved = [blocked["destinations"][n]["plan_fingerprint"] for n in ("salesforce", "hubspot", "mailchimp")]
    applied = segsync_pipeline(config_path=str(tmp_path / "segsync.yaml"), approved=approved)
    assert applied["status"] == "ok", applied["destinations"]
    assert applied["segments"]["churn_risk"] == 1
    # churn_risk and the lifecycle stage that follows it lose their members
    assert applied["destinations"]["hubspot"]["removes"] >= 2 * (first_run["segments"]["churn_risk"] - 1)
    assert_hubspot_lists_match_membership()
    assert applied["destinations"]["salesforce"]["write_calls"] >= 1
    from segsync.clients.salesforce import make_salesforce

    flagged = make_salesforce(dict(os.environ)).query_all(
        "SELECT Id FROM Account WHERE Segsync_Churn_Risk__c = true")["records"]
    sf_id = dict(warehouse_rows("SELECT account_id, salesforce_account_id FROM accounts"))[keep]
    assert [r["Id"] for r in flagged] == [sf_id]
