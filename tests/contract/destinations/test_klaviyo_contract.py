"""Klaviyo destination against the emulator: a list per segment, bulk calls of 1,000, imports, daily cap, faults."""
from __future__ import annotations

import math
import time

import pytest

from destinations.klaviyo import KlaviyoDestination
from segsync.errors import QuotaExhausted
from segsync.retry import RetryPolicy
from segsync.sync.protocol import Change, apply_changes

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0)
LIST = "segsync: churn_risk"


def destination(sandbox, **settings) -> KlaviyoDestination:
    dest = KlaviyoDestination.from_settings("klaviyo", {"type": "klaviyo", **settings}, sandbox.env())
    dest.policy = FAST
    return dest


def state(sandbox):
    return sandbox["klaviyo"].state


def add_profiles(sandbox, emails) -> dict[str, str]:
    with sandbox["klaviyo"].lock:
        return {e.lower(): state(sandbox).store_profile(None, {"email": e}) for e in emails}


def list_members(sandbox, name) -> set[str]:
    found = [item for item in state(sandbox).lists.values() if item.name == name]
    if not found:
        return set()
    return {state(sandbox).profiles[pid]["email"].lower() for pid in found[0].members}


def writes(sandbox, suffix=None):
    entries = [e for e in sandbox["klaviyo"].log.entries() if e.method in ("POST", "DELETE", "PATCH")]
    return [e for e in entries if suffix is None or e.path.rstrip("/").endswith(suffix)]


def run(dest, changes, **kw):
    dest.prepare(sorted({c.target for c in changes}))
    return apply_changes(dest, changes, policy=FAST, limiter=dest.limiter, **kw)


def adds(emails, target=LIST):
    return [Change(target=target, key=e.lower(), op="add", new={}, account_id="A1") for e in emails]


def removes(emails, target=LIST):
    return [Change(target=target, key=e.lower(), op="remove", old={}, account_id="A1") for e in emails]


@pytest.mark.parametrize("size", [1, 499, 500, 501, 5000])
def test_adding_existing_profiles_takes_one_call_per_1000(klaviyo_sandbox, size):
    emails = [f"person{i}@acme.example.com" for i in range(size)]
    add_profiles(klaviyo_sandbox, emails)
    stats = run(destination(klaviyo_sandbox), adds(emails))
    assert [r.outcome for r in stats.results].count("synced") == size
    assert len(writes(klaviyo_sandbox, "/relationships/profiles")) == math.ceil(size / 1000)
    assert len(writes(klaviyo_sandbox)) == math.ceil(size / 1000) + 1  # + creating the list once
    assert list_members(klaviyo_sandbox, LIST) == set(emails)


def test_the_list_is_reused_by_name_and_an_empty_change_set_writes_nothing(klaviyo_sandbox):
    add_profiles(klaviyo_sandbox, ["a@acme.example.com"])
    run(destination(klaviyo_sandbox), adds(["a@acme.example.com"]))
    klaviyo_sandbox["klaviyo"].log.clear()
    again = destination(klaviyo_sandbox)
    again.prepare([LIST])
    stats = apply_changes(again, [], policy=FAST)
    assert stats.calls == 0
    assert writes(klaviyo_sandbox) == []
    assert [item.name for item in state(klaviyo_sandbox).lists.values()] == [LIST]


def test_missing_profiles_are_imported_into_the_list_in_one_job_and_bad_addresses_rejected(klaviyo_sandbox):
    add_profiles(klaviyo_sandbox, ["known@acme.example.com"])
    new = ["new1@acme.example.com", "broken@", "new2@acme.example.com"]
    stats = run(destination(klaviyo_sandbox), adds(["known@acme.example.com", *new]))
    outcome = {r.key: (r.outcome, r.code) for r in stats.results}
    assert outcome == {"known@acme.example.com": ("synced", None), "new1@acme.example.com": ("synced", None),
                       "broken@": ("rejected", "invalid"), "new2@acme.example.com": ("synced", None)}
    assert len(writes(klaviyo_sandbox, "/profile-bulk-import-jobs")) == 1
    assert len(writes(klaviyo_sandbox, "/relationships/profiles")) == 1
    assert list_members(klaviyo_sandbox, LIST) == {"known@acme.example.com", "new1@acme.example.com",
                                                   "new2@acme.example.com"}


