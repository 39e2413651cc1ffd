"""Mailchimp emulator through mailchimp-marketing: auth, audiences, member upsert rules, paging, batch subscribe."""
from __future__ import annotations

import httpx
import pytest
from mailchimp_marketing.api_client import ApiClientError

from sandbox.mailchimp.store import subscriber_hash
from segsync.clients.mailchimp import make_mailchimp
from segsync.errors import FatalError
from segsync.redact import redact
from tests.contract.sandbox.mailchimp_helpers import audience, client, problem, put_member


def test_wrong_key_gets_401_api_key_invalid_problem_document(mailchimp_sandbox):
    env = {**mailchimp_sandbox.env(), "MAILCHIMP_API_KEY": "wrongkey0000-us1"}
    with pytest.raises(ApiClientError) as caught:
        make_mailchimp(env).lists.get_all_lists()
    body = problem(caught.value)
    assert caught.value.status_code == 401
    assert body["title"] == "API Key Invalid" and body["status"] == 401
    assert set(body) == {"type", "title", "status", "detail", "instance"}


def test_client_factory_checks_env_and_registers_the_key_as_secret(mailchimp_sandbox):
    env = mailchimp_sandbox.env()
    assert env["MAILCHIMP_BASE_URL"].endswith("/3.0")
    make_mailchimp(env)
    assert env["MAILCHIMP_API_KEY"] not in redact(f"key={env['MAILCHIMP_API_KEY']}")
    with pytest.raises(FatalError, match="ending in /3.0"):
        make_mailchimp({**env, "MAILCHIMP_BASE_URL": "http://127.0.0.1:1"})
    with pytest.raises(FatalError, match="datacenter"):
        make_mailchimp({**env, "MAILCHIMP_API_KEY": "nodatacenter"})


def test_ping_and_audience_get_and_list(mailchimp_sandbox):
    api = client(mailchimp_sandbox)
    assert api.ping.get() == {"health_status": "Everything's Chimpy!"}
    lists = api.lists.get_all_lists()
    assert lists["total_items"] == 1
    assert lists["lists"][0]["name"] == "RavenStack customers"
    list_id = lists["lists"][0]["id"]
    assert api.lists.get_list(list_id)["id"] == list_id
    with pytest.raises(ApiClientError) as caught:
        api.lists.get_list("0000000000")
    assert caught.value.status_code == 404 and problem(caught.value)["title"] == "Resource Not Found"


