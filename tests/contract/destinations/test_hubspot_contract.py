"""HubSpot destination against the emulator: company lists, property batches of 100, 207s, bisection, faults."""
from __future__ import annotations

import math
import time

import pytest

from destinations.hubspot import HubSpotDestination
from sandbox.hubspot.state import HubList
from segsync.errors import FatalError, QuotaExhausted
from segsync.retry import RetryPolicy
from segsync.sync.protocol import Change, apply_changes

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0)
LIST = "segsync: churn_risk"
PROPERTIES = {"segsync_segments": {"value": "segments"},
              "segsync_churn_risk": {"value": "member", "segment": "churn_risk"},
              "segsync_churn_risk_since": {"value": "entered_at", "segment": "churn_risk"}}


def destination(sandbox, **settings) -> HubSpotDestination:
    dest = HubSpotDestination.from_settings("hubspot", {"type": "hubspot", **settings}, sandbox.env())
    dest.policy = FAST
    return dest


def emulator(sandbox):
    return sandbox["hubspot"]


def add_companies(sandbox, count) -> list[str]:
    store = emulator(sandbox).store("companies")
    with emulator(sandbox).lock:
        return [store.insert({"name": f"Company {i}"}).id for i in range(count)]


def define_properties(sandbox):
    registry = emulator(sandbox).registry("companies")
    with emulator(sandbox).lock:
        registry.create({"name": "segsync_segments", "label": "segsync segments", "type": "enumeration",
                         "fieldType": "checkbox", "groupName": "companyinformation",
                         "options": [{"label": "Churn risk", "value": "churn_risk"},
                                     {"label": "Upsell", "value": "upsell"},
                                     {"label": "Usage cap", "value": "usage_cap"}]})
        registry.create({"name": "segsync_churn_risk", "label": "Churn risk", "type": "bool",
                         "fieldType": "booleancheckbox", "groupName": "companyinformation",
                         "options": [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]})
        registry.create({"name": "segsync_churn_risk_since", "label": "Churn risk since", "type": "date",
                         "fieldType": "date", "groupName": "companyinformation"})


def list_members(sandbox, name) -> set[str]:
    found = emulator(sandbox).state.list_by_name(name)
    return set() if found is None else set(found.members)


def writes(sandbox, suffix=None):
    entries = [e for e in emulator(sandbox).log.entries() if e.method in ("POST", "PUT", "PATCH", "DELETE")]
    return [e for e in entries if suffix is None or e.path.endswith(suffix)]


def run(dest, changes, **kw):
    dest.prepare(sorted({c.target for c in changes}))
    return apply_changes(dest, changes, policy=FAST, limiter=dest.limiter, **kw)


def members_changes(ids, op="add", target=LIST):
    return [Change(target=target, key=i, op=op, new={} if op == "add" else None, account_id=f"A{i}") for i in ids]


@pytest.mark.parametrize("size", [1, 499, 500, 501, 5000])
def test_list_membership_takes_one_call_up_to_the_documented_maximum(hubspot_sandbox, size):
    ids = add_companies(hubspot_sandbox, size)
    stats = run(destination(hubspot_sandbox), members_changes(ids))
    assert [r.outcome for r in stats.results].count("synced") == size
    assert len(writes(hubspot_sandbox, "/memberships/add")) == 1
    assert len(writes(hubspot_sandbox)) == 2  # + creating the MANUAL list once
    assert list_members(hubspot_sandbox, LIST) == set(ids)


def test_membership_calls_are_cut_at_the_maximum(hubspot_sandbox):
    emulator(hubspot_sandbox).configure({"list_membership_max": 500})
    ids = add_companies(hubspot_sandbox, 1001)
    dest = destination(hubspot_sandbox)
    dest.list_membership_max = 500
    run(dest, members_changes(ids))
    assert [e.records for e in writes(hubspot_sandbox, "/memberships/add")] == [500, 500, 1]
    assert list_members(hubspot_sandbox, LIST) == set(ids)


@pytest.mark.parametrize("size", [1, 499, 500, 501, 5000])
def test_property_updates_take_one_call_per_100(hubspot_sandbox, size):
    define_properties(hubspot_sandbox)
    ids = add_companies(hubspot_sandbox, size)
    dest = destination(hubspot_sandbox, properties=PROPERTIES)
    changes = [dest.change_for("add", "companies", i, {"segsync_segments": ["churn_risk"], "segsync_churn_risk": True,
                                                       "segsync_churn_risk_since": "2026-11-30"}, None, "A")
               for i in ids]
    stats = run(dest, changes)
    assert [r.outcome for r in stats.results].count("synced") == size
    assert len(writes(hubspot_sandbox)) == math.ceil(size / 100)
    assert [e.records for e in writes(hubspot_sandbox)][-1] == size - 100 * (math.ceil(size / 100) - 1)


