"""Salesforce emulator: 18-character ids, seeding from Arrow tables (mapping and speed), the state dump."""
from __future__ import annotations

import time

import pytest

from sandbox.salesforce.ids import checksum_suffix, make_id, normalise_id, to_18
from tests.contract.sandbox.salesforce_helpers import (account_ids, admin, client, close_clients,  # noqa: F401
                                                       contact_ids, dataset, seed)


def test_checksum_suffix_matches_salesforce_examples():
    assert to_18("001D000000IRFma") == "001D000000IRFmaIAH"
    assert checksum_suffix("0015g00000AbCdE") == "AAV"  # A, C, E upper case in the last chunk: 1 + 4 + 16 = V
    assert to_18("001D000000IRFmaiah") == "001D000000IRFmaIAH"  # the suffix is case-insensitive
    with pytest.raises(ValueError):
        to_18("001D000000IRFmaZZZ")
    assert normalise_id("003D000000IRFma", "001") is None
    assert normalise_id("not an id") is None


def test_made_ids_carry_the_key_prefix_and_a_valid_suffix():
    made = [make_id("001", n) for n in (0, 1, 61, 62, 10**9)]
    assert all(len(i) == 18 and i.startswith("0018c0") and to_18(i[:15]) == i for i in made)
    assert made == sorted(made) and len(set(made)) == 5


def test_seed_maps_dataset_columns_onto_accounts_and_contacts(sf_sandbox):
    data = seed(sf_sandbox, 3, 2)
    sf = client(sf_sandbox)
    account = sf.query("SELECT Id, Name, Product_Account_Id__c, Website, BillingCountry, AccountSource, Industry, "
                       "CreatedDate, IsDeleted, MasterRecordId, OwnerId FROM Account ORDER BY Id")["records"][1]
    assert {k: v for k, v in account.items() if k != "attributes"} == {
        "Id": account_ids(3)[1], "Name": "Company 1", "Product_Account_Id__c": "A-000001",
        "Website": "company-1.example.com", "BillingCountry": "UK", "AccountSource": "organic",
        "Industry": "EdTech", "CreatedDate": "2022-01-09T00:00:00.000+0000", "IsDeleted": False,
        "MasterRecordId": None, "OwnerId": "0058c00000A1b2CAAR"}
    contacts = sf.query("SELECT Id, AccountId, FirstName, LastName, Email, Title FROM Contact ORDER BY Id")["records"]
    assert len(contacts) == 6
    assert {k: v for k, v in contacts[3].items() if k != "attributes"} == {
        "Id": data.contacts["salesforce_id"][3].as_py(), "AccountId": account_ids(3)[1], "FirstName": "First3",
        "LastName": "Last3", "Email": "person3@company-1.example.com", "Title": "CTO"}


def test_seed_via_admin_route_loads_the_ravenstack_dataset(sf_sandbox):
    response = admin(sf_sandbox, "POST", "/__sandbox/seed", {"dataset": "ravenstack"})
    assert response.status_code == 200
    counts = response.json()["seeded"]
    sf = client(sf_sandbox)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == counts["Account"] > 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == counts["Contact"] > 0
    orphans = sf.query("SELECT COUNT() FROM Contact WHERE AccountId = null")["totalSize"]
    assert orphans == 0


def test_state_dump_lists_counts_custom_fields_and_small_tables(sf_sandbox):
    seed(sf_sandbox, 2)
    admin(sf_sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": [
        {"name": "Segsync_Flag__c", "type": "boolean"}]})
    client(sf_sandbox).Account.delete(account_ids(2)[0])
    state = admin(sf_sandbox, "GET", "/__sandbox/state").json()
    account = state["objects"]["Account"]
    assert (account["count"], account["deleted"]) == (1, 1)
    assert [f["name"] for f in account["custom_fields"]] == ["Product_Account_Id__c", "Segsync_Flag__c"]
    assert [r["Segsync_Flag__c"] for r in account["records"]] == [False, False]
    assert state["api_requests_used"] == 1


def test_seeding_100k_accounts_and_350k_contacts_takes_seconds(sf_sandbox):
    data = dataset(100_000, 4, contacts=350_000)
    assert data.contacts["salesforce_id"][349_999].as_py() == contact_ids(350_000)[-1]
    emulator = sf_sandbox["salesforce"]
    started = time.process_time()  # CPU seconds: robust against other processes sharing the machine
    with emulator.lock:
        emulator.reset()
        counts = emulator.seed(data)
    cpu_seconds = time.process_time() - started
    assert counts == {"Account": 100_000, "Contact": 350_000}
    assert cpu_seconds < 6.0, f"seeding took {cpu_seconds:.2f} CPU seconds"
    sf = client(sf_sandbox)
    assert sf.query("SELECT COUNT() FROM Contact WHERE Account.Product_Account_Id__c = 'A-087499'")["totalSize"] == 4
    with emulator.lock:
        emulator.reset()