def test_put_creates_with_status_if_new_keyed_by_md5_of_lowercased_email(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    member = api.lists.set_list_member(list_id, subscriber_hash("Ann@Acme.example.com"),
                                       {"email_address": "Ann@Acme.example.com", "status_if_new": "subscribed",
                                        "merge_fields": {"FNAME": "Ann"}})
    assert member["id"] == "54e4089b197f0fb5474914cd6c7488fa"  # md5("ann@acme.example.com")
    assert member["status"] == "subscribed" and member["merge_fields"] == {"FNAME": "Ann"}
    fetched = api.lists.get_list_member(list_id, subscriber_hash("ANN@acme.example.com"))
    assert fetched["email_address"] == "Ann@Acme.example.com"


def test_status_if_new_never_changes_an_existing_members_status(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    for email, status in [("u@x.example.com", "unsubscribed"), ("c@x.example.com", "cleaned"),
                          ("p@x.example.com", "pending")]:
        put_member(mailchimp_sandbox, email, status)
        member = api.lists.set_list_member(list_id, subscriber_hash(email),
                                           {"email_address": email, "status_if_new": "subscribed",
                                            "merge_fields": {"LNAME": "Kept"}})
        assert member["status"] == status
        assert member["merge_fields"]["LNAME"] == "Kept"


@pytest.mark.parametrize("body", [{}, {"status": "subscribed"}])
def test_put_for_a_new_member_requires_status_if_new(mailchimp_sandbox, body):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    with pytest.raises(ApiClientError) as caught:
        api.lists.set_list_member(list_id, subscriber_hash("n@x.example.com"),
                                  {"email_address": "n@x.example.com", **body})
    body = problem(caught.value)
    assert caught.value.status_code == 400 and body["title"] == "Invalid Resource"
    assert body["errors"][0]["field"] == "status_if_new"
    assert audience(mailchimp_sandbox).members == {}


def test_hash_must_match_email_and_status_must_be_known(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    with pytest.raises(ApiClientError) as caught:
        api.lists.set_list_member(list_id, subscriber_hash("other@x.example.com"),
                                  {"email_address": "n@x.example.com", "status_if_new": "subscribed"})
    assert "does not match" in problem(caught.value)["detail"]
    with pytest.raises(ApiClientError) as caught:
        api.lists.set_list_member(list_id, subscriber_hash("n@x.example.com"),
                                  {"email_address": "n@x.example.com", "status_if_new": "active"})
    assert problem(caught.value)["errors"][0]["field"] == "status_if_new"


@pytest.mark.parametrize("current", ["cleaned", "unsubscribed"])
def test_cleaned_and_unsubscribed_cannot_be_resubscribed_through_the_api(mailchimp_sandbox, current):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "gone@x.example.com", current)
    for call in (lambda: api.lists.set_list_member(list_id, subscriber_hash("gone@x.example.com"),
                                                   {"email_address": "gone@x.example.com", "status": "subscribed",
                                                    "status_if_new": "subscribed"}),
                 lambda: api.lists.update_list_member(list_id, subscriber_hash("gone@x.example.com"),
                                                      {"status": "subscribed"})):
        with pytest.raises(ApiClientError) as caught:
            call()
        assert caught.value.status_code == 400
        assert problem(caught.value)["title"] == "Member In Compliance State"
    assert audience(mailchimp_sandbox).member("gone@x.example.com").status == current


def test_unsubscribed_member_may_be_sent_a_new_opt_in_as_pending(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "again@x.example.com", "unsubscribed")
    member = api.lists.update_list_member(list_id, "again@x.example.com", {"status": "pending"})
    assert member["status"] == "pending"


def test_archive_then_readd_and_forgotten_address_cannot_be_readded(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    key = subscriber_hash("arch@x.example.com")
    api.lists.set_list_member(list_id, key, {"email_address": "arch@x.example.com", "status_if_new": "subscribed"})
    api.lists.delete_list_member(list_id, key)
    assert api.lists.get_list_member(list_id, key)["status"] == "archived"
    readded = api.lists.set_list_member(list_id, key, {"email_address": "arch@x.example.com",
                                                       "status_if_new": "subscribed"})
    assert readded["status"] == "subscribed"

    api.lists.delete_list_member_permanent(list_id, key)
    with pytest.raises(ApiClientError) as caught:
        api.lists.get_list_member(list_id, key)
    assert caught.value.status_code == 404
    with pytest.raises(ApiClientError) as caught:
        api.lists.set_list_member(list_id, key, {"email_address": "arch@x.example.com",
                                                 "status_if_new": "subscribed"})
    body = problem(caught.value)
    assert caught.value.status_code == 400 and body["title"] == "Forgotten Email Not Subscribed"
    assert "arch@x.example.com was permanently deleted and cannot be re-imported" in body["detail"]


def test_post_member_refuses_existing_member(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    created = api.lists.add_list_member(list_id, {"email_address": "new@x.example.com", "status": "transactional",
                                                  "tags": ["from-form"]})
    assert [t["name"] for t in created["tags"]] == ["from-form"]
    with pytest.raises(ApiClientError) as caught:
        api.lists.add_list_member(list_id, {"email_address": "NEW@x.example.com", "status": "subscribed"})
    assert problem(caught.value)["title"] == "Member Exists"
    assert audience(mailchimp_sandbox).member("new@x.example.com").status == "transactional"


def test_member_list_pages_with_count_offset_status_and_fields(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    for i in range(25):
        put_member(mailchimp_sandbox, f"m{i:02d}@x.example.com", "unsubscribed" if i % 5 == 0 else "subscribed")
    first = api.lists.get_list_members_info(list_id, count=10, offset=0)
    assert first["total_items"] == 25 and len(first["members"]) == 10
    last = api.lists.get_list_members_info(list_id, count=10, offset=20)
    assert [m["email_address"] for m in last["members"]] == [f"m{i:02d}@x.example.com" for i in range(20, 25)]
    unsubscribed = api.lists.get_list_members_info(list_id, status="unsubscribed", count=1000,
                                                   fields=["members.email_address", "total_items"])
    assert unsubscribed == {"members": [{"email_address": f"m{i:02d}@x.example.com"} for i in range(0, 25, 5)],
                            "total_items": 5}
    with pytest.raises(ValueError):  # the official client refuses this itself; check the server with plain HTTP
        api.lists.get_list_members_info(list_id, count=1001)
    env = mailchimp_sandbox.env()
    response = httpx.get(f"{env['MAILCHIMP_BASE_URL']}/lists/{list_id}/members", params={"count": 1001},
                         auth=("any", env["MAILCHIMP_API_KEY"]))
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    assert "at most 1000" in response.json()["detail"]


def test_batch_subscribe_reports_created_updated_and_per_address_errors(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    put_member(mailchimp_sandbox, "old@x.example.com", "subscribed")
    put_member(mailchimp_sandbox, "unsub@x.example.com", "unsubscribed")
    api.lists.set_list_member(list_id, subscriber_hash("forgot@x.example.com"),
                              {"email_address": "forgot@x.example.com", "status_if_new": "subscribed"})
    api.lists.delete_list_member_permanent(list_id, subscriber_hash("forgot@x.example.com"))
    members = [{"email_address": e, "status": "subscribed"} for e in
               ("fresh1@x.example.com", "fresh2@x.example.com", "old@x.example.com", "unsub@x.example.com",
                "forgot@x.example.com", "not-an-email")]

    kept = api.lists.batch_list_members(list_id, {"members": members, "update_existing": False})
    assert (kept["total_created"], kept["total_updated"], kept["error_count"]) == (2, 0, 4)
    assert [m["email_address"] for m in kept["new_members"]] == ["fresh1@x.example.com", "fresh2@x.example.com"]
    codes = {e["email_address"]: e["error_code"] for e in kept["errors"]}
    assert codes == {"old@x.example.com": "ERROR_CONTACT_EXISTS", "unsub@x.example.com": "ERROR_CONTACT_EXISTS",
                     "forgot@x.example.com": "ERROR_GENERIC", "not-an-email": "ERROR_GENERIC"}

    updated = api.lists.batch_list_members(list_id, {"members": members[2:4], "update_existing": True})
    assert (updated["total_created"], updated["total_updated"], updated["error_count"]) == (0, 1, 1)
    assert updated["errors"][0]["email_address"] == "unsub@x.example.com"
    assert "Member In Compliance State" in updated["errors"][0]["error"]
    assert audience(mailchimp_sandbox).member("unsub@x.example.com").status == "unsubscribed"


def test_batch_subscribe_refuses_more_than_500_members(mailchimp_sandbox):
    api, list_id = client(mailchimp_sandbox), audience(mailchimp_sandbox).id
    members = [{"email_address": f"b{i}@x.example.com", "status": "subscribed"} for i in range(501)]
    with pytest.raises(ApiClientError) as caught:
        api.lists.batch_list_members(list_id, {"members": members})
    assert caught.value.status_code == 400 and "500" in problem(caught.value)["detail"]
    assert audience(mailchimp_sandbox).members == {}
    ok = api.lists.batch_list_members(list_id, {"members": members[:500]})
    assert ok["total_created"] == 500
    assert mailchimp_sandbox["mailchimp"].log.entries()[-1].records == 500
