"""Salesforce wire rules: error classification, record encoding and per-record result mapping (no HTTP)."""
from __future__ import annotations

import pytest

from destinations.salesforce_wire import (
    bulk_csv,
    bulk_results,
    bulk_rows,
    collection_results,
    parse_bulk_error,
    request_error,
    rest_record,
)
from segsync.errors import FatalError, QuotaExhausted, RateLimited, RetryableError, SessionExpired
from segsync.sync.protocol import BatchRejected, Change


def change(key, new):
    return Change("Account", key, "update", new=new)


@pytest.mark.parametrize("status,code,kind", [
    (401, "INVALID_SESSION_ID", SessionExpired),
    (403, "REQUEST_LIMIT_EXCEEDED", QuotaExhausted),
    (429, "REQUEST_LIMIT_EXCEEDED", RateLimited),
    (503, "SERVER_UNAVAILABLE", RetryableError),
    (500, "UNKNOWN_EXCEPTION", RetryableError),
    (400, "JSON_PARSER_ERROR", BatchRejected),
    (400, "INVALID_FIELD", FatalError),
    (404, "NOT_FOUND", FatalError),
])
def test_request_errors_map_to_one_action_each(status, code, kind):
    error = request_error(status, [{"errorCode": code, "message": "m"}], retry_after=2.0)
    assert type(error) is kind
    assert (error.status, error.code, str(error)) == (status, code, f"salesforce: HTTP {status} {code}: m")


def test_rest_records_carry_only_the_change_payload():
    assert rest_record("Account", change("001A", {"Segsync_Alpha__c": False, "Segsync_Segments__c": None})) == {
        "attributes": {"type": "Account"}, "Id": "001A", "Segsync_Alpha__c": False, "Segsync_Segments__c": None}


def test_collection_results_pair_by_position_and_classify_codes():
    batch = [change("001A", {}), change("001B", {}), change("001C", {}), change("001D", {})]
    response = [
        {"id": "001A", "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []}]},
        {"success": False, "errors": [{"statusCode": "STRING_TOO_LONG", "message": "too long",
                                       "fields": ["Segsync_Segments__c"]}]},
        {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]},
    ]
    assert [(c.key, o, code, m) for c, o, code, m in collection_results(batch, response)] == [
        ("001A", "synced", None, None),
        ("001B", "retry", "UNABLE_TO_LOCK_ROW", "locked"),
        ("001C", "rejected", "STRING_TOO_LONG", "too long (fields: Segsync_Segments__c)"),
        ("001D", "deleted", "ENTITY_IS_DELETED", "entity is deleted"),
    ]
    with pytest.raises(FatalError, match="expected one result per record"):
        collection_results(batch, response[:3])


def test_bulk_csv_uses_na_for_null_and_leaves_missing_fields_empty():
    header, rows = bulk_rows([change("001A", {"Segsync_Alpha__c": True, "Segsync_Segments__c": "alpha"}),
                              change("001B", {"Segsync_Alpha__c": False, "Segsync_Segments__c": None}),
                              change("001C", {"Segsync_Beta__c": True})])
    assert bulk_csv(header, rows) == ("Id,Segsync_Alpha__c,Segsync_Beta__c,Segsync_Segments__c\n"
                                      "001A,true,,alpha\n"
                                      "001B,false,,#N/A\n"
                                      "001C,,true,\n")


def test_bulk_results_map_back_by_id_and_never_assume_success():
    batch = [change(k, {}) for k in ("001A", "001B", "001C", "001D")]
    paired = bulk_results(
        batch,
        successful=[{"sf__Id": "001A", "sf__Created": "false", "Id": "001A"}],
        failed=[{"sf__Id": "", "sf__Error": "FIELD_CUSTOM_VALIDATION_EXCEPTION:Locked by rule:Segsync_Alpha__c --",
                 "Id": "001B"}],
        unprocessed=[{"Id": "001C"}])
    assert [(c.key, o, code, m) for c, o, code, m in paired] == [
        ("001A", "synced", None, None),
        ("001B", "rejected", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Locked by rule:Segsync_Alpha__c"),
        ("001C", "retry", "UNPROCESSED", "the job stopped before this record"),
        ("001D", "retry", None, "no result returned for record"),
    ]
    assert parse_bulk_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record: --") == (
        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
