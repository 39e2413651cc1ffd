"""HubSpot, Mailchimp and Klaviyo through the real planner and engine: desired SQL, idempotent re-runs, removals."""
from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa

from sandbox.mailchimp.emulator import DEFAULT_AUDIENCE_NAME
from sandbox.mailchimp.store import Member, now_iso, subscriber_hash
from segsync import store
from segsync.config import ProjectConfig
from segsync.retry import RetryPolicy
from segsync.sync.engine import apply_sync
from segsync.sync.planner import plan_sync

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0)
SEGMENTS = [SimpleNamespace(name="churn_risk", destinations={}),
            SimpleNamespace(name="upsell", destinations={"hubspot": True, "klaviyo": False,
                                                        "mailchimp": {"tag_name": "Upsell"}})]


def warehouse_with(path, companies: dict[str, str | None], membership: list[tuple[str, str]],
                   contacts: list[tuple[str, str]]):
    """accounts (account_id -> hubspot id), segment_membership, contacts, segment_history in a fresh warehouse."""
    con = store.connect(path)
    con.register("a", pa.table({"account_id": list(companies), "hubspot_company_id": list(companies.values())}))
    con.execute("CREATE TABLE accounts AS SELECT * FROM a")
    con.register("m", pa.table({"segment": [s for s, _ in membership], "account_id": [a for _, a in membership],
                                "is_holdout": [False] * len(membership)}))
    con.execute("CREATE OR REPLACE TABLE segment_membership AS SELECT * FROM m")
    con.register("c", pa.table({"account_id": [a for a, _ in contacts], "email": [e for _, e in contacts]}))
    con.execute("CREATE TABLE contacts AS SELECT * FROM c")
    con.execute("""CREATE OR REPLACE TABLE segment_history AS
                   SELECT segment, account_id, TIMESTAMP '2026-11-30 17:45:00' AS entered_at,
                          NULL::TIMESTAMP AS exited_at FROM segment_membership""")
    return con


def sync(con, destinations: dict, env: dict, run_id: str):
    config = ProjectConfig(destinations=destinations)
    plans = plan_sync(con, config, SEGMENTS, env=env, run_id=run_id)
    return plans, apply_sync(con, plans, env=env, policy=FAST)


def replace_membership(con, membership):
    con.register("m2", pa.table({"segment": [s for s, _ in membership], "account_id": [a for _, a in membership],
                                 "is_holdout": [False] * len(membership)}))
    con.execute("CREATE OR REPLACE TABLE segment_membership AS SELECT * FROM m2")


