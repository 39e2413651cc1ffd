"""Salesforce emulator: Describe, custom fields, single-record REST, sObject Collections and field validation."""
from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.contract.sandbox.salesforce_helpers import (account_ids, admin, client, close_clients,  # noqa: F401
                                                       seed)

FIELDS = [
    {"name": "Segsync_Churn_Risk__c", "type": "boolean"},
    {"name": "Segsync_Tier__c", "type": "picklist", "picklistValues": ["Gold", "Silver"], "restricted": True},
    {"name": "Segsync_Segments__c", "type": "multipicklist", "picklistValues": ["churn_risk", "upsell"]},
    {"name": "Segsync_Entered__c", "type": "date"},
    {"name": "Segsync_Seen_At__c", "type": "datetime"},
    {"name": "Segsync_Note__c", "type": "string", "length": 10},
    {"name": "Segsync_Score__c", "type": "double"},
]


def setup_fields(sandbox) -> None:
    response = admin(sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": FIELDS})
    assert response.status_code == 200, response.text


def collection(sf, method: str, records: list[dict], all_or_none: bool = False, path: str = "composite/sobjects"):
    return sf.restful(path, method=method, json={"allOrNone": all_or_none, "records": records})


def acct(**fields) -> dict:
    return {"attributes": {"type": "Account"}, **fields}


def test_describe_reports_types_lengths_picklists_and_flags(sf_sandbox):
    setup_fields(sf_sandbox)
    described = {f["name"]: f for f in client(sf_sandbox).Account.describe()["fields"]}
    assert described["Product_Account_Id__c"]["externalId"] is True
    assert described["Product_Account_Id__c"]["unique"] is True
    assert described["Product_Account_Id__c"]["length"] == 40
    assert described["Name"]["nillable"] is False and described["Name"]["length"] == 255
    assert described["SystemModstamp"]["updateable"] is False and described["SystemModstamp"]["type"] == "datetime"
    tier = described["Segsync_Tier__c"]
    assert tier["type"] == "picklist" and tier["restrictedPicklist"] is True and tier["custom"] is True
    assert tier["picklistValues"] == [
        {"active": True, "defaultValue": False, "label": "Gold", "validFor": None, "value": "Gold"},
        {"active": True, "defaultValue": False, "label": "Silver", "validFor": None, "value": "Silver"}]
    assert described["Segsync_Segments__c"]["type"] == "multipicklist"
    assert described["Segsync_Churn_Risk__c"]["nillable"] is False
    assert described["Segsync_Note__c"]["length"] == 10
    assert described["Industry"]["restrictedPicklist"] is False
    contact = {f["name"]: f for f in client(sf_sandbox).Contact.describe()["fields"]}
    assert contact["AccountId"]["referenceTo"] == ["Account"] and contact["AccountId"]["relationshipName"] == "Account"


def test_custom_fields_are_idempotent_and_extend_picklists(sf_sandbox):
    setup_fields(sf_sandbox)
    again = admin(sf_sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": [
        {"name": "Segsync_Segments__c", "type": "multipicklist", "picklistValues": ["upsell", "beta_invite"]}]})
    assert [v["value"] for v in again.json()["fields"][0]["picklistValues"]] == ["churn_risk", "upsell", "beta_invite"]
    bad = admin(sf_sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": [
        {"name": "NoSuffix", "type": "boolean"}]})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


def test_single_record_create_get_update_upsert_delete(sf_sandbox):
    setup_fields(sf_sandbox)
    sf = client(sf_sandbox)
    created = sf.Account.create({"Name": "Acme", "Product_Account_Id__c": "P-1", "Segsync_Churn_Risk__c": True})
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("001")
    record = sf.Account.get(created["id"])
    assert (record["Name"], record["Segsync_Churn_Risk__c"], record["IsDeleted"]) == ("Acme", True, False)
    assert record["CreatedDate"] == record["SystemModstamp"]
    assert sf.Account.update(created["id"], {"Website": "acme.example.com"}) == 204
    after = sf.Account.get_by_custom_id("Product_Account_Id__c", "p-1")  # external ids match case-insensitively
    assert after["Website"] == "acme.example.com" and after["SystemModstamp"] > record["SystemModstamp"]
    assert sf.Account.upsert("Product_Account_Id__c/P-1", {"Name": "Acme Inc"}) == 200
    assert sf.Account.upsert("Product_Account_Id__c/P-2", {"Name": "Beta"}) == 201
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(created["id"])
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(created["id"], {"Name": "Zombie"})
    assert caught.value.content == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]


