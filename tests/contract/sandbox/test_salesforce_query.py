"""Salesforce emulator: SOQL through simple-salesforce (filters, ordering, paging, queryAll, errors)."""
from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import soql
from tests.contract.sandbox.salesforce_helpers import (account_ids, admin, client, close_clients, raw,  # noqa: F401
                                                       seed)


def names(result) -> list[str]:
    return [r["Name"] for r in result["records"]]


def test_field_list_with_relationship_fields_and_attributes(sf_sandbox):
    seed(sf_sandbox, 3, 2)
    sf = client(sf_sandbox)
    result = sf.query("SELECT Id, LastName, Account.Name, Account.Product_Account_Id__c FROM Contact "
                      "WHERE Account.Product_Account_Id__c = 'A-000001' ORDER BY LastName")
    assert result["totalSize"] == 2 and result["done"] is True
    first = result["records"][0]
    account_id = account_ids(3)[1]
    assert first["attributes"] == {"type": "Contact", "url": f"/services/data/v62.0/sobjects/Contact/{first['Id']}"}
    assert first["LastName"] == "Last2"
    assert first["Account"] == {"attributes": {"type": "Account",
                                               "url": f"/services/data/v62.0/sobjects/Account/{account_id}"},
                                "Name": "Company 1", "Product_Account_Id__c": "A-000001"}
    assert list(first) == ["attributes", "Id", "LastName", "Account"]


def test_where_operators_and_boolean_logic(sf_sandbox):
    seed(sf_sandbox, 12)
    sf = client(sf_sandbox)
    q = "SELECT Name FROM Account WHERE {} ORDER BY Name"
    assert names(sf.query(q.format("Name = 'company 3'"))) == ["Company 3"]  # text compares case-insensitively
    assert len(sf.query(q.format("Name != 'Company 3'"))["records"]) == 11
    assert names(sf.query(q.format("Product_Account_Id__c >= 'A-000010'"))) == ["Company 10", "Company 11"]
    assert names(sf.query(q.format("Product_Account_Id__c < 'A-000002'"))) == ["Company 0", "Company 1"]
    assert names(sf.query(q.format("Product_Account_Id__c IN ('A-000004', 'A-000007', 'nope')"))) == [
        "Company 4", "Company 7"]
    assert len(sf.query(q.format("Product_Account_Id__c NOT IN ('A-000004', 'A-000007')"))["records"]) == 10
    assert names(sf.query(q.format("Name LIKE 'Company 1_'"))) == ["Company 10", "Company 11"]
    assert names(sf.query(q.format("Industry = 'FinTech' AND (BillingCountry = 'US' OR BillingCountry = 'DE')"))) \
        == ["Company 0", "Company 6"]
    assert names(sf.query(q.format("NOT Industry = 'FinTech' AND BillingCountry = null"))) == [
        "Company 11", "Company 7"]
    assert names(sf.query(q.format("Industry = 'EdTech' AND BillingCountry != null AND BillingCountry != 'UK'"))) \
        == ["Company 10", "Company 4"]


def test_date_and_datetime_literals(sf_sandbox):
    seed(sf_sandbox, 4)
    sf = client(sf_sandbox)
    ids = account_ids(4)
    admin(sf_sandbox, "POST", "/__sandbox/modstamp", {"object": "Account", "ids": ids[:2],
                                                       "SystemModstamp": "2026-01-01T10:00:00Z"})
    admin(sf_sandbox, "POST", "/__sandbox/modstamp", {"object": "Account", "ids": ids[2:],
                                                       "SystemModstamp": "2026-01-01T12:30:00.250+01:00"})
    rows = sf.query("SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2026-01-01T10:00:00Z")
    assert [(r["Id"], r["SystemModstamp"]) for r in rows["records"]] == [
        (ids[2], "2026-01-01T11:30:00.250+0000"), (ids[3], "2026-01-01T11:30:00.250+0000")]
    same = sf.query("SELECT Id FROM Account WHERE SystemModstamp = 2026-01-01T11:00:00+01:00")
    assert [r["Id"] for r in same["records"]] == ids[:2]
    created = sf.query("SELECT Name, CreatedDate FROM Account WHERE CreatedDate < 2022-01-10T00:00:00Z ORDER BY Name")
    assert [(r["Name"], r["CreatedDate"]) for r in created["records"]] == [
        ("Company 0", "2022-01-08T00:00:00.000+0000"), ("Company 1", "2022-01-09T00:00:00.000+0000")]


