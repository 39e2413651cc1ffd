"""Klaviyo emulator through klaviyo-api: auth, revision, lists, list membership, rate limits (spec-validated)."""
from __future__ import annotations

import httpx
import pytest
from openapi_client.exceptions import ApiException

from segsync.clients.klaviyo import make_klaviyo
from segsync.errors import FatalError
from tests.contract.sandbox.klaviyo_helpers import (client, errors_of, klaviyo, list_body,  # noqa: F401 (fixture)
                                                    members_body, profile_body, validate_exchanges)


def make_profiles(api, count: int, prefix: str = "p") -> list[str]:
    return [api.Profiles.create_profile(profile_body(f"{prefix}{i}@acme.example.com")).data.id for i in range(count)]


def raw(sandbox, method: str, path: str, *, revision: str | None = "2026-07-15", key: str | None = None, **kwargs):
    env = sandbox.env()
    headers = {"Authorization": f"Klaviyo-API-Key {key or env['KLAVIYO_API_KEY']}",
               "Content-Type": "application/vnd.api+json"}
    if revision is not None:
        headers["revision"] = revision
    return httpx.request(method, env["KLAVIYO_BASE_URL"] + path, headers=headers, **kwargs)


def test_factory_requires_private_key_and_url(klaviyo):
    env = klaviyo.env()
    assert env["KLAVIYO_API_KEY"].startswith("pk_")
    with pytest.raises(FatalError, match="private API key"):
        make_klaviyo({**env, "KLAVIYO_API_KEY": "AbC123"})
    with pytest.raises(FatalError, match="KLAVIYO_BASE_URL"):
        make_klaviyo({"KLAVIYO_API_KEY": env["KLAVIYO_API_KEY"]})


def test_bad_key_is_401_and_missing_key_is_401_not_authenticated(klaviyo):
    with pytest.raises(ApiException) as caught:
        make_klaviyo({**klaviyo.env(), "KLAVIYO_API_KEY": "pk_wrong"}).Lists.get_lists()
    assert caught.value.status == 401 and errors_of(caught.value)[0]["code"] == "authentication_failed"
    response = httpx.get(klaviyo.env()["KLAVIYO_BASE_URL"] + "/api/lists", headers={"revision": "2026-07-15"})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "not_authenticated"


def test_revision_header_is_required_but_any_value_is_accepted(klaviyo):
    missing = raw(klaviyo, "GET", "/api/lists", revision=None)
    assert missing.status_code == 400
    error = missing.json()["errors"][0]
    assert (error["code"], error["source"]) == ("invalid", {"parameter": "revision"})
    assert raw(klaviyo, "GET", "/api/lists", revision="2024-02-15").status_code == 200
    assert klaviyo["klaviyo"].captured[-1]["request_headers"]["revision"] == "2024-02-15"


def test_create_list_then_find_it_by_name_and_get_it(klaviyo):
    api = client(klaviyo)
    created = api.Lists.create_list(list_body("segsync: churn risk"))
    api.Lists.create_list(list_body("other"))
    found = api.Lists.get_lists(filter='equals(name,"segsync: churn risk")')
    assert [item.id for item in found.data] == [created.data.id]
    assert found.data[0].attributes.name == "segsync: churn risk"
    assert api.Lists.get_list(created.data.id).data.attributes.opt_in_process == "single_opt_in"
    both = api.Lists.get_lists(filter="any(name,['other','segsync: churn risk'])", sort="name")
    assert [item.attributes.name for item in both.data] == ["other", "segsync: churn risk"]


def test_unknown_filter_field_and_missing_list_are_client_errors(klaviyo):
    api = client(klaviyo)
    with pytest.raises(ApiException) as caught:
        api.Lists.get_lists(filter='contains(name,"x")')
    assert caught.value.status == 400 and errors_of(caught.value)[0]["source"] == {"parameter": "filter"}
    with pytest.raises(ApiException) as caught:
        api.Lists.get_list("NoSuch")
    assert caught.value.status == 404 and errors_of(caught.value)[0]["code"] == "not_found"


def test_lists_page_at_most_ten_with_a_next_cursor(klaviyo):
    klaviyo["klaviyo"].configure({"rate_limits_enabled": False})  # 12 creations exceed the 10/s burst
    api = client(klaviyo)
    names = [f"list {i:02d}" for i in range(12)]
    for name in names:
        api.Lists.create_list(list_body(name))
    first = api.Lists.get_lists(sort="name")
    assert [item.attributes.name for item in first.data] == names[:10]
    second = api.Lists.get_lists(sort="name", page_cursor=first.links.next)
    assert [item.attributes.name for item in second.data] == names[10:]
    assert second.links.next is None and second.links.prev is not None
    too_big = raw(klaviyo, "GET", "/api/lists", params={"page[size]": "11"})
    assert too_big.status_code == 400 and too_big.json()["errors"][0]["source"] == {"parameter": "page[size]"}