def test_single_record_validation_errors(sf_sandbox):
    sf = client(sf_sandbox)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Website": "x.example.com"})
    assert caught.value.content == [{"message": "Required fields are missing: [Name]",
                                     "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "A", "Colour__c": "red"})
    assert caught.value.content == [{"message": "No such column 'Colour__c' on sobject of type Account",
                                     "errorCode": "INVALID_FIELD"}]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.update("001000000000000AAA", {"Name": "ghost"})


def test_collections_create_update_delete_in_request_order(sf_sandbox):
    setup_fields(sf_sandbox)
    sf = client(sf_sandbox)
    created = collection(sf, "POST", [acct(Name="A"), acct(Name="B" * 256), acct(Name="C")])
    assert [r["success"] for r in created] == [True, False, True]
    assert created[1] == {"success": False, "errors": [{
        "statusCode": "STRING_TOO_LONG", "message": f"Account Name: data value too large: {'B' * 256} (max length=255)",
        "fields": ["Name"]}]}
    a_id, c_id = created[0]["id"], created[2]["id"]
    updated = collection(sf, "PATCH", [acct(Id=c_id, Segsync_Segments__c="churn_risk;upsell"),
                                       acct(Id="001000000000000AAA", Name="ghost"),
                                       acct(Id=a_id, Segsync_Tier__c="Bronze")])
    assert updated == [
        {"id": c_id, "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "INVALID_CROSS_REFERENCE_KEY",
                                       "message": "invalid cross reference id", "fields": []}]},
        {"success": False, "errors": [{"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                       "message": "Segsync Tier: bad value for restricted picklist field: Bronze",
                                       "fields": ["Segsync_Tier__c"]}]}]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{a_id},bogus", "allOrNone": "false"})
    assert deleted == [{"id": a_id, "success": True, "errors": []},
                       {"success": False, "errors": [{"statusCode": "MALFORMED_ID", "message": "malformed id bogus",
                                                      "fields": []}]}]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": a_id})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collection_upsert_by_external_id_reports_created(sf_sandbox):
    seed(sf_sandbox, 2)
    sf = client(sf_sandbox)
    result = collection(sf, "PATCH", [acct(Product_Account_Id__c="A-000001", Website="one.example.com"),
                                      acct(Product_Account_Id__c="A-NEW", Name="New Co"),
                                      acct(Product_Account_Id__c="A-NEW2")],
                        path="composite/sobjects/Account/Product_Account_Id__c")
    assert result[0] == {"id": account_ids(2)[1], "success": True, "errors": [], "created": False}
    assert result[1]["created"] is True and result[1]["success"] is True
    assert result[2] == {"success": False, "created": False, "errors": [{
        "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}
    with pytest.raises(SalesforceMalformedRequest) as caught:
        collection(sf, "PATCH", [acct(Name="x")], path="composite/sobjects/Account/Name")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_more_than_200_records_is_exceeded_id_limit(sf_sandbox):
    sf = client(sf_sandbox)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        collection(sf, "POST", [acct(Name=f"N{i}") for i in range(201)])
    assert caught.value.content == [{"message": "record limit reached. cannot submit more than 200 records into "
                                                "this call", "errorCode": "EXCEEDED_ID_LIMIT"}]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(account_ids(201))})
    assert len(collection(sf, "POST", [acct(Name=f"N{i}") for i in range(200)])) == 200


def test_all_or_none_rolls_back_every_record(sf_sandbox):
    seed(sf_sandbox, 3)
    setup_fields(sf_sandbox)
    sf = client(sf_sandbox)
    ids = account_ids(3)
    before = sf.query("SELECT Id, Website, SystemModstamp FROM Account ORDER BY Id")["records"]
    result = collection(sf, "PATCH", [acct(Id=ids[0], Website="changed.example.com"),
                                      acct(Id=ids[1], Segsync_Note__c="x" * 11),
                                      acct(Id=ids[2], Website="changed.example.com")], all_or_none=True)
    rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": [],
              "message": "Record rolled back because not all records were valid and the request was using "
                         "AllOrNone header"}
    assert result[0] == {"id": ids[0], "success": False, "errors": [rolled]}
    assert result[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert result[2] == {"id": ids[2], "success": False, "errors": [rolled]}
    assert sf.query("SELECT Id, Website, SystemModstamp FROM Account ORDER BY Id")["records"] == before
    created = collection(sf, "POST", [acct(Name="ok"), acct(Name=None)], all_or_none=True)
    assert created[0]["success"] is False and sf.query("SELECT COUNT() FROM Account")["totalSize"] == 3


def test_value_validation_on_write(sf_sandbox):
    seed(sf_sandbox, 1)
    setup_fields(sf_sandbox)
    sf = client(sf_sandbox)
    account = account_ids(1)[0]

    def patch(**fields):
        return collection(sf, "PATCH", [acct(Id=account, **fields)])[0]

    assert patch(Segsync_Segments__c="upsell;churn_risk", Segsync_Entered__c="2026-12-01",
                 Segsync_Seen_At__c="2026-12-01T10:00:00+02:00", Segsync_Score__c=0.5)["success"] is True
    stored = sf.Account.get(account)
    assert (stored["Segsync_Segments__c"], stored["Segsync_Entered__c"], stored["Segsync_Seen_At__c"],
            stored["Segsync_Score__c"]) == ("upsell;churn_risk", "2026-12-01", "2026-12-01T08:00:00.000+0000", 0.5)
    bad_multi = patch(Segsync_Segments__c="upsell;nope")
    assert bad_multi["errors"] == [{"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields":
                                    ["Segsync_Segments__c"], "message":
                                    "Segsync Segments: bad value for restricted picklist field: nope"}]
    assert patch(CreatedDate="2020-01-01T00:00:00Z")["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert patch(Name=None)["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert patch(Segsync_Segments__c=None, Website=None)["success"] is True  # JSON null clears a field
    cleared = sf.Account.get(account)
    assert (cleared["Segsync_Segments__c"], cleared["Website"]) == (None, None)
    for wrong in ({"Segsync_Churn_Risk__c": "yes"}, {"Segsync_Score__c": "high"}, {"Segsync_Entered__c": 20261201},
                  {"Segsync_Entered__c": "2026-13-45"}):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            patch(**wrong)
        assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR", wrong
    contact = collection(sf, "POST", [{"attributes": {"type": "Contact"}, "LastName": "X", "AccountId": "001bad"}])
    assert contact[0]["errors"][0]["statusCode"] == "MALFORMED_ID"
    email = collection(sf, "POST", [{"attributes": {"type": "Contact"}, "LastName": "X", "Email": "not-an-email"}])
    assert email[0]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    duplicate = collection(sf, "POST", [acct(Name="Dup", Product_Account_Id__c="A-000000")])
    assert duplicate[0]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"


def test_merged_records_refuse_writes_and_point_to_the_winner(sf_sandbox):
    seed(sf_sandbox, 3)
    sf = client(sf_sandbox)
    ids = account_ids(3)
    merged = admin(sf_sandbox, "POST", "/__sandbox/merge", {"winner": ids[0], "losers": [ids[1], ids[2]]})
    assert merged.json() == {"winner": ids[0], "merged": [ids[1], ids[2]], "reparented_contacts": 0}
    result = collection(sf, "PATCH", [acct(Id=ids[1], Website="w.example.com"), acct(Id=ids[0], Website="w.example.com")])
    assert result[0] == {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted",
                                                       "fields": []}]}
    assert result[1]["success"] is True
    loser = sf.query_all("SELECT MasterRecordId, IsDeleted FROM Account WHERE Id = '%s'" % ids[1][:15],
                         include_deleted=True)["records"][0]
    assert (loser["MasterRecordId"], loser["IsDeleted"]) == (ids[0], True)
    upsert = collection(sf, "PATCH", [acct(Product_Account_Id__c="A-000001", Name="Reborn")],
                        path="composite/sobjects/Account/Product_Account_Id__c")
    assert upsert[0]["created"] is True  # a merged record's external id no longer matches