def test_values_are_sent_as_internal_options_and_midnight_utc_dates(hubspot_sandbox):
    define_properties(hubspot_sandbox)
    [company] = add_companies(hubspot_sandbox, 1)
    dest = destination(hubspot_sandbox, properties=PROPERTIES)
    change = dest.change_for("add", "companies", company, {"segsync_segments": ["Upsell", "churn_risk"],
                                                           "segsync_churn_risk": True,
                                                           "segsync_churn_risk_since": "2026-11-30"}, None, "A")
    run(dest, [change])
    props = emulator(hubspot_sandbox).store("companies").records[company].props
    assert (props["segsync_segments"], props["segsync_churn_risk"], props["segsync_churn_risk_since"]) == \
        ("upsell;churn_risk", "true", "2026-11-30")
    leave = dest.change_for("remove", "companies", company, None, change.new, "A")
    assert leave.op == "update" and leave.new == {"segsync_segments": None, "segsync_churn_risk": False,
                                                  "segsync_churn_risk_since": None}
    run(dest, [leave])
    assert (props["segsync_segments"], props["segsync_churn_risk"], props["segsync_churn_risk_since"]) == \
        (None, "false", None)
    assert props["name"] == "Company 0"  # never touched: not owned


def test_a_207_rejects_only_the_failing_record(hubspot_sandbox):
    define_properties(hubspot_sandbox)
    ids = add_companies(hubspot_sandbox, 5)
    emulator(hubspot_sandbox).faults.add({"record_ids": [ids[2]], "code": "OBJECT_NOT_FOUND",
                                          "message": "record is being deleted"})
    dest = destination(hubspot_sandbox, properties=PROPERTIES)
    stats = run(dest, [dest.change_for("add", "companies", i, {"segsync_churn_risk": True}, None, "A") for i in ids])
    assert sorted((r.key, r.outcome, r.code) for r in stats.results) == sorted(
        [(i, "synced", None) for i in ids if i != ids[2]] + [(ids[2], "rejected", "OBJECT_NOT_FOUND")])
    assert len(writes(hubspot_sandbox)) == 1


def test_a_whole_batch_400_is_bisected_until_the_bad_record_is_isolated(hubspot_sandbox):
    define_properties(hubspot_sandbox)
    ids = add_companies(hubspot_sandbox, 10)
    dest = destination(hubspot_sandbox, properties=PROPERTIES)
    dest.prepare(["companies"])  # definitions read now; the option is deleted in HubSpot afterwards
    with emulator(hubspot_sandbox).lock:
        emulator(hubspot_sandbox).registry("companies").update("segsync_segments", {"options": [
            {"label": "Churn risk", "value": "churn_risk"}, {"label": "Upsell", "value": "upsell"}]})
    changes = [dest.change_for("add", "companies", i, {"segsync_segments": ["usage_cap" if n == 7 else "upsell"]},
                               None, "A") for n, i in enumerate(ids)]
    stats = apply_changes(dest, changes, policy=FAST, limiter=dest.limiter)
    outcome = {r.key: r.outcome for r in stats.results}
    assert outcome == {**{i: "synced" for i in ids}, ids[7]: "rejected"}
    assert [e.records for e in writes(hubspot_sandbox)] == [10, 5, 5, 2, 3, 1, 2]
    assert [e.status for e in writes(hubspot_sandbox)] == [400, 200, 400, 200, 400, 400, 200]


def test_lists_are_found_by_name_afterwards_and_no_changes_write_nothing(hubspot_sandbox):
    ids = add_companies(hubspot_sandbox, 3)
    run(destination(hubspot_sandbox), members_changes(ids))
    emulator(hubspot_sandbox).log.clear()
    again = destination(hubspot_sandbox)
    again.prepare([LIST])
    stats = apply_changes(again, [], policy=FAST)
    assert (stats.calls, writes(hubspot_sandbox)) == (0, [])
    stats = run(again, members_changes(ids[:1], op="remove"))
    assert [(r.key, r.outcome) for r in stats.results] == [(ids[0], "synced")]
    assert list_members(hubspot_sandbox, LIST) == set(ids[1:])
    assert len(emulator(hubspot_sandbox).state.lists) == 1


def test_a_list_of_the_same_name_that_is_not_manual_is_never_written(hubspot_sandbox):
    add_companies(hubspot_sandbox, 1)
    state = emulator(hubspot_sandbox).state
    with emulator(hubspot_sandbox).lock:
        state.lists["77"] = HubList("77", LIST, "0-2", "SNAPSHOT", None, 1_700_000_000_000, 1_700_000_000_000)
    with pytest.raises(FatalError, match="exists but is SNAPSHOT"):
        destination(hubspot_sandbox).prepare([LIST])
    assert writes(hubspot_sandbox) == []


