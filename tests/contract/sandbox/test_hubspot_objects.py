"""HubSpot emulator: auth, object list/get/archive, batch read/create/update/upsert and their errors, merges."""
from __future__ import annotations

import pytest
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.companies.exceptions import NotFoundException, UnauthorizedException
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputForCreate as ContactsCreate
from hubspot.crm.contacts import SimplePublicObjectBatchInputForCreate as ContactInput

from segsync.clients.hubspot import make_hubspot
from tests.contract.sandbox.hubspot_helpers import body_of, client, raw, seed


def update_batch(items: list[tuple[str, dict]]) -> BatchInputSimplePublicObjectBatchInput:
    return BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in items])


def test_bearer_token_is_required(hubspot_sandbox):
    env = hubspot_sandbox.env()
    wrong = make_hubspot({**env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-not-the-token"})
    with pytest.raises(UnauthorizedException) as info:
        wrong.crm.companies.basic_api.get_page()
    body = body_of(info.value)
    assert info.value.status == 401
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert len(body["correlationId"]) == 36
    missing = raw(hubspot_sandbox, "GET", "/crm/v3/objects/companies", token="x")
    assert missing.status_code == 401
    import httpx
    no_header = httpx.get(env["HUBSPOT_BASE_URL"] + "/crm/v3/objects/companies")
    assert no_header.status_code == 401 and no_header.json()["category"] == "INVALID_AUTHENTICATION"


def test_list_pages_with_after_and_returns_strings(hubspot_sandbox):
    seed(hubspot_sandbox, 250, 0)
    api = client(hubspot_sandbox).crm.companies.basic_api
    ids, after, calls = [], None, 0
    while True:
        page = api.get_page(limit=100, after=after, properties=["name", "industry", "product_account_id"])
        calls += 1
        ids += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert calls == 3
    assert ids == [str(1000 + i) for i in range(250)]
    first = api.get_page(limit=1, properties=["name", "industry", "product_account_id"]).results[0]
    assert first.properties == {"name": "Company 0", "industry": "FinTech", "product_account_id": "A00000",
                                "createdate": first.properties["createdate"],
                                "hs_lastmodifieddate": first.properties["hs_lastmodifieddate"],
                                "hs_object_id": "1000"}
    assert all(isinstance(v, str) for v in first.properties.values())
    too_many = raw(hubspot_sandbox, "GET", "/crm/v3/objects/companies", params={"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"


def test_default_properties_and_associations_on_read(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 2)
    crm = client(hubspot_sandbox).crm
    company = crm.companies.basic_api.get_by_id("1001", associations=["contacts"])
    assert sorted(company.properties) == ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"]
    assert [a.id for a in company.associations["contacts"].results] == ["50002", "50003"]
    assert company.associations["contacts"].results[0].type == "company_to_contact"
    contact = crm.contacts.basic_api.get_by_id("50002")
    assert contact.properties["email"] == "person0@company1.example.com"
    assert sorted(contact.properties) == ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                                          "lastname"]


def test_get_by_unique_id_property_only(hubspot_sandbox):
    seed(hubspot_sandbox, 5, 0)
    api = client(hubspot_sandbox).crm.companies.basic_api
    assert api.get_by_id("A00003", id_property="product_account_id").id == "1003"
    with pytest.raises(ApiException) as info:
        api.get_by_id("Company 3", id_property="name")
    assert info.value.status == 400
    assert "not a unique-value property" in body_of(info.value)["message"]
    with pytest.raises(NotFoundException):
        api.get_by_id("424242")


def test_archived_records_are_hidden_unless_asked(hubspot_sandbox):
    seed(hubspot_sandbox, 4, 0)
    api = client(hubspot_sandbox).crm.companies.basic_api
    api.archive("1002")
    assert [r.id for r in api.get_page(limit=10).results] == ["1000", "1001", "1003"]
    archived = api.get_page(limit=10, archived=True).results
    assert [(r.id, r.archived) for r in archived] == [("1002", True)]
    assert archived[0].archived_at is not None
    with pytest.raises(NotFoundException):
        api.get_by_id("1002")
    assert api.get_by_id("1002", archived=True).archived is True


def test_batch_read_reports_unknown_ids_as_207(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 0)
    batch = client(hubspot_sandbox).crm.companies.batch_api
    response = batch.read(BatchReadInputSimplePublicObjectId(
        properties=["name"], properties_with_history=[],
        inputs=[SimplePublicObjectId(id="1000"), SimplePublicObjectId(id="999999")]))
    assert type(response).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [r.id for r in response.results] == ["1000"]
    assert response.num_errors == 1
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["999999"]}
    by_unique = batch.read(BatchReadInputSimplePublicObjectId(
        properties=["name"], properties_with_history=[], id_property="product_account_id",
        inputs=[SimplePublicObjectId(id="A00002")]))
    assert [(r.id, r.properties["name"]) for r in by_unique.results] == [("1002", "Company 2")]
    with pytest.raises(ApiException) as info:
        batch.read(BatchReadInputSimplePublicObjectId(properties=[], properties_with_history=[], id_property="domain",
                                                       inputs=[SimplePublicObjectId(id="company1.example.com")]))
    assert info.value.status == 400


def test_batch_update_writes_and_moves_modified_date(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 0)
    crm = client(hubspot_sandbox).crm
    before = crm.companies.basic_api.get_by_id("1001")
    response = crm.companies.batch_api.update(update_batch([("1001", {"industry": "EdTech", "numberofemployees": 42})]))
    assert type(response).__name__ == "BatchResponseSimplePublicObject"
    assert response.status == "COMPLETE"
    written = response.results[0]
    assert written.properties["industry"] == "EdTech" and written.properties["numberofemployees"] == "42"
    assert written.properties["hs_lastmodifieddate"] > before.properties["hs_lastmodifieddate"]
    assert written.updated_at > before.updated_at
    after = crm.companies.basic_api.get_by_id("1001", properties=["industry", "numberofemployees"])
    assert after.properties["industry"] == "EdTech" and after.properties["numberofemployees"] == "42"


def test_batch_update_207_for_unknown_ids(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    response = client(hubspot_sandbox).crm.companies.batch_api.update(
        update_batch([("1000", {"name": "Renamed"}), ("777", {"name": "Ghost"}), ("778", {"name": "Ghost"})]))
    assert type(response).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [(r.id, r.properties["name"]) for r in response.results] == [("1000", "Renamed")]
    assert response.num_errors == 1
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["777", "778"]}


@pytest.mark.parametrize("bad, code", [
    ({"no_such_property": "x"}, "PROPERTY_DOESNT_EXIST"),
    ({"lifecyclestage": "Customer"}, "INVALID_OPTION"),  # the label, not the internal value `customer`
    ({"industry": "fintech"}, "INVALID_OPTION"),
    ({"numberofemployees": "forty"}, "INVALID_NUMBER"),
    ({"createdate": "last tuesday"}, "INVALID_DATETIME"),
    ({"hs_lastmodifieddate": "2024-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
])
def test_one_invalid_input_rejects_the_whole_batch(hubspot_sandbox, bad, code):
    seed(hubspot_sandbox, 2, 0)
    crm = client(hubspot_sandbox).crm
    with pytest.raises(ApiException) as info:
        crm.companies.batch_api.update(update_batch([("1000", {"name": "Would change"}), ("1001", bad)]))
    body = body_of(info.value)
    assert info.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert [e["code"] for e in body["errors"]] == [code]
    assert body["errors"][0]["context"] == {"propertyName": list(bad)}
    assert crm.companies.basic_api.get_by_id("1000").properties["name"] == "Company 0"


def test_batch_limits_and_duplicate_ids(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    batch = client(hubspot_sandbox).crm.companies.batch_api
    with pytest.raises(ApiException) as info:
        batch.update(update_batch([("1000", {"name": f"n{i}"}) for i in range(101)]))
    assert info.value.status == 400
    assert "exceeds the limit of 100" in body_of(info.value)["message"]
    with pytest.raises(ApiException) as info:
        batch.update(update_batch([("1000", {"name": "a"}), ("1000", {"name": "b"})]))
    assert info.value.status == 400 and "Duplicate IDs" in body_of(info.value)["message"]
    ok = batch.update(update_batch([(str(1000 + i % 2), {"name": "x"}) for i in range(2)]))
    assert len(ok.results) == 2


def test_batch_upsert_by_unique_property(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    crm = client(hubspot_sandbox).crm
    response = crm.companies.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="A00001", id_property="product_account_id", properties={"name": "One"}),
        SimplePublicObjectBatchInputUpsert(id="A09999", id_property="product_account_id", properties={"name": "New"}),
    ]))
    results = {r.properties["product_account_id"]: r for r in response.results}
    assert (results["A00001"].id, results["A00001"].new, results["A00001"].properties["name"]) == ("1001", False, "One")
    assert results["A09999"].new is True and results["A09999"].properties["name"] == "New"
    assert crm.companies.basic_api.get_by_id("A09999", id_property="product_account_id").id == results["A09999"].id
    with pytest.raises(ApiException) as info:
        crm.companies.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
            SimplePublicObjectBatchInputUpsert(id="Company 0", id_property="name", properties={"country": "FR"})]))
    assert info.value.status == 400 and "hasUniqueValue" in body_of(info.value)["message"]