def test_a_stale_profile_is_isolated_by_bisection_and_the_good_records_land(klaviyo_sandbox):
    emails = [f"p{i}@acme.example.com" for i in range(8)]
    add_profiles(klaviyo_sandbox, emails)
    dest = destination(klaviyo_sandbox)
    dest.profile_ids["p5@acme.example.com"] = "01DELETEDPROFILE0000000000"  # deleted after it was looked up
    stats = run(dest, adds(emails))
    outcome = {r.key: r.outcome for r in stats.results}
    assert outcome == {**{e: "synced" for e in emails}, "p5@acme.example.com": "rejected"}
    assert list_members(klaviyo_sandbox, LIST) == set(emails) - {"p5@acme.example.com"}


def test_removes_touch_only_the_owned_list_and_unknown_emails_are_skipped(klaviyo_sandbox):
    ids = add_profiles(klaviyo_sandbox, ["a@acme.example.com", "b@acme.example.com"])
    with klaviyo_sandbox["klaviyo"].lock:
        other = state(klaviyo_sandbox).create_list({"data": {"type": "list", "attributes": {"name": "Newsletter"}}})
        other.members.update({pid: "2026-01-01T00:00:00+00:00" for pid in ids.values()})
    dest = destination(klaviyo_sandbox)
    run(dest, adds(["a@acme.example.com", "b@acme.example.com"]))
    stats = run(dest, removes(["a@acme.example.com", "ghost@acme.example.com"]))
    assert sorted((r.key, r.outcome, r.code) for r in stats.results) == [
        ("a@acme.example.com", "synced", None), ("ghost@acme.example.com", "skipped", "NO_PROFILE")]
    assert list_members(klaviyo_sandbox, LIST) == {"b@acme.example.com"}
    assert len(other.members) == 2


def test_the_daily_list_creation_cap_stops_cleanly_before_creating_anything(klaviyo_sandbox):
    with klaviyo_sandbox["klaviyo"].lock:
        state(klaviyo_sandbox).create_list({"data": {"type": "list", "attributes": {"name": "made today"}}})
    dest = destination(klaviyo_sandbox, list_creations_per_day=2)
    with pytest.raises(QuotaExhausted, match=r"2 list\(s\) to create .* only 1 of the 2 daily list creations"):
        dest.prepare(["segsync: a", "segsync: b"])
    assert writes(klaviyo_sandbox, "/api/lists") == []
    dest.prepare(["segsync: a"])
    assert [e.status for e in writes(klaviyo_sandbox, "/api/lists")] == [201]


def test_429_honours_retry_after_and_503_is_retried(klaviyo_sandbox):
    add_profiles(klaviyo_sandbox, ["a@acme.example.com", "b@acme.example.com"])
    dest = destination(klaviyo_sandbox)
    dest.prepare([LIST])
    faults = klaviyo_sandbox["klaviyo"].faults
    faults.add({"method": "POST", "path": "/relationships/profiles", "status": 429, "retry_after": 1, "nth": [1]})
    faults.add({"method": "POST", "path": "/relationships/profiles", "status": 503, "nth": [1]})
    started = time.monotonic()
    stats = apply_changes(dest, adds(["a@acme.example.com", "b@acme.example.com"]), policy=FAST,
                          limiter=dest.limiter)
    waited = time.monotonic() - started
    assert [e.status for e in writes(klaviyo_sandbox, "/relationships/profiles")] == [429, 503, 204]
    assert (stats.retries, sorted(r.outcome for r in stats.results)) == (2, ["synced", "synced"])
    assert waited >= 1.0
    assert list_members(klaviyo_sandbox, LIST) == {"a@acme.example.com", "b@acme.example.com"}


def test_a_timed_out_call_is_retried(klaviyo_sandbox):
    add_profiles(klaviyo_sandbox, ["a@acme.example.com"])
    dest = destination(klaviyo_sandbox, timeout_seconds=0.3)
    dest.prepare([LIST])
    klaviyo_sandbox["klaviyo"].faults.add({"method": "POST", "path": "/relationships/profiles", "delay": 1.0,
                                           "times": 1})
    stats = apply_changes(dest, adds(["a@acme.example.com"]), policy=FAST, limiter=dest.limiter)
    assert (stats.calls, stats.retries, [r.outcome for r in stats.results]) == (2, 1, ["synced"])
    assert list_members(klaviyo_sandbox, LIST) == {"a@acme.example.com"}