def test_missing_companies_are_rejected_per_record_and_removals_of_deleted_ones_skipped(hubspot_sandbox):
    ids = add_companies(hubspot_sandbox, 2)
    dest = destination(hubspot_sandbox)
    stats = run(dest, members_changes([ids[0], "999999", ids[1]]))
    assert sorted((r.key, r.outcome, r.code) for r in stats.results) == sorted(
        [(ids[0], "synced", None), (ids[1], "synced", None), ("999999", "rejected", "RECORD_MISSING")])
    stats = run(dest, members_changes(["999999"], op="remove"))
    assert [(r.outcome, r.code) for r in stats.results] == [("skipped", "RECORD_MISSING")]


def test_429_honours_retry_after_and_5xx_is_retried_with_bounded_attempts(hubspot_sandbox):
    ids = add_companies(hubspot_sandbox, 2)
    dest = destination(hubspot_sandbox)
    dest.prepare([LIST])
    faults = emulator(hubspot_sandbox).faults
    faults.add({"method": "PUT", "path": "/memberships/add", "status": 429, "retry_after": 1, "nth": [1]})
    faults.add({"method": "PUT", "path": "/memberships/add", "status": 502, "nth": [1]})
    started = time.monotonic()
    stats = apply_changes(dest, members_changes(ids), policy=FAST, limiter=dest.limiter)
    assert time.monotonic() - started >= 1.0
    assert [e.status for e in writes(hubspot_sandbox, "/memberships/add")] == [429, 502, 200]
    assert (stats.retries, sorted(r.outcome for r in stats.results)) == (2, ["synced", "synced"])
    faults.add({"method": "PUT", "path": "/memberships/remove", "status": 503})
    stats = apply_changes(dest, members_changes(ids, op="remove"), policy=FAST, limiter=dest.limiter,
                          record_retries=0)
    assert [r.outcome for r in stats.results] == ["retry", "retry"]
    assert len(writes(hubspot_sandbox, "/memberships/remove")) == FAST.max_attempts
    assert list_members(hubspot_sandbox, LIST) == set(ids)


def test_a_merged_company_is_redirected_to_its_survivor(hubspot_sandbox):
    survivor, merged = add_companies(hubspot_sandbox, 2)
    store = emulator(hubspot_sandbox).store("companies")
    with emulator(hubspot_sandbox).lock:
        store.merge(store.records[survivor], store.records[merged])
    stats = run(destination(hubspot_sandbox), members_changes([merged]))
    assert [(r.key, r.outcome, r.code, r.redirect_to) for r in stats.results] == [
        (merged, "retry", "MERGED", survivor)]
    assert list_members(hubspot_sandbox, LIST) == set()


def test_a_spent_daily_allowance_stops_cleanly_instead_of_spinning(hubspot_sandbox):
    ids = add_companies(hubspot_sandbox, 3)
    dest = destination(hubspot_sandbox)
    dest.prepare([LIST])
    emulator(hubspot_sandbox).faults.add({"method": "PUT", "path": "/memberships/add", "status": 429,
                                          "code": "DAILY"})
    with pytest.raises(QuotaExhausted, match="daily limit"):
        apply_changes(dest, members_changes(ids), policy=FAST, limiter=dest.limiter)
    assert len(writes(hubspot_sandbox, "/memberships/add")) == 1


def test_an_invalid_token_stops_the_run_without_showing_the_token(hubspot_sandbox):
    token = "pat-na1-00000000-1111-2222-3333-444444444444"
    dest = HubSpotDestination.from_settings("hubspot", {"type": "hubspot"},
                                            {**hubspot_sandbox.env(), "HUBSPOT_ACCESS_TOKEN": token})
    with pytest.raises(FatalError) as caught:
        dest.prepare([LIST])
    assert "INVALID_AUTHENTICATION" in str(caught.value) and token not in str(caught.value)


def test_a_timed_out_call_is_retried(hubspot_sandbox):
    ids = add_companies(hubspot_sandbox, 2)
    dest = destination(hubspot_sandbox, timeout_seconds=0.3)
    dest.prepare([LIST])
    emulator(hubspot_sandbox).faults.add({"method": "PUT", "path": "/memberships/add", "delay": 1.0, "times": 1})
    stats = apply_changes(dest, members_changes(ids), policy=FAST, limiter=dest.limiter)
    assert (stats.calls, stats.retries, [r.outcome for r in stats.results]) == (2, 1, ["synced", "synced"])
    assert list_members(hubspot_sandbox, LIST) == set(ids)


def test_a_list_name_taken_by_a_contact_list_stops_with_a_clear_message(hubspot_sandbox):
    state = emulator(hubspot_sandbox).state
    with emulator(hubspot_sandbox).lock:
        state.lists["5"] = HubList("5", LIST, "0-1", "MANUAL", None, 1_700_000_000_000, 1_700_000_000_000)
    with pytest.raises(FatalError, match=r"refused to create the company list 'segsync: churn_risk'.*already exists"):
        destination(hubspot_sandbox).prepare([LIST])
