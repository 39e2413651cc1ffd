"""HubSpot emulator lists v3: MANUAL/DYNAMIC lists, lookups, search, membership writes and paging."""
from __future__ import annotations

import pytest
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from hubspot.crm.lists import ApiException, ListCreateRequest, ListSearchRequest, MembershipChangeRequest
from hubspot.crm.lists.exceptions import NotFoundException

from tests.contract.sandbox.hubspot_helpers import body_of, client, configure, raw, seed

INDUSTRY_FILTER = {"filterBranchType": "OR", "filterBranches": [{"filterBranchType": "AND", "filters": [
    {"filterType": "PROPERTY", "property": "industry",
     "operation": {"operationType": "ENUMERATION", "operator": "IS_ANY_OF", "values": ["DevTools"]}}]}]}


def manual_list(lists, name: str, object_type_id: str = "0-2"):
    return lists.lists_api.create(ListCreateRequest(name=name, object_type_id=object_type_id,
                                                    processing_type="MANUAL")).list


def test_create_manual_list_and_fetch_by_id_and_name(hubspot_sandbox):
    lists = client(hubspot_sandbox).crm.lists
    created = manual_list(lists, "segsync: churn risk")
    assert (created.name, created.object_type_id, created.processing_type, created.processing_status,
            created.list_version, created.size) == ("segsync: churn risk", "0-2", "MANUAL", "COMPLETE", 1, 0)
    assert lists.lists_api.get_by_id(created.list_id).list.name == "segsync: churn risk"
    by_name = lists.lists_api.get_by_name("SEGSYNC: CHURN RISK", "0-2").list  # names match case-insensitively
    assert by_name.list_id == created.list_id
    with pytest.raises(NotFoundException):
        lists.lists_api.get_by_name("segsync: churn risk", "0-1")
    with pytest.raises(NotFoundException):
        lists.lists_api.get_by_id("999")
    with pytest.raises(ApiException) as info:
        manual_list(lists, "segsync: churn risk", "0-1")
    assert info.value.status == 400 and "already exists" in body_of(info.value)["message"]
    fetched = lists.lists_api.get_all(list_ids=[created.list_id])
    assert [x.list_id for x in fetched.lists] == [created.list_id]


def test_create_list_validation(hubspot_sandbox):
    lists = client(hubspot_sandbox).crm.lists
    for request, fragment in [
        (ListCreateRequest(name="x", object_type_id="0-3", processing_type="MANUAL"), "objectTypeId '0-3'"),
        (ListCreateRequest(name="x", object_type_id="0-2", processing_type="STATIC"), "processingType 'STATIC'"),
        (ListCreateRequest(name="x", object_type_id="0-2", processing_type="DYNAMIC"), "root branch must"),
        (ListCreateRequest(name="x", object_type_id="0-2", processing_type="MANUAL", filter_branch=INDUSTRY_FILTER),
         "MANUAL lists cannot have a filterBranch"),
    ]:
        with pytest.raises(ApiException) as info:
            lists.lists_api.create(request)
        assert info.value.status == 400 and fragment in body_of(info.value)["message"]


def test_search_lists(hubspot_sandbox):
    seed(hubspot_sandbox, 6, 0)
    lists = client(hubspot_sandbox).crm.lists
    for name in ("segsync: churn risk", "segsync: upsell", "marketing import"):
        manual_list(lists, name)
    lists.lists_api.create(ListCreateRequest(name="segsync: devtools", object_type_id="0-2",
                                             processing_type="DYNAMIC", filter_branch=INDUSTRY_FILTER))
    found = lists.lists_api.do_search(ListSearchRequest(query="segsync", offset=0, count=2))
    assert [x.name for x in found.lists] == ["segsync: churn risk", "segsync: upsell"]
    assert (found.total, found.has_more, found.offset) == (3, True, 2)
    dynamic_only = lists.lists_api.do_search(ListSearchRequest(query="segsync", processing_types=["DYNAMIC"]))
    assert [(x.name, x.additional_properties["hs_list_size"]) for x in dynamic_only.lists] == [
        ("segsync: devtools", "2")]


def test_memberships_add_remove_and_report_missing(hubspot_sandbox):
    seed(hubspot_sandbox, 5, 0)
    lists = client(hubspot_sandbox).crm.lists
    list_id = manual_list(lists, "segsync: upsell").list_id
    added = lists.memberships_api.add(list_id, ["1000", "1001", "1002", "424242"])
    assert added.records_ids_added == ["1000", "1001", "1002"]
    assert added.record_ids_missing == ["424242"]
    again = lists.memberships_api.add(list_id, ["1000"])
    assert again.records_ids_added == [] and again.record_ids_missing == []
    removed = lists.memberships_api.remove(list_id, ["1001", "1004"])
    assert removed.record_ids_removed == ["1001"] and removed.record_ids_missing == []
    both = lists.memberships_api.add_and_remove(list_id, MembershipChangeRequest(
        record_ids_to_add=["1003", "1004"], record_ids_to_remove=["1000"]))
    assert (both.records_ids_added, both.record_ids_removed) == (["1003", "1004"], ["1000"])
    page = lists.memberships_api.get_page(list_id)
    assert [m.record_id for m in page.results] == ["1002", "1003", "1004"] and page.total == 3
    assert lists.lists_api.get_by_id(list_id).list.size == 3
    contact_list = manual_list(lists, "contacts list", "0-1").list_id
    assert lists.memberships_api.add(contact_list, ["1000"]).record_ids_missing == ["1000"]