def test_compound_cursor_on_systemmodstamp_and_id_sees_ties(sf_sandbox):
    seed(sf_sandbox, 6)
    sf = client(sf_sandbox)
    ids = account_ids(6)
    admin(sf_sandbox, "POST", "/__sandbox/modstamp", {"ids": ids, "SystemModstamp": "2026-02-01T00:00:00.000Z"})
    cursor = "SELECT Id FROM Account WHERE SystemModstamp > {ts} OR (SystemModstamp = {ts} AND Id > '{id}') " \
             "ORDER BY SystemModstamp, Id LIMIT 4"
    page1 = [r["Id"] for r in sf.query(cursor.format(ts="2026-01-31T00:00:00Z", id="000000000000000"))["records"]]
    assert page1 == ids[:4]
    page2 = [r["Id"] for r in sf.query(cursor.format(ts="2026-02-01T00:00:00.000+0000", id=page1[-1]))["records"]]
    assert page2 == ids[4:]


def test_order_by_several_fields_directions_and_nulls(sf_sandbox):
    seed(sf_sandbox, 8)
    sf = client(sf_sandbox)
    rows = sf.query("SELECT Name, BillingCountry FROM Account ORDER BY BillingCountry DESC NULLS LAST, Name ASC")
    assert [(r["BillingCountry"], r["Name"]) for r in rows["records"]] == [
        ("US", "Company 0"), ("US", "Company 4"), ("UK", "Company 1"), ("UK", "Company 5"),
        ("DE", "Company 2"), ("DE", "Company 6"), (None, "Company 3"), (None, "Company 7")]
    default_nulls = sf.query("SELECT Name FROM Account ORDER BY BillingCountry, Name DESC LIMIT 3")
    assert names(default_nulls) == ["Company 7", "Company 3", "Company 6"]  # nulls sort first by default
    assert names(sf.query("SELECT Name FROM Account ORDER BY BillingCountry NULLS LAST, Name LIMIT 2 OFFSET 1")) \
        == ["Company 6", "Company 1"]


def test_count_returns_total_size_without_records(sf_sandbox):
    seed(sf_sandbox, 9)
    result = client(sf_sandbox).query("SELECT COUNT() FROM Account WHERE Industry = 'EdTech'")
    assert result == {"totalSize": 3, "done": True, "records": []}


def test_pages_of_2000_with_next_records_url_path(sf_sandbox):
    seed(sf_sandbox, 4500)
    sf = client(sf_sandbox)
    first = sf.query("SELECT Id, Name FROM Account ORDER BY Id")
    assert first["totalSize"] == 4500 and first["done"] is False and len(first["records"]) == 2000
    locator, _, offset = first["nextRecordsUrl"].rpartition("-")
    assert locator.startswith("/services/data/v62.0/query/01g") and offset == "2000"
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["nextRecordsUrl"].endswith("-4000")
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert len(third["records"]) == 500 and third["done"] is True and "nextRecordsUrl" not in third
    every = [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Account ORDER BY Id")]
    assert every == sorted(account_ids(4500))
    small = raw(sf_sandbox, "GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM Account"},
                headers={"Sforce-Query-Options": "batchSize=300"}).json()
    assert len(small["records"]) == 300 and small["nextRecordsUrl"].endswith("-300")


def test_bad_query_locator_is_invalid_query_locator(sf_sandbox):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client(sf_sandbox).query_more("01g8c0000000zzz-2000")
    assert caught.value.content == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