def test_add_and_remove_profiles_in_bulk_with_204(klaviyo):
    api = client(klaviyo)
    list_id = api.Lists.create_list(list_body("seg")).data.id
    ids = make_profiles(api, 25)
    assert api.Lists.add_profiles_to_list(list_id, members_body(ids)) is None
    assert klaviyo["klaviyo"].log.entries()[-1].status == 204
    assert klaviyo["klaviyo"].log.entries()[-1].records == 25
    api.Lists.add_profiles_to_list(list_id, members_body(ids[:5]))  # adding members again changes nothing
    page = api.Lists.get_profile_ids_for_list(list_id, page_size=20)
    rest = api.Lists.get_profile_ids_for_list(list_id, page_size=20, page_cursor=page.links.next)
    assert [p.id for p in page.data] + [p.id for p in rest.data] == ids
    api.Lists.remove_profiles_from_list(list_id, members_body(ids[:20]))
    remaining = api.Lists.get_profile_ids_for_list(list_id)
    assert [p.id for p in remaining.data] == ids[20:]
    counted = raw(klaviyo, "GET", f"/api/lists/{list_id}", params={"additional-fields[list]": "profile_count"})
    assert counted.json()["data"]["attributes"]["profile_count"] == 5


def test_relationship_calls_refuse_more_than_1000_ids_and_unknown_profiles(klaviyo):
    api = client(klaviyo)
    list_id = api.Lists.create_list(list_body("seg")).data.id
    known = make_profiles(api, 2)
    with pytest.raises(ApiException) as caught:
        api.Lists.add_profiles_to_list(list_id, members_body([f"01X{i:023d}" for i in range(1001)]))
    assert caught.value.status == 400 and "maximum of 1000" in errors_of(caught.value)[0]["detail"]
    with pytest.raises(ApiException) as caught:
        api.Lists.add_profiles_to_list(list_id, members_body(known + ["01NOPE"]))
    assert caught.value.status == 400 and "01NOPE" in errors_of(caught.value)[0]["detail"]
    assert api.Lists.get_profile_ids_for_list(list_id).data == []
    with pytest.raises(ApiException) as caught:
        api.Lists.remove_profiles_from_list("NoSuch", members_body(known))
    assert caught.value.status == 404


def test_daily_list_creation_cap_returns_429_with_retry_after(klaviyo):
    emulator = klaviyo["klaviyo"]
    emulator.configure({"rate_limits": {"POST /api/lists": {"daily": 3}}})
    api = client(klaviyo)
    for i in range(3):
        api.Lists.create_list(list_body(f"l{i}"))
    with pytest.raises(ApiException) as caught:
        api.Lists.create_list(list_body("one too many"))
    assert caught.value.status == 429
    error = errors_of(caught.value)[0]
    assert error["code"] == "throttled" and error["detail"].startswith("Request was throttled. Expected available in")
    retry_after = int(caught.value.headers["Retry-After"])
    assert 1 <= retry_after <= 86400
    assert len(api.Lists.get_lists().data) == 3


def test_burst_limit_per_endpoint_and_steady_headers(klaviyo):
    emulator = klaviyo["klaviyo"]
    emulator.configure({"rate_limits": {"GET /api/lists": {"burst": 2, "steady": 100}}})
    first = raw(klaviyo, "GET", "/api/lists")
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("100", "99")
    responses = [raw(klaviyo, "GET", "/api/lists") for _ in range(5)]  # 6 calls span at most 2 one-second windows
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) >= 2
    assert refused[0].headers["Retry-After"] == "1" and "RateLimit-Limit" not in refused[0].headers
    assert raw(klaviyo, "GET", "/api/profiles").status_code == 200  # another endpoint, its own window


def test_injected_faults_use_the_json_api_error_shape(klaviyo):
    klaviyo["klaviyo"].faults.add({"path": "/api/lists$", "status": 429, "retry_after": 3, "times": 1})
    with pytest.raises(ApiException) as caught:
        client(klaviyo).Lists.get_lists()
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    assert errors_of(caught.value)[0]["detail"] == "Request was throttled. Expected available in 3 seconds."
    assert [e.status for e in klaviyo["klaviyo"].log.entries()] == [429]  # the client did not retry by itself
    assert client(klaviyo).Lists.get_lists().data == []


def test_spec_validation_catches_a_wrong_response():
    exchange = {"method": "GET", "path": "/api/lists", "query": "", "request_headers": {
        "authorization": "Klaviyo-API-Key pk_x", "revision": "2026-07-15"}, "request_body": b"", "status": 200,
        "response_headers": {"content-type": "application/vnd.api+json"},
        "response_body": b'{"data": [{"type": "list", "id": "x"}]}'}
    with pytest.raises(AssertionError, match="GET /api/lists"):
        validate_exchanges([exchange])
