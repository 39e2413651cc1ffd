"""HubSpot emulator associations company <-> contact: v4 list, batch read, create default; v3 batch read."""
from __future__ import annotations

from hubspot.crm.associations import BatchInputPublicObjectId, PublicObjectId
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4 import PublicObjectId as V4ObjectId
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputForCreate, SimplePublicObjectBatchInputForCreate

from tests.contract.sandbox.hubspot_helpers import client, raw, seed


def test_v4_list_marks_the_primary_company(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 3)
    v4 = client(hubspot_sandbox).crm.associations.v4
    companies = v4.basic_api.get_page("companies", "1001", "contacts")
    assert [r.to_object_id for r in companies.results] == ["50003", "50004", "50005"]
    assert [(t.category, t.type_id, t.label) for t in companies.results[0].association_types] == [
        ("HUBSPOT_DEFINED", 2, "Primary"), ("HUBSPOT_DEFINED", 280, None)]
    back = v4.basic_api.get_page("contacts", "50004", "companies")
    assert [r.to_object_id for r in back.results] == ["1001"]
    assert [t.type_id for t in back.results[0].association_types] == [1, 279]
    paged = raw(hubspot_sandbox, "GET", "/crm/v4/objects/companies/1001/associations/contacts", params={"limit": 2})
    assert [r["toObjectId"] for r in paged.json()["results"]] == [50003, 50004]
    assert paged.json()["paging"]["next"]["after"] == "50005"


def test_v4_batch_read_reports_records_without_associations(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 1)
    v4 = client(hubspot_sandbox).crm.associations.v4
    response = v4.batch_api.get_page("companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id="1000"), PublicFetchAssociationsBatchRequest(id="1002"),
                PublicFetchAssociationsBatchRequest(id="9999")]))
    assert [(r._from.id, [t.to_object_id for t in r.to]) for r in response.results] == [
        ("1000", ["50000"]), ("1002", ["50002"])]
    assert response.num_errors == 1
    assert response.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert response.errors[0].context == {"fromObjectId": ["9999"]}
    too_many = raw(hubspot_sandbox, "POST", "/crm/v4/associations/companies/contacts/batch/read",
                   json={"inputs": [{"id": str(i)} for i in range(1001)]})
    assert too_many.status_code == 400


def test_create_default_associations(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 1)
    crm = client(hubspot_sandbox).crm
    created = crm.associations.v4.batch_api.create_default("companies", "contacts",
        BatchInputPublicDefaultAssociationMultiPost(inputs=[
            PublicDefaultAssociationMultiPost(_from=V4ObjectId(id="1000"), to=V4ObjectId(id="50001"))]))
    assert [(r._from.id, r.to.id, r.association_spec.association_type_id) for r in created.results] == [
        ("1000", "50001", 280)]
    single = crm.associations.v4.basic_api.create_default("contacts", "50000", "companies", "1001")
    assert single.results[0].association_spec.association_type_id == 279
    assert [r.to_object_id for r in crm.associations.v4.basic_api.get_page("companies", "1000", "contacts").results] \
        == ["50000", "50001"]
    contact = crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties={"email": "new@company1.example.com"}, associations=[
            {"to": {"id": "1001"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                              "associationTypeId": 1}]}])])).results[0]
    linked = crm.associations.v4.basic_api.get_page("contacts", contact.id, "companies").results
    assert [r.to_object_id for r in linked] == ["1001"]


def test_v3_batch_read(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 2)
    v3 = client(hubspot_sandbox).crm.associations.batch_api
    response = v3.read("contacts", "companies", BatchInputPublicObjectId(
        inputs=[PublicObjectId(id="50000"), PublicObjectId(id="50003")]))
    assert [(r._from.id, [(t.id, t.type) for t in r.to]) for r in response.results] == [
        ("50000", [("1000", "contact_to_company")]), ("50003", [("1001", "contact_to_company")])]


def test_remove_association_and_v3_list(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 3)
    v4 = client(hubspot_sandbox).crm.associations.v4
    v4.basic_api.archive("companies", "1000", "contacts", "50001")
    assert [r.to_object_id for r in v4.basic_api.get_page("companies", "1000", "contacts").results] == \
        ["50000", "50002"]
    listed = raw(hubspot_sandbox, "GET", "/crm/v3/objects/contacts/50002/associations/companies")
    assert listed.status_code == 200
    assert listed.json() == {"results": [{"id": "1000", "type": "contact_to_company"}]}
    assert raw(hubspot_sandbox, "GET", "/crm/v3/objects/contacts/50001/associations/companies").json() == \
        {"results": []}