def test_unable_to_lock_row_for_chosen_records(sf_sandbox):
    seed(sf_sandbox, 3)
    sf = client(sf_sandbox)
    ids = account_ids(3)
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"record_ids": [ids[1]], "code": "UNABLE_TO_LOCK_ROW", "times": 1})
    records = [acct(Id=i, Website="lock.example.com") for i in ids]
    first = collection(sf, "PATCH", records)
    assert [r["success"] for r in first] == [True, False, True]
    assert first[1]["errors"] == [{"statusCode": "UNABLE_TO_LOCK_ROW", "fields": [], "message":
                                   f"unable to obtain exclusive access to this record or 1 records: {ids[1]}"}]
    assert [r["success"] for r in collection(sf, "PATCH", records)] == [True, True, True]


def test_system_modstamp_advances_per_write_in_milliseconds(sf_sandbox):
    seed(sf_sandbox, 2)
    sf = client(sf_sandbox)
    ids = account_ids(2)
    collection(sf, "PATCH", [acct(Id=i, Website="a.example.com") for i in ids])
    one = sf.query("SELECT SystemModstamp FROM Account ORDER BY Id")["records"]
    assert one[0]["SystemModstamp"] == one[1]["SystemModstamp"]  # one call is one transaction
    assert len(one[0]["SystemModstamp"]) == 28 and one[0]["SystemModstamp"].endswith("+0000")
    sf.Account.update(ids[1], {"Website": "b.example.com"})
    two = sf.query("SELECT SystemModstamp, LastModifiedDate FROM Account ORDER BY Id")["records"]
    assert two[1]["SystemModstamp"] > one[1]["SystemModstamp"] and two[0] == dict(one[0], LastModifiedDate=two[0][
        "LastModifiedDate"])
    assert two[1]["LastModifiedDate"] == two[1]["SystemModstamp"]