def test_hubspot_lists_and_properties_follow_membership_and_a_rerun_writes_nothing(hubspot_sandbox, warehouse):
    emulator = hubspot_sandbox["hubspot"]
    companies = emulator.store("companies")
    with emulator.lock:
        ids = [companies.insert({"name": f"Co {i}"}).id for i in range(3)]
        emulator.registry("companies").create({
            "name": "segsync_segments", "label": "Segments", "type": "enumeration", "fieldType": "checkbox",
            "groupName": "companyinformation", "options": [{"label": "Churn risk", "value": "churn_risk"},
                                                           {"label": "Upsell", "value": "upsell"}]})
        emulator.registry("companies").create({
            "name": "churn_risk_since", "label": "Churn risk since", "type": "date", "fieldType": "date",
            "groupName": "companyinformation"})
    con = warehouse_with(warehouse, {"A1": ids[0], "A2": ids[1], "A3": ids[2], "A4": None},
                         [("churn_risk", "A1"), ("churn_risk", "A2"), ("upsell", "A2"), ("churn_risk", "A4")], [])
    settings = {"hubspot": {"type": "hubspot", "properties": {
        "segsync_segments": {"value": "segments"},
        "churn_risk_since": {"value": "entered_at", "segment": "churn_risk"}}}}
    plans, reports = sync(con, settings, hubspot_sandbox.env(), "r1")
    assert (plans["hubspot"].adds, reports["hubspot"].synced, reports["hubspot"].rejected) == (5, 5, 0)
    assert set(emulator.state.list_by_name("segsync: churn_risk").members) == {ids[0], ids[1]}
    assert set(emulator.state.list_by_name("segsync: upsell").members) == {ids[1]}
    props = {i: companies.records[i].props for i in ids}
    assert [(props[i].get("segsync_segments"), props[i].get("churn_risk_since")) for i in ids] == [
        ("churn_risk", "2026-11-30"), ("churn_risk;upsell", "2026-11-30"), (None, None)]

    emulator.log.clear()
    plans, reports = sync(con, settings, hubspot_sandbox.env(), "r2")
    assert (plans["hubspot"].total, reports["hubspot"].write_calls) == (0, 0)
    assert [e for e in emulator.log.entries() if e.method != "GET"] == []

    replace_membership(con, [("churn_risk", "A2"), ("upsell", "A2")])
    plans, reports = sync(con, settings, hubspot_sandbox.env(), "r3")
    assert (plans["hubspot"].removes, reports["hubspot"].synced) == (2, 2)
    assert set(emulator.state.list_by_name("segsync: churn_risk").members) == {ids[1]}
    assert (props[ids[0]].get("segsync_segments"), props[ids[0]].get("churn_risk_since")) == (None, None)
    assert props[ids[0]]["name"] == "Co 0"


def test_mailchimp_tags_follow_membership_without_touching_statuses(mailchimp_sandbox, warehouse):
    audience = mailchimp_sandbox["mailchimp"].default_audience()
    stamp = now_iso()
    for email, status in [("Ann@Acme.example.com", "subscribed"), ("bob@acme.example.com", "unsubscribed")]:
        audience.members[subscriber_hash(email)] = Member(email_address=email, status=status, merge_fields={},
                                                          timestamp_signup=stamp, last_changed=stamp)
    con = warehouse_with(warehouse, {"A1": None, "A2": None},
                         [("churn_risk", "A1"), ("upsell", "A1"), ("churn_risk", "A2")],
                         [("A1", "ann@acme.example.com"), ("A1", "bob@acme.example.com"),
                          ("A2", "new@beta.example.com")])
    settings = {"mailchimp": {"type": "mailchimp", "audience": DEFAULT_AUDIENCE_NAME}}
    plans, reports = sync(con, settings, mailchimp_sandbox.env(), "r1")
    assert (plans["mailchimp"].adds, reports["mailchimp"].synced) == (5, 5)
    tags = {s.name: {audience.members[k].email_address.lower() for k in s.members} for s in audience.segments.values()}
    assert tags == {"segsync: churn_risk": {"ann@acme.example.com", "bob@acme.example.com", "new@beta.example.com"},
                    "Upsell": {"ann@acme.example.com", "bob@acme.example.com"}}
    assert [audience.members[subscriber_hash(e)].status for e in
            ("ann@acme.example.com", "bob@acme.example.com", "new@beta.example.com")] == \
        ["subscribed", "unsubscribed", "transactional"]  # new addresses: the consent-safe default
    mailchimp_sandbox["mailchimp"].log.clear()
    plans, reports = sync(con, settings, mailchimp_sandbox.env(), "r2")
    assert (plans["mailchimp"].total, reports["mailchimp"].write_calls) == (0, 0)
    assert [e for e in mailchimp_sandbox["mailchimp"].log.entries() if e.method != "GET"] == []


