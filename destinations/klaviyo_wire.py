"""Klaviyo wire rules: JSON:API error code -> action, filter strings, import errors -> per-record Results."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from segsync.retry import HTTP_RULES, Action, Rule
from segsync.sync.protocol import Change, Result

RELATIONSHIP_MAX = 1000  # documented maximum profiles per add/remove list-relationships call
BULK_IMPORT_MAX = 10_000  # documented maximum profiles per bulk profile import job
PROFILE_PAGE_MAX = 100  # documented maximum page[size] of GET /api/profiles
LIST_CREATIONS_PER_DAY = 150  # documented daily limit of POST /api/lists
# Documented per-endpoint limits (burst per second, steady per minute), kept just below.
WRITE_WINDOWS = ((9, 1.0), (140, 60.0))  # list relationships, list create, bulk import, job reads: 10/s, 150/m
READ_WINDOWS = ((70, 1.0), (700, 60.0))  # GET /api/profiles, GET /api/lists: 75/s, 750/m

# Klaviyo names the problem in errors[].code; first match wins.
KLAVIYO_RULES: tuple[Rule, ...] = (
    Rule(Action.RATE_LIMIT, status=429),
    Rule(Action.FAIL_RUN, status=401),  # a private API key cannot be refreshed
    Rule(Action.FAIL_RUN, status=403),
    Rule(Action.FAIL_RUN, status=404),
    Rule(Action.REJECT_RECORD, status=400),
    Rule(Action.REJECT_RECORD, status=409),
    Rule(Action.REJECT_RECORD, status=413),
    *HTTP_RULES,
)
# Import-error codes that describe a passing condition (the profile may import on the next attempt).
TRANSIENT_IMPORT_CODES = frozenset({"conflict", "throttled", "server_error", "service_unavailable"})
_RECORD_POINTER = re.compile(r"^/data/(\d+)(?:/|$)")
_IMPORT_POINTER = re.compile(r"^/data/attributes/profiles/data/(\d+)(?:/|$)")


def first_error(body: Mapping) -> Mapping:
    errors = body.get("errors") or [{}]
    return errors[0] if isinstance(errors[0], Mapping) else {}


def error_code(body: Mapping) -> str | None:
    return first_error(body).get("code")


def error_message(body: Mapping, fallback: str) -> str:
    error = first_error(body)
    return str(error.get("detail") or error.get("title") or fallback)


def record_errors(body: Mapping) -> dict[int, str] | None:
    """Index -> detail when every error of a refused relationships call points at one item (/data/<i>).

    None when any error concerns the whole call (then the batch is bisected instead).
    """
    found: dict[int, str] = {}
    for error in body.get("errors") or []:
        match = _RECORD_POINTER.match(str((error.get("source") or {}).get("pointer") or ""))
        if match is None:
            return None
        found[int(match.group(1))] = str(error.get("detail") or error.get("title") or "invalid")
    return found or None


def any_filter(field: str, values: Sequence[str]) -> str:
    """Klaviyo's any(field,[...]) filter with each value quoted (never pasted unescaped)."""
    return f"any({field},[{','.join(json.dumps(v) for v in values)}])"


def equals_filter(field: str, value: str) -> str:
    return f"equals({field},{json.dumps(value)})"


def import_payload(emails: Sequence[str], list_id: str) -> dict:
    """A bulk profile import job creating/updating profiles by email and adding them to the list."""
    return {"data": {
        "type": "profile-bulk-import-job",
        "attributes": {"profiles": {"data": [{"type": "profile", "attributes": {"email": e}} for e in emails]}},
        "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
    }}


def import_results(batch: Sequence[Change], errors: Sequence[Mapping]) -> list[Result]:
    """Per-record Results of a completed import job: errors map back by their pointer's profile index.

    A transient error code leaves the record to retry; any other error rejects it.
    """
    failed: dict[int, tuple[str, str | None]] = {}
    for error in errors:
        attributes = error.get("attributes") or error
        match = _IMPORT_POINTER.match(str((attributes.get("source") or {}).get("pointer") or ""))
        if match is not None:
            failed[int(match.group(1))] = (str(attributes.get("detail") or attributes.get("title")),
                                           attributes.get("code"))
    results = []
    for index, change in enumerate(batch):
        if index in failed:
            detail, code = failed[index]
            outcome = "retry" if code in TRANSIENT_IMPORT_CODES else "rejected"
            results.append(Result(change.target, change.key, outcome, error=detail, code=code))
        else:
            results.append(Result(change.target, change.key, "synced"))
    return results
