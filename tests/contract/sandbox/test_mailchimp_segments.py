"""Mailchimp emulator: tags = static segments (one store), 500-item segment batches, connection limit, seeding."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from mailchimp_marketing.api_client import ApiClientError

from sandbox.mailchimp.seed import FORGOTTEN_COUNT
from sandbox.mailchimp.store import subscriber_hash
from tests.contract.sandbox.mailchimp_helpers import audience, client, contacts_dataset, problem, put_member


def tag_names(api, list_id, email):
    return sorted(t["name"] for t in api.lists.get_list_member_tags(list_id, subscriber_hash(email))["tags"])


def test_member_tags_and_static_segments_are_one_store(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "t@x.example.com", "subscribed")
    api.lists.update_list_member_tags(list_id, subscriber_hash("t@x.example.com"),
                                      {"tags": [{"name": "vip", "status": "active"},
                                                {"name": "never-there", "status": "inactive"}]})
    assert tag_names(api, list_id, "t@x.example.com") == ["vip"]
    static = api.lists.list_segments(list_id, type="static")
    assert [(s["name"], s["member_count"], s["type"]) for s in static["segments"]] == [("vip", 1, "static")]
    segment_id = static["segments"][0]["id"]
    member = api.lists.get_list_member(list_id, "t@x.example.com")
    assert member["tags"] == [{"id": segment_id, "name": "vip"}] and member["tags_count"] == 1

    api.lists.batch_segment_members({"members_to_remove": ["t@x.example.com"]}, list_id, segment_id)
    assert tag_names(api, list_id, "t@x.example.com") == []
    assert api.lists.list_segments(list_id, type="saved")["segments"] == []


def test_create_static_segment_ignores_addresses_not_on_the_list_and_refuses_duplicate_names(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "a@x.example.com", "subscribed")
    created = api.lists.create_segment(list_id, {"name": "segsync: churn", "static_segment":
                                                 ["A@x.example.com", "stranger@x.example.com"]})
    assert (created["name"], created["type"], created["member_count"]) == ("segsync: churn", "static", 1)
    with pytest.raises(ApiClientError) as caught:
        api.lists.create_segment(list_id, {"name": "segsync: churn", "static_segment": []})
    assert caught.value.status_code == 400 and "already exists" in problem(caught.value)["detail"]
    assert tag_names(api, list_id, "a@x.example.com") == ["segsync: churn"]


def test_batch_segment_add_remove_counts_and_errors(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    for email in ("s1@x.example.com", "s2@x.example.com", "s3@x.example.com"):
        put_member(mailchimp_sandbox, email, "subscribed")
    segment_id = api.lists.create_segment(list_id, {"name": "seg", "static_segment": ["s3@x.example.com"]})["id"]
    result = api.lists.batch_segment_members(
        {"members_to_add": ["s1@x.example.com", "S2@x.example.com", "nobody@x.example.com"],
         "members_to_remove": ["s3@x.example.com"]}, list_id, segment_id)
    assert (result["total_added"], result["total_removed"], result["error_count"]) == (2, 1, 1)
    assert [m["email_address"] for m in result["members_added"]] == ["s1@x.example.com", "s2@x.example.com"]
    assert [m["email_address"] for m in result["members_removed"]] == ["s3@x.example.com"]
    assert result["errors"] == [{"email_addresses": ["nobody@x.example.com"],
                                 "error": "Email addresses do not belong to this list"}]
    members = api.lists.get_segment_members_list(list_id, segment_id)
    assert sorted(m["email_address"] for m in members["members"]) == ["s1@x.example.com", "s2@x.example.com"]
    assert mailchimp_sandbox["mailchimp"].log.entries()[-2].records == 4


def test_batch_segment_refuses_more_than_500_per_field(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    segment_id = api.lists.create_segment(list_id, {"name": "big", "static_segment": []})["id"]
    emails = [f"z{i}@x.example.com" for i in range(501)]
    with pytest.raises(ApiClientError) as caught:
        api.lists.batch_segment_members({"members_to_add": emails}, list_id, segment_id)
    body = problem(caught.value)
    assert caught.value.status_code == 400 and body["title"] == "Invalid Resource"
    assert body["detail"] == ("Maximum allowed member items exceeded, please provide at most 500 items in "
                              "members_to_add field or members_to_remove field")
    for email in emails[:500]:
        put_member(mailchimp_sandbox, email, "subscribed")
    ok = api.lists.batch_segment_members({"members_to_add": emails[:500], "members_to_remove": []},
                                         list_id, segment_id)
    assert ok["total_added"] == 500 and ok["error_count"] == 0


def test_segment_members_hide_unsubscribed_and_cleaned_unless_asked(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    statuses = {"sub@x.example.com": "subscribed", "uns@x.example.com": "unsubscribed",
                "cln@x.example.com": "cleaned", "pnd@x.example.com": "pending"}
    for email, status in statuses.items():
        put_member(mailchimp_sandbox, email, status)
    segment_id = api.lists.create_segment(list_id, {"name": "mixed", "static_segment": list(statuses)})["id"]
    default = api.lists.get_segment_members_list(list_id, segment_id)
    assert sorted(m["email_address"] for m in default["members"]) == ["pnd@x.example.com", "sub@x.example.com"]
    everyone = api.lists.get_segment_members_list(list_id, segment_id, include_cleaned=True,
                                                  include_unsubscribed=True)
    assert everyone["total_items"] == 4
    assert audience(mailchimp_sandbox).member("uns@x.example.com").status == "unsubscribed"


def test_tags_on_unknown_member_and_unknown_segment_are_404(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    with pytest.raises(ApiClientError) as caught:
        api.lists.update_list_member_tags(list_id, subscriber_hash("ghost@x.example.com"),
                                          {"tags": [{"name": "vip", "status": "active"}]})
    assert caught.value.status_code == 404
    with pytest.raises(ApiClientError) as caught:
        api.lists.batch_segment_members({"members_to_add": []}, list_id, "999999")
    assert caught.value.status_code == 404


def test_more_than_ten_simultaneous_connections_get_429(mailchimp_sandbox):
    emulator = mailchimp_sandbox["mailchimp"]
    emulator.faults.add({"path": "/ping$", "delay": 0.6})
    env = mailchimp_sandbox.env()
    url, auth = f"{env['MAILCHIMP_BASE_URL']}/ping", ("any", env["MAILCHIMP_API_KEY"])
    with ThreadPoolExecutor(max_workers=13) as pool:
        statuses = sorted(pool.map(lambda _: httpx.get(url, auth=auth, timeout=10).status_code, range(13)))
    assert statuses == [200] * 10 + [429] * 3
    refused = [e for e in emulator.log.entries() if e.status == 429]
    assert len(refused) == 3
    emulator.faults.clear()
    assert httpx.get(url, auth=auth, timeout=10).status_code == 200  # every connection was released


def test_connection_limit_body_is_a_too_many_requests_problem(mailchimp_sandbox):
    emulator = mailchimp_sandbox["mailchimp"]
    emulator.configure({"max_connections": 1})
    emulator.faults.add({"path": "/ping$", "delay": 0.5, "times": 1})
    env = mailchimp_sandbox.env()
    url, auth = f"{env['MAILCHIMP_BASE_URL']}/ping", ("any", env["MAILCHIMP_API_KEY"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(httpx.get, url, auth=auth, timeout=10)
        time.sleep(0.2)
        fast = pool.submit(httpx.get, url, auth=auth, timeout=10).result()
        assert slow.result().status_code == 200
    assert fast.status_code == 429
    assert fast.json()["title"] == "Too Many Requests"
    assert fast.json()["detail"] == "You have exceeded the limit of 1 simultaneous connections."


def test_injected_fault_uses_the_problem_shape_with_retry_after(mailchimp_sandbox):
    mailchimp_sandbox["mailchimp"].faults.add({"path": "/lists$", "status": 503, "retry_after": 7, "times": 1})
    with pytest.raises(ApiClientError) as caught:
        client(mailchimp_sandbox).lists.get_all_lists()
    body = problem(caught.value)
    assert (caught.value.status_code, body["status"], body["title"]) == (503, 503, "Service Unavailable")
    assert client(mailchimp_sandbox).lists.get_all_lists()["total_items"] == 1


def test_seed_is_deterministic_with_the_documented_status_mix(mailchimp_sandbox):
    emulator = mailchimp_sandbox["mailchimp"]
    emails = [f"Person{i}@Company{i % 300}.example.com" for i in range(20_000)]
    dataset = contacts_dataset(emails + [emails[5].upper()])  # a case duplicate counts once
    started = time.perf_counter()
    counts = emulator.seed(dataset)
    assert time.perf_counter() - started < 2.0
    statuses = {k: v for k, v in counts.items() if k != "audience"}
    assert sum(statuses.values()) == 20_000
    assert statuses["forgotten"] == FORGOTTEN_COUNT
    shares = {k: v / 20_000 for k, v in statuses.items()}
    assert abs(shares["subscribed"] - 0.60) < 0.015 and abs(shares["unsubscribed"] - 0.08) < 0.01
    assert abs(shares["cleaned"] - 0.04) < 0.006 and abs(shares["pending"] - 0.03) < 0.006
    first = {k: m.status for k, m in audience(mailchimp_sandbox).members.items()}
    with emulator.lock:
        emulator.reset()
    assert emulator.seed(dataset) == counts
    assert {k: m.status for k, m in audience(mailchimp_sandbox).members.items()} == first

    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    forgotten = sorted(audience(mailchimp_sandbox).forgotten)
    email_of = {subscriber_hash(e): e for e in emails}
    with pytest.raises(ApiClientError) as caught:
        api.lists.set_list_member(list_id, forgotten[0], {"email_address": email_of[forgotten[0]],
                                                          "status_if_new": "subscribed"})
    assert problem(caught.value)["title"] == "Forgotten Email Not Subscribed"
    stats = api.lists.get_list(list_id)["stats"]
    assert stats["member_count"] == statuses["subscribed"]
    assert stats["total_contacts"] == 20_000 - statuses["absent"] - FORGOTTEN_COUNT


def test_single_segment_member_calls_and_tag_search(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "one@x.example.com", "subscribed")
    segment_id = api.lists.create_segment(list_id, {"name": "segsync: trial", "static_segment": []})["id"]
    api.lists.create_segment(list_id, {"name": "manual tag", "static_segment": []})
    added = api.lists.create_segment_member(list_id, segment_id, {"email_address": "one@x.example.com"})
    assert added["tags"] == [{"id": segment_id, "name": "segsync: trial"}]
    assert api.lists.tag_search(list_id, name="SEGSYNC") == {
        "tags": [{"id": segment_id, "name": "segsync: trial"}], "total_items": 1}
    api.lists.remove_segment_member(list_id, segment_id, subscriber_hash("one@x.example.com"))
    assert tag_names(api, list_id, "one@x.example.com") == []
    with pytest.raises(ApiClientError) as caught:
        api.lists.remove_segment_member(list_id, segment_id, subscriber_hash("one@x.example.com"))
    assert caught.value.status_code == 404


def test_per_record_faults_fail_only_those_addresses(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    emulator = mailchimp_sandbox["mailchimp"]
    emulator.faults.add({"record_ids": ["bad@x.example.com"], "code": "ERROR_GENERIC",
                         "message": "Temporary processing error", "times": 1})
    batch = api.lists.batch_list_members(list_id, {"members": [
        {"email_address": "good@x.example.com", "status": "subscribed"},
        {"email_address": "Bad@x.example.com", "status": "subscribed"}]})
    assert (batch["total_created"], batch["error_count"]) == (1, 1)
    assert batch["errors"][0] == {"email_address": "Bad@x.example.com", "error_code": "ERROR_GENERIC",
                                  "error": "Temporary processing error", "field": "", "field_message": ""}
    again = api.lists.batch_list_members(list_id, {"members": [{"email_address": "bad@x.example.com",
                                                                "status": "subscribed"}]})
    assert again["total_created"] == 1  # the fault fired once

    emulator.faults.add({"record_ids": ["good@x.example.com"], "code": "ERROR_GENERIC", "times": 1})
    segment_id = api.lists.create_segment(list_id, {"name": "s", "static_segment": []})["id"]
    result = api.lists.batch_segment_members({"members_to_add": ["good@x.example.com", "bad@x.example.com"]},
                                             list_id, segment_id)
    assert [m["email_address"] for m in result["members_added"]] == ["bad@x.example.com"]
    assert result["errors"][0]["email_addresses"] == ["good@x.example.com"] and result["error_count"] == 1
