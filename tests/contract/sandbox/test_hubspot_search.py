"""HubSpot emulator search: filter operators, OR groups, one sort, offset paging, the 10,000 cap, its own rate limit."""
from __future__ import annotations

import time

import pytest
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
)

from tests.contract.sandbox.hubspot_helpers import body_of, client, configure, raw, seed


def search(crm, filters=None, groups=None, **kwargs):
    filter_groups = groups if groups is not None else ([{"filters": filters}] if filters else [])
    return crm.companies.search_api.do_search(PublicObjectSearchRequest(filter_groups=filter_groups, **kwargs))


def ids(page) -> list[str]:
    return [r.id for r in page.results]


@pytest.fixture
def crm(hubspot_sandbox):
    seed(hubspot_sandbox, 12, 0)
    configure(hubspot_sandbox, search_rate_limit_per_second=1000)
    api = client(hubspot_sandbox).crm
    api.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=str(1000 + i), properties={"numberofemployees": 10 * i}) for i in range(5)]))
    return api


def test_comparison_operators(crm):
    assert ids(search(crm, [{"propertyName": "name", "operator": "EQ", "value": "company 3"}])) == ["1003"]
    assert len(ids(search(crm, [{"propertyName": "industry", "operator": "NEQ", "value": "FinTech"}], limit=50))) == 8
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "GT", "value": "20"}])) == \
        ["1003", "1004"]
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "GTE", "value": "20"}])) == \
        ["1002", "1003", "1004"]
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "LT", "value": "10"}])) == ["1000"]
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "LTE", "value": "10"}])) == \
        ["1000", "1001"]
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "BETWEEN", "value": "10",
                             "highValue": "30"}])) == ["1001", "1002", "1003"]
    assert ids(search(crm, [{"propertyName": "product_account_id", "operator": "IN",
                             "values": ["A00007", "A00009"]}])) == ["1007", "1009"]
    assert len(ids(search(crm, [{"propertyName": "country", "operator": "NOT_IN", "values": ["US", "UK"]}]))) == 4
    assert ids(search(crm, [{"propertyName": "numberofemployees", "operator": "HAS_PROPERTY"}])) == \
        ["1000", "1001", "1002", "1003", "1004"]
    assert len(ids(search(crm, [{"propertyName": "numberofemployees", "operator": "NOT_HAS_PROPERTY"}]))) == 7
    assert ids(search(crm, [{"propertyName": "domain", "operator": "CONTAINS_TOKEN",
                             "value": "company1*"}], limit=20)) == ["1001", "1010", "1011"]


def test_groups_are_or_filters_are_and(crm):
    page = search(crm, groups=[
        {"filters": [{"propertyName": "industry", "operator": "EQ", "value": "DevTools"},
                     {"propertyName": "numberofemployees", "operator": "HAS_PROPERTY"}]},
        {"filters": [{"propertyName": "name", "operator": "EQ", "value": "Company 11"}]}])
    assert ids(page) == ["1001", "1004", "1011"]
    assert page.total == 3


def test_sort_paging_and_properties(crm):
    first = search(crm, sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}], limit=3,
                   properties=["numberofemployees"])
    assert ids(first) == ["1004", "1003", "1002"] and first.total == 12
    assert first.results[0].properties["numberofemployees"] == "40"
    assert first.paging.next.after == "3"
    second = search(crm, sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}], limit=3,
                    after=first.paging.next.after)
    assert ids(second) == ["1001", "1000", "1005"]
    text = search(crm, query="company1.example", limit=10)
    assert ids(text) == ["1001"]


def test_keyset_paging_by_record_id(crm):
    seen, last = [], "0"
    while True:
        page = search(crm, [{"propertyName": "hs_object_id", "operator": "GT", "value": last}],
                      sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=5)
        if not page.results:
            break
        seen += ids(page)
        last = page.results[-1].id
    assert seen == [str(1000 + i) for i in range(12)]


def test_incremental_slice_by_modification_date(crm):
    # the cutoff follows the emulator's own stamps (they never go backwards, so they can run ahead of the wall clock)
    newest = search(crm, sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}], limit=1)
    cutoff = int(newest.results[0].updated_at.timestamp() * 1000) + 1
    crm.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id="1008", properties={"country": "FR"})]))
    page = search(crm, [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(cutoff)}],
                  sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                  properties=["country"])
    assert ids(page) == ["1008"] and page.results[0].properties["country"] == "FR"
    crm.companies.basic_api.archive("1008")
    assert search(crm, [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(cutoff)}]).total == 0


@pytest.mark.parametrize("request_body, fragment", [
    ({"limit": 201}, "limit must be an integer from 1 to 200"),
    ({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]},
     "There was a problem with the request."),
    ({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "LIKE", "value": "x"}]}]}, "operator 'LIKE'"),
    ({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}]}] * 6}, "filterGroups: 6"),
    ({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 7}]},
     "maximum per group is 6"),
    ({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 4}] * 5},
     "Too many filters: 20"),
    ({"sorts": ["name", "domain"]}, "Only one sort"),
])
def test_invalid_searches_are_400(hubspot_sandbox, request_body, fragment):
    configure(hubspot_sandbox, search_rate_limit_per_second=1000)
    response = raw(hubspot_sandbox, "POST", "/crm/v3/objects/companies/search", json=request_body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert fragment in response.json()["message"]


def test_search_stops_at_10000_results(hubspot_sandbox):
    seed(hubspot_sandbox, 10_050, 0)
    configure(hubspot_sandbox, search_rate_limit_per_second=1000)
    crm = client(hubspot_sandbox).crm
    near_end = search(crm, limit=200, after="9900")
    assert near_end.total == 10_050
    assert len(near_end.results) == 100
    assert near_end.results[-1].id == str(1000 + 9_999)
    assert near_end.paging.next.after == "10000"
    with pytest.raises(ApiException) as info:
        search(crm, limit=200, after=near_end.paging.next.after)
    assert info.value.status == 400
    assert "limited to 10000" in body_of(info.value)["message"]


def test_search_has_its_own_per_second_limit(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    crm = client(hubspot_sandbox).crm
    for _ in range(5):
        assert search(crm).total == 2
    with pytest.raises(ApiException) as info:
        search(crm)
    body = body_of(info.value)
    assert info.value.status == 429
    assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "SECONDLY")
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in info.value.headers)
    assert crm.companies.basic_api.get_page().results[0].id == "1000"  # other endpoints are not held back
    time.sleep(1.05)
    assert search(crm).total == 2
