"""Mailchimp and Klaviyo count their own write requests: a send that must create members first makes two write
calls, and the report's write_calls equals the write requests in the emulator's request log."""
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
SEGMENTS = [SimpleNamespace(name="churn_risk", destinations={})]
CONTACTS = [("A1", "ann@acme.example.com"), ("A2", "new@beta.example.com"), ("A3", "zed@gamma.example.com")]


def warehouse_with_contacts(path):
    """Three accounts in churn_risk, one contact each (only ann exists at the vendor)."""
    con = store.connect(path)
    con.register("a", pa.table({"account_id": ["A1", "A2", "A3"]}))
    con.execute("CREATE TABLE accounts AS SELECT * FROM a")
    con.register("m", pa.table({"segment": ["churn_risk"] * 3, "account_id": ["A1", "A2", "A3"],
                                "is_holdout": [False] * 3}))
    con.execute("CREATE TABLE segment_membership AS SELECT * FROM m")
    con.register("c", pa.table({"account_id": [a for a, _ in CONTACTS], "email": [e for _, e in CONTACTS]}))
    con.execute("CREATE TABLE contacts AS SELECT * FROM c")
    return con


def sync(con, settings: dict, env: dict):
    config = ProjectConfig(destinations=settings)
    plans = plan_sync(con, config, SEGMENTS, env=env, run_id="w1")
    return plans, apply_sync(con, plans, env=env, policy=FAST)


def writes_in_log(emulator) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in emulator.log.entries() if e.method != "GET"]


def test_mailchimp_counts_the_subscribe_and_the_tag_call(mailchimp_sandbox, warehouse):
    emulator = mailchimp_sandbox["mailchimp"]
    audience = emulator.default_audience()
    stamp = now_iso()
    with emulator.lock:
        audience.members[subscriber_hash("Ann@Acme.example.com")] = Member(
            email_address="Ann@Acme.example.com", status="subscribed", merge_fields={}, timestamp_signup=stamp,
            last_changed=stamp)
        tag = audience._new_segment("segsync: churn_risk")  # the tag exists: every write below carries changes
    emulator.log.clear()
    con = warehouse_with_contacts(warehouse)
    plans, reports = sync(con, {"mailchimp": {"type": "mailchimp", "audience": DEFAULT_AUDIENCE_NAME}},
                          mailchimp_sandbox.env())
    report = reports["mailchimp"]
    assert (plans["mailchimp"].adds, report.synced, report.rejected, report.retry) == (3, 3, 0, 0)
    assert writes_in_log(emulator) == [("POST", f"/3.0/lists/{audience.id}"),  # subscribe the 2 new addresses
                                       ("POST", f"/3.0/lists/{audience.id}/segments/{tag.id}")]  # tag all 3
    assert report.write_calls == len(writes_in_log(emulator)) == 2
    assert len(tag.members) == 3
    con.close()


def test_klaviyo_counts_the_import_job_and_the_relationship_call(klaviyo_sandbox, warehouse):
    emulator = klaviyo_sandbox["klaviyo"]
    state = emulator.state
    with emulator.lock:
        state.store_profile(None, {"email": "Ann@Acme.example.com"})
        listing = state.create_list({"data": {"type": "list", "attributes": {"name": "segsync: churn_risk"}}})
    emulator.log.clear()
    con = warehouse_with_contacts(warehouse)
    plans, reports = sync(con, {"klaviyo": {"type": "klaviyo"}}, klaviyo_sandbox.env())
    report = reports["klaviyo"]
    assert (plans["klaviyo"].adds, report.synced, report.rejected, report.retry) == (3, 3, 0, 0)
    writes = writes_in_log(emulator)
    assert sorted(method + " " + path.rstrip("/") for method, path in writes) == [
        "POST /api/lists/" + listing.id + "/relationships/profiles",  # the existing profile
        "POST /api/profile-bulk-import-jobs"]  # the 2 new profiles, created into the list
    assert report.write_calls == len(writes) == 2
    assert {state.profiles[p]["email"].lower() for p in listing.members} == {e for _, e in CONTACTS}
    con.close()


def test_reruns_make_no_write_request(mailchimp_sandbox, klaviyo_sandbox, warehouse):
    con = warehouse_with_contacts(warehouse)
    settings = {"mailchimp": {"type": "mailchimp", "audience": DEFAULT_AUDIENCE_NAME}, "klaviyo": {"type": "klaviyo"}}
    env = {**mailchimp_sandbox.env(), **klaviyo_sandbox.env()}
    _plans, first = sync(con, settings, env)
    assert (first["mailchimp"].synced, first["klaviyo"].synced) == (3, 3)
    for emulator in (mailchimp_sandbox["mailchimp"], klaviyo_sandbox["klaviyo"]):
        emulator.log.clear()
    plans, again = sync(con, settings, env)
    assert (plans["mailchimp"].total, plans["klaviyo"].total) == (0, 0)
    assert (again["mailchimp"].write_calls, again["klaviyo"].write_calls) == (0, 0)
    assert writes_in_log(mailchimp_sandbox["mailchimp"]) == writes_in_log(klaviyo_sandbox["klaviyo"]) == []
    con.close()
