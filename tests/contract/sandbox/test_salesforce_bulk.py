"""Salesforce emulator: Bulk API 2.0 ingest and query jobs through simple-salesforce's bulk2."""
from __future__ import annotations

import csv
import io
import re

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceOperationError

from tests.contract.sandbox.salesforce_helpers import (account_ids, admin, client, close_clients, raw,  # noqa: F401
                                                       seed)

WAIT = 0.02
JOBS = "/services/data/v62.0/jobs"


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def by_id(sf, soql: str) -> dict:
    return {r["Id"]: r for r in sf.query_all(soql)["records"]}


def test_insert_job_reports_successes_and_failures_per_record(sf_sandbox):
    sf = client(sf_sandbox)
    [summary] = sf.bulk2.Account.insert(records=[
        {"Name": "Bulk One", "Product_Account_Id__c": "B-1"},
        {"Name": "", "Product_Account_Id__c": "B-2"},
        {"Name": "Bulk Three", "Product_Account_Id__c": "B-3" + "x" * 40},
    ], wait=WAIT)
    assert (summary["numberRecordsProcessed"], summary["numberRecordsFailed"], summary["numberRecordsTotal"]) == (3, 2, 3)
    job_id = summary["job_id"]
    assert job_id.startswith("750")
    ok = rows(sf.bulk2.Account.get_successful_records(job_id))
    assert len(ok) == 1 and ok[0]["sf__Created"] == "true" and ok[0]["Name"] == "Bulk One"
    assert ok[0]["sf__Id"] == sf.query("SELECT Id FROM Account WHERE Product_Account_Id__c = 'B-1'")["records"][0]["Id"]
    failed = rows(sf.bulk2.Account.get_failed_records(job_id))
    assert [(f["sf__Id"], f["sf__Error"], f["Product_Account_Id__c"]) for f in failed] == [
        ("", "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "B-2"),
        ("", f"STRING_TOO_LONG:Product Account Id: data value too large: B-3{'x' * 40} (max length=40):"
             "Product_Account_Id__c --", "B-3" + "x" * 40)]
    assert rows(sf.bulk2.Account.get_unprocessed_records(job_id)) == []
    job = sf.bulk2.Account._client.get_job(job_id, False)
    assert (job["state"], job["object"], job["operation"], job["jobType"]) == ("JobComplete", "Account", "insert",
                                                                               "V2Ingest")


def test_update_empty_cell_leaves_a_field_and_na_clears_it(sf_sandbox):
    seed(sf_sandbox, 2)
    sf = client(sf_sandbox)
    ids = account_ids(2)
    [summary] = sf.bulk2.Account.update(records=[
        {"Id": ids[0], "Website": "", "BillingCountry": "#N/A"},
        {"Id": ids[1], "Website": "new.example.com", "BillingCountry": ""},
    ], wait=WAIT)
    assert summary["numberRecordsFailed"] == 0
    stored = by_id(sf, "SELECT Id, Website, BillingCountry FROM Account")
    assert (stored[ids[0]]["Website"], stored[ids[0]]["BillingCountry"]) == ("company-0.example.com", None)
    assert (stored[ids[1]]["Website"], stored[ids[1]]["BillingCountry"]) == ("new.example.com", "UK")


def test_upsert_by_external_id_and_delete(sf_sandbox):
    seed(sf_sandbox, 2)
    sf = client(sf_sandbox)
    [summary] = sf.bulk2.Account.upsert(records=[
        {"Product_Account_Id__c": "A-000000", "Name": "Renamed"},
        {"Product_Account_Id__c": "A-NEW", "Name": "Brand New"},
    ], external_id_field="Product_Account_Id__c", wait=WAIT)
    results = rows(sf.bulk2.Account.get_successful_records(summary["job_id"]))
    assert sorted((r["Product_Account_Id__c"], r["sf__Created"]) for r in results) == [("A-000000", "false"),
                                                                                       ("A-NEW", "true")]
    assert sf.query("SELECT Name FROM Account WHERE Id = '%s'" % account_ids(1)[0])["records"][0]["Name"] == "Renamed"
    [deleted] = sf.bulk2.Account.delete(records=[{"Id": account_ids(2)[1]}, {"Id": account_ids(2)[1]}], wait=WAIT)
    assert deleted["numberRecordsFailed"] == 1
    failed = rows(sf.bulk2.Account.get_failed_records(deleted["job_id"]))
    assert failed[0]["sf__Error"] == "ENTITY_IS_DELETED:entity is deleted: --"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2


def test_bulk_type_errors_picklists_and_lock_faults_are_per_record(sf_sandbox):
    seed(sf_sandbox, 3)
    admin(sf_sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": [
        {"name": "Segsync_Flag__c", "type": "boolean"},
        {"name": "Segsync_Segments__c", "type": "multipicklist", "picklistValues": ["a", "b"]}]})
    ids = account_ids(3)
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"record_ids": [ids[2]], "code": "UNABLE_TO_LOCK_ROW"})
    sf = client(sf_sandbox)
    [summary] = sf.bulk2.Account.update(records=[
        {"Id": ids[0], "Segsync_Flag__c": "maybe", "Segsync_Segments__c": "a;b"},
        {"Id": ids[1], "Segsync_Flag__c": "true", "Segsync_Segments__c": "a;c"},
        {"Id": ids[2], "Segsync_Flag__c": "true", "Segsync_Segments__c": "b"},
    ], wait=WAIT)
    assert summary["numberRecordsFailed"] == 3
    errors = {r["Id"]: r["sf__Error"] for r in rows(sf.bulk2.Account.get_failed_records(summary["job_id"]))}
    assert errors == {
        ids[0]: "INVALID_TYPE_ON_FIELD_IN_RECORD:Segsync Flag: value not of required type: maybe:Segsync_Flag__c --",
        ids[1]: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Segsync Segments: bad value for restricted picklist field: "
                "c:Segsync_Segments__c --",
        ids[2]: f"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: {ids[2]}: --"}