def test_a_key_given_twice_in_one_call_matches_neither(sf_sandbox):
    seed(sf_sandbox, 3)
    sf = client(sf_sandbox)
    ids = account_ids(3)
    updated = collection(sf, "PATCH", [acct(Id=ids[0], Website="a.example.com"), acct(Id=ids[1][:15], Website="b"),
                                       acct(Id=ids[1], Website="c")])
    assert updated[0]["success"] is True
    assert [u["errors"] for u in updated[1:]] == [
        [{"statusCode": "DUPLICATE_VALUE", "message": f"Duplicate id in list: {ids[1][:15]}", "fields": []}],
        [{"statusCode": "DUPLICATE_VALUE", "message": f"Duplicate id in list: {ids[1]}", "fields": []}]]
    upserted = collection(sf, "PATCH", [acct(Product_Account_Id__c="X-1", Name="one"),
                                        acct(Product_Account_Id__c="x-1", Name="two"),
                                        acct(Product_Account_Id__c="A-000002", Name="kept")],
                          path="composite/sobjects/Account/Product_Account_Id__c")
    assert [u["success"] for u in upserted] == [False, False, True]
    assert upserted[0]["errors"] == [{"statusCode": "DUPLICATE_VALUE", "fields": ["Product_Account_Id__c"],
                                      "message": "Duplicate external id specified: X-1"}]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 3
