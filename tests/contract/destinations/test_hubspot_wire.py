"""HubSpot wire rules without a server: value encoding, recorded-shape responses -> per-record results, errors."""
from __future__ import annotations

import pytest

from destinations.hubspot_wire import (
    HUBSPOT_RULES,
    PropertyValueError,
    batch_update_results,
    encode_property,
    error_code,
    membership_results,
)
from destinations.vendor_errors import classify_error, retry_after_seconds
from segsync.errors import FatalError, QuotaExhausted, RateLimited, RetryableError, SessionExpired
from segsync.sync.protocol import BatchRejected, Change, Result

SEGMENTS_PROPERTY = {
    "name": "segsync_segments", "type": "enumeration", "fieldType": "checkbox",
    "options": [{"label": "Churn risk", "value": "churn_risk"}, {"label": "Upsell", "value": "upsell"},
                {"label": "Beta invite", "value": "beta_invite"}],
}
TIER_PROPERTY = {"name": "tier", "type": "enumeration", "fieldType": "select",
                 "options": [{"label": "Gold", "value": "tier_gold"}, {"label": "Silver", "value": "tier_silver"}]}


def test_enumeration_labels_become_internal_values_deduplicated_in_order():
    assert encode_property("segsync_segments", ["Upsell", "churn_risk", "Upsell"], SEGMENTS_PROPERTY) == \
        "upsell;churn_risk"
    assert encode_property("tier", "Gold", TIER_PROPERTY) == "tier_gold"
    assert encode_property("segsync_segments", [], SEGMENTS_PROPERTY) == ""


def test_unknown_option_and_multiple_values_for_single_select_are_rejected_before_sending():
    with pytest.raises(PropertyValueError, match=r"'Bronze' is not one of its options"):
        encode_property("tier", "Bronze", TIER_PROPERTY)
    with pytest.raises(PropertyValueError, match="holds one option; got 2 values"):
        encode_property("tier", ["Gold", "Silver"], TIER_PROPERTY)


def test_dates_are_midnight_utc_epoch_millis():
    date_prop = {"type": "date", "fieldType": "date"}
    assert encode_property("since", "2026-03-01", date_prop) == "1772323200000"
    assert encode_property("since", "2026-03-01T23:59:00+00:00", date_prop) == "1772323200000"
    with pytest.raises(PropertyValueError, match="expected a date"):
        encode_property("since", "yesterday", date_prop)


def test_booleans_numbers_nulls_and_nan():
    flag = {"type": "bool", "fieldType": "booleancheckbox"}
    assert encode_property("f", True, flag) == "true"
    assert encode_property("f", False, flag) == "false"
    assert encode_property("f", None, flag) == ""
    with pytest.raises(PropertyValueError, match="expected true or false"):
        encode_property("f", "yes", flag)
    with pytest.raises(PropertyValueError, match="NaN"):
        encode_property("n", float("nan"), {"type": "number"})
    assert encode_property("n", 12, {"type": "number"}) == "12"
    with pytest.raises(PropertyValueError, match="empty string"):
        encode_property("s", "", {"type": "string"})


def _changes(target, keys, op="add"):
    return [Change(target=target, key=k, op=op) for k in keys]


def test_membership_add_response_marks_missing_ids_rejected_and_the_rest_synced():
    batch = _changes("segsync: churn_risk", ["101", "102", "999"])
    body = {"recordIdsMissing": ["999"], "recordIdsRemoved": [], "recordsIdsAdded": ["101"]}  # 102 already member
    assert membership_results(batch, body, "add") == [
        Result("segsync: churn_risk", "101", "synced"),
        Result("segsync: churn_risk", "102", "synced"),
        Result("segsync: churn_risk", "999", "rejected", error="HubSpot has no record with id 999",
               code="RECORD_MISSING"),
    ]


def test_membership_remove_of_a_deleted_record_is_skipped_not_failed():
    batch = _changes("segsync: churn_risk", ["101", "555"], op="remove")
    body = {"recordIdsMissing": ["555"], "recordIdsRemoved": ["101"], "recordsIdsAdded": []}
    results = membership_results(batch, body, "remove")
    assert [(r.key, r.outcome, r.code) for r in results] == [("101", "synced", None),
                                                             ("555", "skipped", "RECORD_MISSING")]


def test_batch_update_207_maps_errors_to_their_ids_and_leaves_unnamed_records_unconfirmed():
    batch = _changes("companies", ["1", "2", "3", "4"], op="update")
    body = {  # recorded shape of a 207 Multi-Status answer of POST /crm/v3/objects/companies/batch/update
        "status": "COMPLETE",
        "results": [{"id": "1", "properties": {"segsync_segments": "upsell"}},
                    {"id": "3", "properties": {"segsync_segments": ""}}],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some COMPANY "
                    "objects, they may be deleted or not exist. Check that ids are valid.",
                    "context": {"ids": ["2"]}}],
    }
    results = batch_update_results(batch, body)
    assert sorted((r.key, r.outcome, r.code) for r in results) == [
        ("1", "synced", None), ("2", "rejected", "OBJECT_NOT_FOUND"), ("3", "synced", None)]


@pytest.mark.parametrize("status, body, headers, expected", [
    (429, {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
           "message": "You have reached your ten_secondly_rolling limit."}, {"Retry-After": "2"}, RateLimited),
    (429, {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY",
           "message": "You have reached your daily limit."}, {}, QuotaExhausted),
    (400, {"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid"}, {},
     BatchRejected),
    (401, {"status": "error", "category": "INVALID_AUTHENTICATION", "message": "expired"}, {}, SessionExpired),
    (403, {"status": "error", "category": "MISSING_SCOPES", "message": "scopes"}, {}, FatalError),
    (502, {}, {}, RetryableError),
])
def test_status_and_category_map_to_the_one_error_hierarchy(status, body, headers, expected):
    error = classify_error("HubSpot", status, error_code(body), body.get("message", ""), rules=HUBSPOT_RULES,
                           retry_after=retry_after_seconds(headers))
    assert type(error) is expected
    if expected is RateLimited:
        assert error.retry_after == 2.0


def test_a_rate_limit_wait_beyond_a_quarter_hour_is_a_spent_allowance():
    error = classify_error("HubSpot", 429, "SECONDLY", "limit", rules=HUBSPOT_RULES, retry_after=7200)
    assert isinstance(error, QuotaExhausted)
    assert "retry after 7200s" in str(error)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": "Thu, 03 Dec 2026 14:00:10 GMT"},
                               now=1796306400.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds(None) is None