def test_unknown_column_fails_the_job(sf_sandbox):
    sf = client(sf_sandbox)
    with pytest.raises(SalesforceOperationError) as caught:
        sf.bulk2.Account.insert(records=[{"Name": "x", "Colour__c": "red"}], wait=WAIT)
    assert "InvalidBatch : Field name not found : Colour__c" in str(caught.value)


def test_job_states_uploads_aborts_and_unprocessed_records(sf_sandbox):
    created = raw(sf_sandbox, "POST", f"{JOBS}/ingest", json={"object": "Account", "operation": "insert",
                                                              "lineEnding": "LF"}).json()
    assert created["state"] == "Open" and created["contentUrl"].endswith(f"/jobs/ingest/{created['id']}/batches")
    job = f"{JOBS}/ingest/{created['id']}"
    early = raw(sf_sandbox, "GET", f"{job}/successfulResults")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    upload = raw(sf_sandbox, "PUT", f"{job}/batches", content=b"Name\nOne\nTwo\n",
                 headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201 and upload.content == b""
    aborted = raw(sf_sandbox, "PATCH", job, json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    late = raw(sf_sandbox, "PUT", f"{job}/batches", content=b"Name\nThree\n", headers={"Content-Type": "text/csv"})
    assert late.status_code == 409 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    sf = client(sf_sandbox)
    assert rows(sf.bulk2.Account.get_unprocessed_records(created["id"])) == [{"Name": "One"}, {"Name": "Two"}]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_ingest_polls_move_through_upload_complete_in_progress_job_complete(sf_sandbox):
    admin(sf_sandbox, "POST", "/__sandbox/config", {"bulk_in_progress_polls": 2})
    job_id = raw(sf_sandbox, "POST", f"{JOBS}/ingest", json={"object": "Account", "operation": "insert"}).json()["id"]
    job = f"{JOBS}/ingest/{job_id}"
    raw(sf_sandbox, "PUT", f"{job}/batches", content=b"Name\nOne\n", headers={"Content-Type": "text/csv"})
    assert raw(sf_sandbox, "PATCH", job, json={"state": "UploadComplete"}).json()["state"] == "UploadComplete"
    states = [raw(sf_sandbox, "GET", job).json()["state"] for _ in range(4)]
    assert states == ["InProgress", "InProgress", "JobComplete", "JobComplete"]
    assert raw(sf_sandbox, "DELETE", job).status_code == 204
    assert raw(sf_sandbox, "GET", job).status_code == 404


def test_line_ending_mismatch_and_bad_upsert_key_fail(sf_sandbox):
    job_id = raw(sf_sandbox, "POST", f"{JOBS}/ingest", json={"object": "Account", "operation": "insert",
                                                             "lineEnding": "LF"}).json()["id"]
    job = f"{JOBS}/ingest/{job_id}"
    raw(sf_sandbox, "PUT", f"{job}/batches", content=b"Name\r\nOne\r\n", headers={"Content-Type": "text/csv"})
    raw(sf_sandbox, "PATCH", job, json={"state": "UploadComplete"})
    info = raw(sf_sandbox, "GET", job).json()
    assert info["state"] == "Failed"
    assert info["errorMessage"] == ("ClientInputError : LineEnding is invalid on user data. Current LineEnding "
                                    "setting is LF")
    bad = raw(sf_sandbox, "POST", f"{JOBS}/ingest", json={"object": "Account", "operation": "upsert",
                                                          "externalIdFieldName": "Name"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALIDJOB"
    unknown = raw(sf_sandbox, "POST", f"{JOBS}/ingest", json={"object": "Widget", "operation": "insert"})
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALIDENTITY"


def test_query_job_pages_with_sforce_locator_until_null(sf_sandbox):
    seed(sf_sandbox, 2500, 1)
    sf = client(sf_sandbox)
    pages = list(sf.bulk2.Contact.query("SELECT Id, Email, Account.Name, SystemModstamp FROM Contact ORDER BY Id",
                                        max_records=1000, wait=WAIT))
    parsed = [rows(p) for p in pages]
    assert [len(p) for p in parsed] == [1000, 1000, 500]
    assert list(parsed[0][0]) == ["Id", "Email", "Account.Name", "SystemModstamp"]
    assert parsed[0][0]["Account.Name"] == "Company 0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", parsed[0][0]["SystemModstamp"])
    assert pages[0].splitlines()[0] == '"Id","Email","Account.Name","SystemModstamp"'
    job_id = raw(sf_sandbox, "POST", f"{JOBS}/query",
                 json={"operation": "query", "query": "SELECT Id FROM Account"}).json()["id"]
    early = raw(sf_sandbox, "GET", f"{JOBS}/query/{job_id}/results")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    states = [raw(sf_sandbox, "GET", f"{JOBS}/query/{job_id}").json()["state"] for _ in range(2)]
    assert states == ["InProgress", "JobComplete"]
    first = raw(sf_sandbox, "GET", f"{JOBS}/query/{job_id}/results", params={"maxRecords": 2000})
    assert first.headers["Sforce-NumberOfRecords"] == "2000" and first.headers["Sforce-Locator"] != "null"
    last = raw(sf_sandbox, "GET", f"{JOBS}/query/{job_id}/results",
               params={"maxRecords": 2000, "locator": first.headers["Sforce-Locator"]})
    assert last.headers["Sforce-NumberOfRecords"] == "500" and last.headers["Sforce-Locator"] == "null"


def test_query_all_job_includes_deleted_rows_and_bad_soql_is_refused(sf_sandbox):
    seed(sf_sandbox, 3)
    sf = client(sf_sandbox)
    sf.Account.delete(account_ids(3)[0])
    live = rows("".join(sf.bulk2.Account.query("SELECT Id FROM Account", wait=WAIT)))
    every = rows("".join(sf.bulk2.Account.query_all("SELECT Id, IsDeleted FROM Account ORDER BY Id", wait=WAIT)))
    assert len(live) == 2
    assert [(r["Id"], r["IsDeleted"]) for r in every] == [(i, "true" if n == 0 else "false")
                                                          for n, i in enumerate(account_ids(3))]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(sf.bulk2.Account.query("SELECT Nope FROM Account", wait=WAIT))
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_hard_delete_erases_records_even_from_query_all(sf_sandbox):
    seed(sf_sandbox, 3)
    sf = client(sf_sandbox)
    [summary] = sf.bulk2.Account.hard_delete(records=[{"Id": account_ids(3)[0]}], wait=WAIT)
    assert summary["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Account", include_deleted=True)["totalSize"] == 2


def test_bulk_upsert_with_a_key_twice_in_a_chunk_fails_both(sf_sandbox):
    sf = client(sf_sandbox)
    [summary] = sf.bulk2.Account.upsert(records=[
        {"Product_Account_Id__c": "K-1", "Name": "first"}, {"Product_Account_Id__c": "K-2", "Name": "other"},
        {"Product_Account_Id__c": "K-1", "Name": "second"}], external_id_field="Product_Account_Id__c", wait=WAIT)
    assert summary["numberRecordsFailed"] == 2
    errors = [r["sf__Error"] for r in rows(sf.bulk2.Account.get_failed_records(summary["job_id"]))]
    assert errors == ["DUPLICATE_VALUE:Duplicate external id specified: K-1:Product_Account_Id__c --"] * 2