def test_query_all_returns_deleted_and_merged_rows(sf_sandbox):
    seed(sf_sandbox, 4, 1)
    sf = client(sf_sandbox)
    ids = account_ids(4)
    sf.Account.delete(ids[0])
    admin(sf_sandbox, "POST", "/__sandbox/merge", {"winner": ids[1], "losers": [ids[2]]})
    live = sf.query("SELECT Id FROM Account ORDER BY Id")
    assert [r["Id"] for r in live["records"]] == [ids[1], ids[3]]
    every = sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Account ORDER BY Id", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in every["records"]] == [
        (ids[0], True, None), (ids[1], False, None), (ids[2], True, ids[1]), (ids[3], False, None)]
    moved = sf.query("SELECT AccountId FROM Contact WHERE Account.Name = 'Company 1'")
    assert moved["totalSize"] == 2  # the loser's contact was re-parented to the winner


@pytest.mark.parametrize("query, code, fragment", [
    ("SELECT Id, Nmae FROM Account", "INVALID_FIELD", "No such column 'Nmae' on entity 'Account'"),
    ("SELECT Id FROM Contact WHERE Account.Nope = 'x'", "INVALID_FIELD", "No such column 'Nope' on entity 'Account'"),
    ("SELECT Id FROM Contact WHERE Acount.Name = 'x'", "INVALID_FIELD", "Didn't understand relationship 'Acount'"),
    ("SELECT Id FROM Account ORDER BY Missing__c", "INVALID_FIELD", "No such column 'Missing__c'"),
    ("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01'", "INVALID_FIELD",
     "must be of type dateTime and should not be enclosed in quotes"),
    ("SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01", "INVALID_FIELD", "must be of type dateTime"),
    ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string and should be enclosed"),
    ("SELECT Id FROM Account WHERE IsDeleted = 'true'", "INVALID_FIELD", "must be of type boolean"),
    ("SELECT Id FROM Account WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: not-an-id"),
    ("SELECT Id FROM Widget__c", "INVALID_TYPE", "sObject type 'Widget__c' is not supported"),
    ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
    ("SELECT Id Name FROM Account", "MALFORMED_QUERY", "unexpected token: 'Name'"),
    ("SELECT Id FROM Account WHERE (Name = 'a'", "MALFORMED_QUERY", "expecting ')'"),
    ("SELECT Id FROM Account LIMIT ten", "MALFORMED_QUERY", "unexpected token: 'ten'"),
    ("SELECT Id, Id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id"),
    ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY", "unexpected token"),
])
def test_query_errors(sf_sandbox, query, code, fragment):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client(sf_sandbox).query(query)
    [error] = caught.value.content
    assert error["errorCode"] == code
    assert fragment in error["message"]


def test_parser_builds_the_expected_tree():
    query = soql.parse("select Id, Account.Name from Contact where not (Email like '%@x.com' or Title in ('A','B')) "
                       "and CreatedDate >= 2026-01-01T00:00:00Z order by LastName desc nulls last, Id limit 5")
    assert [f.path for f in query.fields] == [("Id",), ("Account", "Name")]
    assert query.where.op == "AND"
    negated, created = query.where.parts
    assert negated.op == "NOT" and negated.parts[0].op == "OR"
    assert [p.op for p in negated.parts[0].parts] == ["LIKE", "IN"]
    assert created.op == ">=" and created.values[0].kind == "datetime"
    assert [(o.ref.path, o.descending, o.nulls_last) for o in query.order] == [(("LastName",), True, True),
                                                                             (("Id",), False, False)]
    assert query.limit == 5