def test_membership_body_must_be_a_bare_array(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    list_id = manual_list(client(hubspot_sandbox).crm.lists, "bare").list_id
    wrapped = raw(hubspot_sandbox, "PUT", f"/crm/v3/lists/{list_id}/memberships/add", json={"ids": ["1000"]})
    assert wrapped.status_code == 400 and "JSON array of record ids" in wrapped.json()["message"]
    bare = raw(hubspot_sandbox, "PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=["1000", 1001])
    assert bare.status_code == 200
    assert bare.json() == {"recordIdsRemoved": [], "recordsIdsAdded": ["1000", "1001"],
                           "recordIdsAdded": ["1000", "1001"], "recordIdsMissing": []}


def test_dynamic_lists_follow_filters_and_refuse_writes(hubspot_sandbox):
    seed(hubspot_sandbox, 6, 0)
    crm = client(hubspot_sandbox).crm
    dynamic = crm.lists.lists_api.create(ListCreateRequest(
        name="devtools", object_type_id="0-2", processing_type="DYNAMIC", filter_branch=INDUSTRY_FILTER)).list
    assert [m.record_id for m in crm.lists.memberships_api.get_page(dynamic.list_id).results] == ["1001", "1004"]
    crm.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id="1000", properties={"industry": "DevTools"})]))
    assert [m.record_id for m in crm.lists.memberships_api.get_page(dynamic.list_id).results] == \
        ["1000", "1001", "1004"]
    with pytest.raises(ApiException) as info:
        crm.lists.memberships_api.add(dynamic.list_id, ["1002"])
    assert info.value.status == 400
    assert "processingType DYNAMIC" in body_of(info.value)["message"]
    with pytest.raises(ApiException):
        crm.lists.memberships_api.add_and_remove(dynamic.list_id, MembershipChangeRequest(
            record_ids_to_add=[], record_ids_to_remove=["1001"]))
    fetched = crm.lists.lists_api.get_by_id(dynamic.list_id, include_filters=True).list
    assert fetched.filter_branch.filter_branch_type == "OR"


def test_membership_paging_and_call_maximum(hubspot_sandbox):
    seed(hubspot_sandbox, 600, 0)
    configure(hubspot_sandbox, list_membership_max=500)
    lists = client(hubspot_sandbox).crm.lists
    list_id = manual_list(lists, "big").list_id
    ids = [str(1000 + i) for i in range(600)]
    with pytest.raises(ApiException) as info:
        lists.memberships_api.add(list_id, ids)
    assert info.value.status == 400 and "exceeds the limit of 500" in body_of(info.value)["message"]
    lists.memberships_api.add(list_id, ids[:500])
    lists.memberships_api.add(list_id, ids[500:])
    seen, after, calls = [], None, 0
    while True:
        page = lists.memberships_api.get_page(list_id, after=after, limit=250)
        calls += 1
        seen += [m.record_id for m in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ids and calls == 3
    over = raw(hubspot_sandbox, "GET", f"/crm/v3/lists/{list_id}/memberships", params={"limit": 251})
    assert over.status_code == 400


def test_deleted_list_is_gone(hubspot_sandbox):
    lists = client(hubspot_sandbox).crm.lists
    list_id = manual_list(lists, "temporary").list_id
    lists.lists_api.remove(list_id)
    with pytest.raises(NotFoundException):
        lists.lists_api.get_by_id(list_id)
    assert manual_list(lists, "temporary").list_id != list_id


def test_rename_record_memberships_and_remove_all(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 0)
    lists = client(hubspot_sandbox).crm.lists
    first = manual_list(lists, "first").list_id
    second = manual_list(lists, "second").list_id
    lists.memberships_api.add(first, ["1000", "1001"])
    lists.memberships_api.add(second, ["1001"])
    renamed = lists.lists_api.update_name(first, list_name="first renamed").updated_list
    assert (renamed.list_id, renamed.name) == (first, "first renamed")
    with pytest.raises(ApiException) as info:
        lists.lists_api.update_name(second, list_name="FIRST RENAMED")
    assert info.value.status == 400
    of_record = lists.memberships_api.get_lists("0-2", "1001")
    assert sorted(m.list_id for m in of_record.results) == sorted([first, second]) and of_record.total == 2
    lists.memberships_api.remove_all(first)
    assert lists.lists_api.get_by_id(first).list.size == 0
    assert [m.list_id for m in lists.memberships_api.get_lists("0-2", "1001").results] == [second]
