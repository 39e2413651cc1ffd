"""Mailchimp wire rules without a server: subscriber hashes, recorded batch answers -> per-record results."""
from __future__ import annotations

from destinations.mailchimp_wire import (
    MAILCHIMP_RULES,
    classify_member_error,
    segment_results,
    subscribe_outcomes,
    subscriber_hash,
)
from destinations.vendor_errors import classify_error
from segsync.errors import FatalError, RateLimited
from segsync.sync.protocol import BatchRejected, Change

TAG = "segsync: churn_risk"


def test_subscriber_hash_is_the_md5_of_the_lowercased_address():
    assert subscriber_hash(" Urist.McVankab@Freddiesjokes.com ") == "62eeb292278cc15f5817cb78f7790b08"
    assert subscriber_hash("urist.mcvankab@freddiesjokes.com") == subscriber_hash("URIST.MCVANKAB@FREDDIESJOKES.COM")


def test_batch_subscribe_errors_become_per_address_outcomes():
    body = {  # recorded shape of POST /lists/{id} with update_existing false
        "new_members": [{"email_address": "New@acme.example.com", "status": "subscribed"}],
        "updated_members": [],
        "errors": [
            {"email_address": "old@acme.example.com", "error_code": "ERROR_CONTACT_EXISTS",
             "error": "old@acme.example.com is already a list member. Use PUT to insert or update list members."},
            {"email_address": "gone@acme.example.com", "error_code": "ERROR_GENERIC",
             "error": "Forgotten Email Not Subscribed: gone@acme.example.com was permanently deleted and cannot be "
                      "re-imported. The contact must re-subscribe to get back on the list."},
            {"email_address": "x@", "error_code": "ERROR_GENERIC",
             "error": "x@ looks fake or invalid, please enter a real email address."},
            {"email_address": "opt@acme.example.com", "error_code": "ERROR_GENERIC",
             "error": "Member In Compliance State: opt@acme.example.com is in a compliance state"},
        ],
        "total_created": 1, "total_updated": 0, "error_count": 4,
    }
    outcomes = subscribe_outcomes(body)
    assert {k: v[:2] for k, v in outcomes.items()} == {
        "new@acme.example.com": ("exists", None), "old@acme.example.com": ("exists", "CONTACT_EXISTS"),
        "gone@acme.example.com": ("skipped", "FORGOTTEN"), "x@": ("rejected", "INVALID_EMAIL"),
        "opt@acme.example.com": ("skipped", "COMPLIANCE_STATE")}
    assert classify_member_error({"error_code": "ERROR_GENERIC", "error": "Something odd"}) == \
        ("retry", "ERROR_GENERIC")


def test_segment_answer_maps_back_case_insensitively_and_leaves_unnamed_addresses_unconfirmed():
    batch = [Change(TAG, k, "add") for k in ("a@acme.example.com", "b@acme.example.com", "c@acme.example.com")]
    body = {"members_added": [{"id": subscriber_hash("A@Acme.example.com"), "email_address": "A@Acme.example.com"}],
            "members_removed": [],
            "errors": [{"email_addresses": ["B@acme.example.com"],
                        "error": "Email addresses do not belong to this list"}],
            "total_added": 1, "total_removed": 0, "error_count": 1}
    assert [(r.key, r.outcome, r.code) for r in segment_results(batch, body, "add")] == [
        ("a@acme.example.com", "synced", None), ("b@acme.example.com", "rejected", "NOT_ON_AUDIENCE")]


def test_problem_titles_map_to_the_one_error_hierarchy():
    assert isinstance(classify_error("Mailchimp", 429, "Too Many Requests", "slow", rules=MAILCHIMP_RULES,
                                     retry_after=2), RateLimited)
    assert isinstance(classify_error("Mailchimp", 400, "Invalid Resource", "500 max", rules=MAILCHIMP_RULES),
                      BatchRejected)
    assert type(classify_error("Mailchimp", 401, "API Key Invalid", "key", rules=MAILCHIMP_RULES)) is FatalError
