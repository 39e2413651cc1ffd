"""Klaviyo wire rules without a server: JSON:API errors per item, import errors per profile, filters, rules."""
from __future__ import annotations

import json

from openapi_client.exceptions import ApiException

from destinations.klaviyo import KlaviyoDestination
from destinations.klaviyo_wire import (
    KLAVIYO_RULES,
    any_filter,
    error_code,
    import_results,
    record_errors,
)
from destinations.vendor_errors import classify_error
from segsync.errors import FatalError, QuotaExhausted, RateLimited
from segsync.sync.protocol import BatchRejected, Change, Result

LIST = "segsync: churn_risk"


def _changes(keys, op="add"):
    return [Change(target=LIST, key=k, op=op) for k in keys]


def test_item_pointers_name_the_refused_records_and_a_call_level_pointer_does_not():
    body = {"errors": [{"id": "e1", "status": 400, "code": "invalid", "title": "Invalid input.",
                        "detail": "Item 1 must be a profile", "source": {"pointer": "/data/1/id"}}]}
    assert record_errors(body) == {1: "Item 1 must be a profile"}
    whole = {"errors": [{"status": 400, "code": "invalid", "detail": "no such profile",
                         "source": {"pointer": "/data"}}]}
    assert record_errors(whole) is None


def test_import_errors_map_back_by_profile_index_and_passing_conflicts_retry():
    batch = _changes(["a@x.example.com", "bad", "c@x.example.com"])
    errors = [{"type": "import-error", "id": "1", "attributes": {
        "code": "invalid", "title": "Invalid input.", "detail": "Invalid email address: 'bad'.",
        "source": {"pointer": "/data/attributes/profiles/data/1/attributes/email"}}},
        {"type": "import-error", "id": "2", "attributes": {
            "code": "conflict", "title": "Conflict.", "detail": "profile is being merged",
            "source": {"pointer": "/data/attributes/profiles/data/2"}}}]
    assert import_results(batch, errors) == [
        Result(LIST, "a@x.example.com", "synced"),
        Result(LIST, "bad", "rejected", error="Invalid email address: 'bad'.", code="invalid"),
        Result(LIST, "c@x.example.com", "retry", error="profile is being merged", code="conflict"),
    ]


def test_filter_values_are_quoted_never_pasted():
    assert any_filter("email", ['a@x.example.com', 'q"uote@x.example.com']) == \
        'any(email,["a@x.example.com","q\\"uote@x.example.com"])'


def test_status_and_code_map_to_the_one_error_hierarchy():
    throttled = {"errors": [{"status": 429, "code": "throttled", "detail": "Request was throttled."}]}
    assert isinstance(classify_error("Klaviyo", 429, error_code(throttled), "t", rules=KLAVIYO_RULES,
                                     retry_after=3), RateLimited)
    assert isinstance(classify_error("Klaviyo", 429, "throttled", "daily", rules=KLAVIYO_RULES,
                                     retry_after=36_000), QuotaExhausted)
    assert isinstance(classify_error("Klaviyo", 409, "duplicate_profile", "dup", rules=KLAVIYO_RULES), BatchRejected)
    assert type(classify_error("Klaviyo", 401, "not_authenticated", "key", rules=KLAVIYO_RULES)) is FatalError


class _RefusingLists:
    """A recorded 400 answer naming item 1 of a relationships call."""

    def add_profiles_to_list(self, list_id, body, **_kw):
        raise ApiException(status=400, reason="Bad Request", body=json.dumps({"errors": [
            {"id": "e", "status": 400, "code": "invalid", "title": "Invalid input.",
             "detail": "profile 01B is not a valid profile id", "source": {"pointer": "/data/1/id"}}]}))


def test_a_refused_item_is_rejected_and_its_batch_mates_are_left_to_retry():
    dest = KlaviyoDestination("klaviyo", type("Client", (), {"Lists": _RefusingLists()})())
    batch = _changes(["a@x.example.com", "b@x.example.com", "c@x.example.com"])
    ids = {"a@x.example.com": "01A", "b@x.example.com": "01B", "c@x.example.com": "01C"}
    results = dest._relationships("add", "L1", batch, ids)
    assert [(r.key, r.outcome, r.code) for r in results] == [
        ("a@x.example.com", "retry", None), ("b@x.example.com", "rejected", "invalid"),
        ("c@x.example.com", "retry", None)]
