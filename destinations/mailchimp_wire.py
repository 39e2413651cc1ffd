"""Mailchimp wire rules: problem-document title -> action, subscriber hashes, batch answers -> per-record Results."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from segsync.retry import HTTP_RULES, Action, Rule
from segsync.sync.protocol import Change, Result

MEMBER_BATCH_MAX = 500  # documented maximum members of POST /lists/{id} (batch subscribe)
SEGMENT_BATCH_MAX = 500  # documented maximum of members_to_add / members_to_remove per static-segment call
PAGE_MAX = 1000  # documented maximum `count` of a list read
MAX_CONNECTIONS = 10  # documented simultaneous connections per API key
SUBSCRIBE_STATUSES = ("subscribed", "pending", "transactional", "unsubscribed")

# Mailchimp names the problem in the error document's `title`; first match wins.
MAILCHIMP_RULES: tuple[Rule, ...] = (
    Rule(Action.RATE_LIMIT, status=429),
    Rule(Action.FAIL_RUN, status=401),  # API Key Invalid: an API key cannot be refreshed
    Rule(Action.FAIL_RUN, status=403),
    Rule(Action.FAIL_RUN, status=404),
    Rule(Action.FAIL_RUN, status=400, code="JSON Parse Error"),
    Rule(Action.REJECT_RECORD, status=400),
    *HTTP_RULES,
)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lowercased address (so matching is case-insensitive)."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def error_code(body: Mapping) -> str | None:
    return body.get("title")


def error_message(body: Mapping, fallback: str) -> str:
    return str(body.get("detail") or body.get("title") or fallback)


def classify_member_error(error: Mapping) -> tuple[str, str]:
    """(outcome, code) for one batch-subscribe error: people who opted out or were forgotten are skipped."""
    text = str(error.get("error") or "")
    lowered = text.lower()
    if error.get("error_code") == "RETRY":  # the subscribe call itself failed transiently
        return "retry", "RETRY"
    if error.get("error_code") == "ERROR_CONTACT_EXISTS" or "already a list member" in lowered:
        return "exists", "CONTACT_EXISTS"
    if "forgotten" in lowered or "permanently deleted" in lowered:
        return "skipped", "FORGOTTEN"
    if "compliance" in lowered or "unsubscribed" in lowered:
        return "skipped", "COMPLIANCE_STATE"
    if "fake or invalid" in lowered or "invalid" in lowered:
        return "rejected", "INVALID_EMAIL"
    return "retry", str(error.get("error_code") or "ERROR_GENERIC")


def subscribe_outcomes(body: Mapping) -> dict[str, tuple[str, str | None, str | None]]:
    """Lowercased email -> (outcome, code, error) from a batch-subscribe answer.

    outcome is `exists` (created now or already a member: may be tagged), `skipped`, `rejected` or `retry`.
    """
    outcomes: dict[str, tuple[str, str | None, str | None]] = {}
    for member in [*(body.get("new_members") or []), *(body.get("updated_members") or [])]:
        outcomes[str(member.get("email_address", "")).strip().lower()] = ("exists", None, None)
    for error in body.get("errors") or []:
        outcome, code = classify_member_error(error)
        outcomes[str(error.get("email_address", "")).strip().lower()] = (outcome, code, str(error.get("error")))
    return outcomes


def segment_results(batch: Sequence[Change], body: Mapping, op: str) -> list[Result]:
    """One Result per change of a static-segment call, matched by subscriber hash (case-insensitive).

    Confirmed adds/removes are synced; a remove of someone not in the tag (or not on the audience) leaves
    the tag as wanted; an add of someone not on the audience is rejected. Anyone the answer does not name
    gets no Result (the runner keeps them unconfirmed).
    """
    confirmed = body.get("members_removed" if op == "remove" else "members_added") or []
    done = {str(m.get("id") or subscriber_hash(str(m.get("email_address", "")))) for m in confirmed}
    refused: dict[str, str] = {}
    for error in body.get("errors") or []:
        for email in error.get("email_addresses") or []:
            refused[subscriber_hash(str(email))] = str(error.get("error") or "refused")
    results = []
    for change in batch:
        key = subscriber_hash(change.key)
        if key in done:
            results.append(Result(change.target, change.key, "synced"))
        elif key in refused and op == "remove":
            code = "NOT_IN_TAG" if "not in this segment" in refused[key] else "NOT_ON_AUDIENCE"
            results.append(Result(change.target, change.key, "synced" if code == "NOT_IN_TAG" else "skipped",
                                  error=None if code == "NOT_IN_TAG" else refused[key], code=code))
        elif key in refused:
            results.append(Result(change.target, change.key, "rejected", error=refused[key], code="NOT_ON_AUDIENCE"))
    return results