def test_klaviyo_lists_follow_membership_and_a_rerun_writes_nothing(klaviyo_sandbox, warehouse):
    state = klaviyo_sandbox["klaviyo"].state
    with klaviyo_sandbox["klaviyo"].lock:
        state.store_profile(None, {"email": "Ann@Acme.example.com"})
    con = warehouse_with(warehouse, {"A1": None, "A2": None}, [("churn_risk", "A1"), ("upsell", "A1"),
                                                                ("churn_risk", "A2")],
                         [("A1", "ann@acme.example.com"), ("A2", "new@beta.example.com")])
    settings = {"klaviyo": {"type": "klaviyo"}}
    plans, reports = sync(con, settings, klaviyo_sandbox.env(), "r1")
    assert (plans["klaviyo"].adds, reports["klaviyo"].synced) == (2, 2)  # upsell is not routed to klaviyo
    [churn] = state.lists.values()
    assert churn.name == "segsync: churn_risk"
    assert {state.profiles[p]["email"].lower() for p in churn.members} == {"ann@acme.example.com",
                                                                           "new@beta.example.com"}
    klaviyo_sandbox["klaviyo"].log.clear()
    plans, reports = sync(con, settings, klaviyo_sandbox.env(), "r2")
    assert (plans["klaviyo"].total, reports["klaviyo"].write_calls) == (0, 0)
    assert [e for e in klaviyo_sandbox["klaviyo"].log.entries() if e.method != "GET"] == []
    replace_membership(con, [("churn_risk", "A2")])
    plans, reports = sync(con, settings, klaviyo_sandbox.env(), "r3")
    assert (plans["klaviyo"].removes, reports["klaviyo"].synced) == (1, 1)
    assert {state.profiles[p]["email"].lower() for p in churn.members} == {"new@beta.example.com"}


def test_hubspot_contact_properties_carry_their_account_segments(hubspot_sandbox, warehouse):
    emulator = hubspot_sandbox["hubspot"]
    contacts = emulator.store("contacts")
    with emulator.lock:
        ids = [contacts.insert({"email": f"p{i}@acme.example.com"}).id for i in range(3)]
        emulator.registry("contacts").create({
            "name": "segsync_segments", "label": "Segments", "type": "enumeration", "fieldType": "checkbox",
            "groupName": "contactinformation", "options": [{"label": "Churn risk", "value": "churn_risk"},
                                                           {"label": "Upsell", "value": "upsell"}]})
    con = warehouse_with(warehouse, {"A1": None, "A2": None}, [("churn_risk", "A1"), ("upsell", "A1"),
                                                                ("upsell", "A2")], [])
    con.register("hc", pa.table({"account_id": ["A1", "A1", "A2"], "email": [f"p{i}@acme.example.com" for i in
                                                                             range(3)], "hubspot_contact_id": ids}))
    con.execute("CREATE OR REPLACE TABLE contacts AS SELECT * FROM hc")
    settings = {"hubspot": {"type": "hubspot", "lists": False,
                            "contact_properties": {"segsync_segments": {"value": "segments"}}}}
    plans, reports = sync(con, settings, hubspot_sandbox.env(), "r1")
    assert (plans["hubspot"].adds, reports["hubspot"].synced, reports["hubspot"].write_calls) == (3, 3, 1)
    assert [contacts.records[i].props.get("segsync_segments") for i in ids] == [
        "churn_risk;upsell", "churn_risk;upsell", "upsell"]
    replace_membership(con, [("upsell", "A1")])
    plans, reports = sync(con, settings, hubspot_sandbox.env(), "r2")
    assert (plans["hubspot"].updates, plans["hubspot"].removes, reports["hubspot"].synced) == (2, 1, 3)
    assert [contacts.records[i].props.get("segsync_segments") for i in ids] == ["upsell", "upsell", None]


def test_planning_and_validation_need_no_credentials(warehouse):
    """Destinations build their clients on first use: `segsync plan --dry-run`/`validate` work without tokens."""
    from destinations import create_destination

    for name, settings in {"hubspot": {"type": "hubspot"}, "mailchimp": {"type": "mailchimp"},
                           "klaviyo": {"type": "klaviyo"}}.items():
        target = create_destination(name, settings, {})
        assert target.check(SEGMENTS) == [] and target.claims(SEGMENTS)
        assert target.ownership(SEGMENTS).targets
