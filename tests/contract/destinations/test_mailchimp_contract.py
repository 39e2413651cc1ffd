"""Mailchimp destination against the emulator: tags per segment, minimum calls, nobody re-subscribed, faults."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from destinations.mailchimp import MailchimpDestination
from sandbox.mailchimp.emulator import DEFAULT_AUDIENCE_NAME
from sandbox.mailchimp.store import Member, Segment, now_iso, subscriber_hash
from segsync.errors import FatalError
from segsync.retry import RetryPolicy
from segsync.sync.protocol import Change, apply_changes

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0)
TAG = "segsync: churn_risk"


def destination(sandbox, **settings) -> MailchimpDestination:
    return MailchimpDestination.from_settings(
        "mailchimp", {"type": "mailchimp", "audience": DEFAULT_AUDIENCE_NAME, **settings}, sandbox.env())


def audience(sandbox):
    return sandbox["mailchimp"].default_audience()


def add_members(sandbox, emails, status="subscribed"):
    target = audience(sandbox)
    stamp = now_iso()
    with sandbox["mailchimp"].lock:
        for email in emails:
            target.members[subscriber_hash(email)] = Member(email_address=email, status=status, merge_fields={},
                                                            timestamp_signup=stamp, last_changed=stamp)


def tag_members(sandbox, tag) -> set[str]:
    target = audience(sandbox)
    segment = target.segment_by_name(tag)
    return set() if segment is None else {target.members[k].email_address.lower() for k in segment.members}


def writes(sandbox, path_suffix=None):
    entries = [e for e in sandbox["mailchimp"].log.entries() if e.method in ("POST", "PUT", "PATCH", "DELETE")]
    if path_suffix is not None:
        entries = [e for e in entries if e.path.endswith(path_suffix)]
    return entries


def run(dest, changes):
    dest.prepare(sorted({c.target for c in changes}))
    return apply_changes(dest, changes, policy=FAST, limiter=dest.limiter)


def adds(emails, tag=TAG):
    return [Change(target=tag, key=e.lower(), op="add", new={}, account_id="A1") for e in emails]


def removes(emails, tag=TAG):
    return [Change(target=tag, key=e.lower(), op="remove", old={}, account_id="A1") for e in emails]


@pytest.mark.parametrize("size", [1, 499, 500, 501, 5000])
def test_tagging_existing_members_takes_one_call_per_500(mailchimp_sandbox, size):
    emails = [f"person{i}@acme{i % 7}.example.com" for i in range(size)]
    add_members(mailchimp_sandbox, emails)
    stats = run(destination(mailchimp_sandbox), adds(emails))
    assert [r.outcome for r in stats.results].count("synced") == size
    segment_id = audience(mailchimp_sandbox).segment_by_name(TAG).id
    assert len(writes(mailchimp_sandbox, f"/segments/{segment_id}")) == math.ceil(size / 500)
    assert len(writes(mailchimp_sandbox)) == math.ceil(size / 500) + 1  # + creating the tag once
    assert tag_members(mailchimp_sandbox, TAG) == set(emails)


def test_second_run_reuses_the_tag_and_an_empty_change_set_writes_nothing(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["a@x.example.com"])
    run(destination(mailchimp_sandbox), adds(["a@x.example.com"]))
    mailchimp_sandbox["mailchimp"].log.clear()
    again = destination(mailchimp_sandbox)
    stats = run(again, [])
    again.prepare([TAG])
    assert stats.calls == 0
    assert writes(mailchimp_sandbox) == []
    assert [s.name for s in audience(mailchimp_sandbox).segments.values()] == [TAG]


def test_new_members_are_created_with_status_if_new_and_existing_statuses_never_change(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["Gone@Acme.example.com"], status="unsubscribed")
    add_members(mailchimp_sandbox, ["bounced@acme.example.com"], status="cleaned")
    add_members(mailchimp_sandbox, ["kept@acme.example.com"], status="subscribed")
    new = [f"new{i}@acme.example.com" for i in range(3)]
    stats = run(destination(mailchimp_sandbox), adds(["gone@acme.example.com", "bounced@acme.example.com",
                                                      "kept@acme.example.com", *new]))
    assert sorted((r.key, r.outcome) for r in stats.results) == sorted(
        [(e, "synced") for e in ["gone@acme.example.com", "bounced@acme.example.com", "kept@acme.example.com",
                                 *new]])
    members = audience(mailchimp_sandbox).members
    assert members[subscriber_hash("gone@acme.example.com")].status == "unsubscribed"
    assert members[subscriber_hash("bounced@acme.example.com")].status == "cleaned"
    assert [members[subscriber_hash(e)].status for e in new] == ["transactional"] * 3
    assert len(writes(mailchimp_sandbox, f"/lists/{audience(mailchimp_sandbox).id}")) == 1  # one batch subscribe
    assert tag_members(mailchimp_sandbox, TAG) == {"gone@acme.example.com", "bounced@acme.example.com",
                                                   "kept@acme.example.com", *new}


def test_forgotten_and_invalid_addresses_are_reported_per_record_and_the_rest_tagged(mailchimp_sandbox):
    target = audience(mailchimp_sandbox)
    target.forgotten.add(subscriber_hash("erased@acme.example.com"))
    add_members(mailchimp_sandbox, ["ok@acme.example.com"])
    stats = run(destination(mailchimp_sandbox, status_if_new="transactional"),
                adds(["ok@acme.example.com", "erased@acme.example.com", "not-an-email@", "fresh@acme.example.com"]))
    outcome = {r.key: (r.outcome, r.code) for r in stats.results}
    assert outcome == {"ok@acme.example.com": ("synced", None), "erased@acme.example.com": ("skipped", "FORGOTTEN"),
                       "not-an-email@": ("rejected", "INVALID_EMAIL"), "fresh@acme.example.com": ("synced", None)}
    assert target.members[subscriber_hash("fresh@acme.example.com")].status == "transactional"
    assert subscriber_hash("erased@acme.example.com") not in target.members
    assert tag_members(mailchimp_sandbox, TAG) == {"ok@acme.example.com", "fresh@acme.example.com"}


def test_emails_match_case_insensitively_by_subscriber_hash(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["Mixed.Case@Acme.example.com"])
    stats = run(destination(mailchimp_sandbox), adds(["mixed.case@acme.example.com"]))
    assert [(r.key, r.outcome) for r in stats.results] == [("mixed.case@acme.example.com", "synced")]
    assert writes(mailchimp_sandbox, f"/lists/{audience(mailchimp_sandbox).id}") == []  # no upsert needed
    assert tag_members(mailchimp_sandbox, TAG) == {"mixed.case@acme.example.com"}


def test_removes_touch_only_the_owned_tag_and_absent_members_count_as_removed(mailchimp_sandbox):
    emails = ["a@acme.example.com", "b@acme.example.com", "c@acme.example.com"]
    add_members(mailchimp_sandbox, emails)
    target = audience(mailchimp_sandbox)
    stamp = now_iso()
    vip = Segment(id=7, name="VIP", created_at=stamp, updated_at=stamp,
                  members={subscriber_hash(e): stamp for e in emails})
    target.segments[7] = vip
    dest = destination(mailchimp_sandbox)
    run(dest, adds(emails[:2]))
    stats = run(dest, removes(["a@acme.example.com", "c@acme.example.com", "nobody@acme.example.com"]))
    assert sorted((r.key, r.outcome, r.code) for r in stats.results) == [
        ("a@acme.example.com", "synced", None), ("c@acme.example.com", "synced", "NOT_IN_TAG"),
        ("nobody@acme.example.com", "skipped", "NOT_ON_AUDIENCE")]
    assert tag_members(mailchimp_sandbox, TAG) == {"b@acme.example.com"}
    assert len(vip.members) == 3
    assert {m.status for m in target.members.values()} == {"subscribed"}


def test_429_honours_retry_after_and_converges(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["a@acme.example.com"])
    dest = destination(mailchimp_sandbox)
    dest.prepare([TAG])
    mailchimp_sandbox["mailchimp"].faults.add({"method": "POST", "path": r"/segments/\d+$", "status": 429,
                                               "retry_after": 1, "times": 1})
    started = time.monotonic()
    stats = apply_changes(dest, adds(["a@acme.example.com"]), policy=RetryPolicy(max_attempts=3, base_delay=0.01),
                          limiter=dest.limiter)
    waited = time.monotonic() - started
    statuses = [e.status for e in writes(mailchimp_sandbox, f"/segments/{dest.segment_id(TAG)}")]
    assert statuses == [429, 200]
    assert (stats.retries, [r.outcome for r in stats.results]) == (1, ["synced"])
    assert 1.0 <= waited < 3.0  # the Retry-After of 1 s, not the 10 ms backoff


def test_persistent_503_is_retried_a_bounded_number_of_times_then_left_unconfirmed(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["a@acme.example.com", "b@acme.example.com"])
    dest = destination(mailchimp_sandbox)
    dest.prepare([TAG])
    mailchimp_sandbox["mailchimp"].faults.add({"method": "POST", "path": r"/segments/\d+$", "status": 503})
    stats = apply_changes(dest, adds(["a@acme.example.com", "b@acme.example.com"]), policy=FAST,
                          limiter=dest.limiter, record_retries=1)
    assert [r.outcome for r in stats.results] == ["retry", "retry"]
    assert len(writes(mailchimp_sandbox, f"/segments/{dest.segment_id(TAG)}")) == 3 * 2  # attempts x rounds
    assert tag_members(mailchimp_sandbox, TAG) == set()


def test_at_most_ten_calls_are_in_flight_per_api_key(mailchimp_sandbox):
    dest = destination(mailchimp_sandbox)
    dest.audience_id()
    mailchimp_sandbox["mailchimp"].faults.add({"method": "GET", "path": r"/lists/[^/]+/members$", "delay": 0.3})
    with ThreadPoolExecutor(max_workers=25) as pool:
        pages = list(pool.map(lambda _: dest._request(lambda: dest.client.lists.get_list_members_info(
            dest.list_id, count=1)), range(25)))
    statuses = [e.status for e in mailchimp_sandbox["mailchimp"].log.entries() if e.path.endswith("/members")]
    assert (len(pages), statuses) == (25, [200] * 25)  # the emulator answers 429 past 10 simultaneous calls


def test_a_wrong_api_key_stops_the_run_without_showing_the_key(mailchimp_sandbox):
    env = {**mailchimp_sandbox.env(), "MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us1"}
    dest = MailchimpDestination.from_settings("mailchimp", {"audience": DEFAULT_AUDIENCE_NAME}, env)
    with pytest.raises(FatalError) as caught:
        dest.prepare([TAG])
    assert "API Key Invalid" in str(caught.value)
    assert "0123456789abcdef0123456789abcdef" not in str(caught.value)


def test_a_timed_out_call_is_retried(mailchimp_sandbox):
    add_members(mailchimp_sandbox, ["a@acme.example.com"])
    dest = destination(mailchimp_sandbox, timeout_seconds=0.3)
    dest.prepare([TAG])
    mailchimp_sandbox["mailchimp"].faults.add({"method": "POST", "path": r"/segments/\d+$", "delay": 1.0,
                                               "times": 1})
    stats = apply_changes(dest, adds(["a@acme.example.com"]), policy=FAST, limiter=dest.limiter)
    assert (stats.calls, stats.retries, [r.outcome for r in stats.results]) == (2, 1, ["synced"])
    assert tag_members(mailchimp_sandbox, TAG) == {"a@acme.example.com"}