def test_relative_date_literals_are_utc_day_ranges(sf_sandbox):
    seed(sf_sandbox, 4)
    sf = client(sf_sandbox)
    ids = account_ids(4)
    today = dt.datetime.now(dt.timezone.utc).date()
    stamps = [today - dt.timedelta(days=40), today - dt.timedelta(days=2), today, today + dt.timedelta(days=1)]
    for record_id, day in zip(ids, stamps):
        admin(sf_sandbox, "POST", "/__sandbox/modstamp", {"ids": [record_id], "SystemModstamp": f"{day}T12:00:00Z"})

    def matching(condition: str) -> list[str]:
        return [r["Id"] for r in sf.query(f"SELECT Id FROM Account WHERE {condition} ORDER BY Id")["records"]]

    assert matching("SystemModstamp = TODAY") == [ids[2]]
    assert matching("SystemModstamp = LAST_N_DAYS:30") == [ids[1], ids[2]]
    assert matching("SystemModstamp < LAST_N_DAYS:30") == [ids[0]]
    assert matching("SystemModstamp > TODAY") == [ids[3]]
    assert matching("SystemModstamp = N_DAYS_AGO:2") == [ids[1]]
    assert matching("SystemModstamp = NEXT_N_DAYS:1") == [ids[3]]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Account WHERE Name = TODAY")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_multiselect_includes_excludes_and_15_character_ids(sf_sandbox):
    seed(sf_sandbox, 3)
    admin(sf_sandbox, "POST", "/__sandbox/fields", {"object": "Account", "fields": [
        {"name": "Segsync_Segments__c", "type": "multipicklist", "picklistValues": ["a", "b", "c"]}]})
    sf = client(sf_sandbox)
    ids = account_ids(3)
    sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Account"}, "Id": ids[0], "Segsync_Segments__c": "a;b"},
        {"attributes": {"type": "Account"}, "Id": ids[1], "Segsync_Segments__c": "c"}]})
    q = "SELECT Id FROM Account WHERE Segsync_Segments__c {} ORDER BY Id"
    assert [r["Id"] for r in sf.query(q.format("INCLUDES ('a;b', 'c')"))["records"]] == ids[:2]
    assert [r["Id"] for r in sf.query(q.format("INCLUDES ('b')"))["records"]] == ids[:1]
    assert [r["Id"] for r in sf.query(q.format("EXCLUDES ('a')"))["records"]] == ids[1:]
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{ids[2][:15]}'")["records"][0]["Id"] == ids[2]


def test_overlong_query_and_cursor_limit(sf_sandbox):
    seed(sf_sandbox, 2500)
    sf = client(sf_sandbox)
    overlong = "SELECT Id FROM Account WHERE Name IN (" + ",".join(["'x'"] * 30_000) + ")"
    response = raw(sf_sandbox, "POST", "/services/data/v62.0/jobs/query", json={"operation": "query",
                                                                                "query": overlong})
    assert response.status_code == 400
    assert response.json()[0]["message"] == "SOQL statements cannot be longer than 100,000 characters"
    first = sf.query("SELECT Id FROM Account")
    for _ in range(10):
        sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_escaped_string_literals_and_like_wildcards(sf_sandbox):
    sf = client(sf_sandbox)
    sf.Account.create({"Name": 'O\'Brien "Q" 100% \\ Ltd'})
    sf.Account.create({"Name": "O Brien 1000 Ltd"})
    exact = sf.query("SELECT Name FROM Account WHERE Name = 'O\\'Brien \\\"Q\\\" 100% \\\\ Ltd'")
    assert names(exact) == ['O\'Brien "Q" 100% \\ Ltd']
    assert names(sf.query("SELECT Name FROM Account WHERE Name LIKE '%100\\%%'")) == ['O\'Brien "Q" 100% \\ Ltd']
    assert len(sf.query("SELECT Name FROM Account WHERE Name LIKE 'O_Brien%'")["records"]) == 2
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Name FROM Account WHERE Name = 'bad \\q escape'")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_owner_relationship_resolves_to_the_integration_user(sf_sandbox):
    seed(sf_sandbox, 1)
    sf = client(sf_sandbox)
    [row] = sf.query("SELECT Id, Owner.Name, Owner.Email FROM Account")["records"]
    assert {k: v for k, v in row["Owner"].items() if k != "attributes"} == {
        "Name": "Segsync Integration", "Email": "integration@segsync.example.com"}
    assert sf.query("SELECT COUNT() FROM User WHERE IsActive = true")["totalSize"] == 1
    [refused] = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "User"}, "Name": "Intruder"}]})
    assert refused["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"  # users are read-only here