def test_batch_create_and_unique_conflicts(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 1)
    crm = client(hubspot_sandbox).crm
    created = crm.companies.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties={"name": "Fresh", "product_account_id": "A77777"},
                                              associations=[])]))
    assert [r.properties["name"] for r in created.results] == ["Fresh"]
    assert int(created.results[0].id) > 1000
    with pytest.raises(ContactsApiException) as info:
        crm.contacts.batch_api.create(ContactsCreate(inputs=[
            ContactInput(properties={"email": "PERSON0@company0.example.com"}, associations=[])]))
    body = body_of(info.value)
    assert info.value.status == 409 and body["category"] == "CONFLICT"
    assert body["message"] == "Contact already exists. Existing ID: 50000"


def test_single_update_and_archive_batch(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 0)
    crm = client(hubspot_sandbox).crm
    updated = crm.companies.basic_api.update("1002", SimplePublicObjectInput(properties={"country": "FR"}))
    assert updated.properties["country"] == "FR"
    crm.companies.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id="1000")]))
    assert [r.id for r in crm.companies.basic_api.get_page().results] == ["1001", "1002"]


def test_merge_keeps_survivor_and_redirects_reads(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 2)
    crm = client(hubspot_sandbox).crm
    survivor = crm.companies.basic_api.merge(PublicMergeInput(primary_object_id="1000", object_id_to_merge="1001"))
    assert survivor.id == "1000"
    assert survivor.properties["hs_merged_object_ids"] == "1001"
    assert crm.companies.basic_api.get_by_id("1001").id == "1000"
    assert [r.id for r in crm.companies.basic_api.get_page().results] == ["1000", "1002"]
    contacts = crm.companies.basic_api.get_by_id("1000", associations=["contacts"]).associations["contacts"].results
    assert [a.id for a in contacts] == ["50000", "50001", "50002", "50003"]
    read = crm.companies.batch_api.read(BatchReadInputSimplePublicObjectId(
        properties=["hs_merged_object_ids"], properties_with_history=[], inputs=[SimplePublicObjectId(id="1001")]))
    assert [(r.id, r.properties["hs_merged_object_ids"]) for r in read.results] == [("1000", "1001")]
    with pytest.raises(ApiException) as info:
        crm.companies.basic_api.merge(PublicMergeInput(primary_object_id="1000", object_id_to_merge="1001"))
    assert info.value.status == 400
