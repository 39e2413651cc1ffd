"""Salesforce wire rules: error codes -> actions, REST/Bulk record encoding, per-record results from both paths."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from segsync.errors import FatalError, QuotaExhausted, RemoteError
from segsync.redact import redact
from segsync.retry import HTTP_RULES, Action, Rule, classify, error_for
from segsync.sync.protocol import BatchRejected, Change, Result

COLLECTION_MAX = 200  # sObject Collections: at most 200 records per call
BULK_MAX_BYTES = 100 * 1024 * 1024  # simple-salesforce's per-upload cap (Salesforce allows 150 MB)
BULK_MAX_RECORDS = 10_000_000  # records per job; in practice the byte cap cuts first
BULK_NULL = "#N/A"  # Bulk API CSV: set a field to null

# Whole-request errors (status + errorCode), first match wins, then the generic HTTP rules.
REQUEST_RULES: tuple[Rule, ...] = (
    Rule(Action.REAUTH, status=401, code="INVALID_SESSION_ID"),
    Rule(Action.QUOTA_STOP, status=403, code="REQUEST_LIMIT_EXCEEDED"),
    Rule(Action.RATE_LIMIT, code="REQUEST_LIMIT_EXCEEDED"),
    Rule(Action.RETRY, code="SERVER_UNAVAILABLE"),
    Rule(Action.RETRY, code="UNABLE_TO_LOCK_ROW"),
    Rule(Action.FAIL_RUN, status=400, code="INVALID_FIELD"),
    Rule(Action.FAIL_RUN, status=400, code="INVALID_TYPE"),
    Rule(Action.FAIL_RUN, status=400, code="INVALIDENTITY"),
    Rule(Action.REJECT_RECORD, status=400, code="JSON_PARSER_ERROR"),
    *HTTP_RULES,
)

# Per-record error codes -> outcome. Anything not listed is a rejection (reported, not retried).
RECORD_OUTCOMES: dict[str, str] = {
    "UNABLE_TO_LOCK_ROW": "retry",
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": "retry",
    "SERVER_UNAVAILABLE": "retry",
    "REQUEST_RUNNING_TOO_LONG": "retry",
    "ENTITY_IS_DELETED": "deleted",  # look up the survivor (MasterRecordId)
    "INVALID_CROSS_REFERENCE_KEY": "deleted",
}


def request_error(status: int | None, body: object, *, retry_after: float | None = None) -> RemoteError:
    """The exception for a refused Salesforce request ([{"errorCode", "message"}] body)."""
    code, message = error_code_message(body)
    action = classify(status, code, REQUEST_RULES)
    text = redact(f"salesforce: HTTP {status}{f' {code}' if code else ''}: {message}")
    if action is Action.REJECT_RECORD:
        return BatchRejected(text, status=status, code=code)
    if action is Action.QUOTA_STOP:
        return QuotaExhausted(text, status=status, code=code)
    return error_for(action, text, status=status, code=code, retry_after=retry_after)


def error_code_message(body: object) -> tuple[str | None, str]:
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return body[0].get("errorCode"), str(body[0].get("message", ""))
    if isinstance(body, Mapping):
        return body.get("errorCode"), str(body.get("message", body))
    return None, str(body)[:500]


def record_outcome(code: str | None) -> str:
    return RECORD_OUTCOMES.get(code or "", "rejected")


def rest_record(object_name: str, change: Change) -> dict:
    """One sObject Collections record: attributes, Id and the owned fields (JSON null clears)."""
    return {"attributes": {"type": object_name}, "Id": change.key, **(change.new or {})}


def collection_results(batch: Sequence[Change], response: object) -> list[tuple[Change, str, str | None, str | None]]:
    """Pair each response entry with its input record by position: (change, outcome, code, message)."""
    if not isinstance(response, list) or len(response) != len(batch):
        raise FatalError(f"salesforce: sObject Collections answered {type(response).__name__} of "
                         f"{len(response) if isinstance(response, list) else 'no'} entries for {len(batch)} records; "
                         "expected one result per record")
    paired = []
    for change, entry in zip(batch, response):
        if entry.get("success"):
            paired.append((change, "synced", None, None))
            continue
        errors = entry.get("errors") or [{}]
        code = errors[0].get("statusCode")
        message = errors[0].get("message")
        fields = errors[0].get("fields") or []
        if fields:
            message = f"{message} (fields: {', '.join(fields)})"
        paired.append((change, record_outcome(code), code, message))
    return paired


def csv_value(value: object) -> str:
    """A payload value as a Bulk API CSV cell: booleans lower-case, null as #N/A."""
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bulk_rows(batch: Sequence[Change]) -> tuple[list[str], list[dict[str, str]]]:
    """Header (Id + every field in the batch, sorted) and CSV-ready rows; a field a record lacks is left empty
    (Bulk API leaves empty cells untouched, so a record never nulls a field it does not carry)."""
    fields = sorted({k for c in batch for k in (c.new or {})})
    rows = []
    for change in batch:
        new = change.new or {}
        row = {"Id": change.key}
        row.update({f: csv_value(new[f]) if f in new else "" for f in fields})
        rows.append(row)
    return ["Id", *fields], rows


def bulk_csv(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def parse_bulk_error(text: str) -> tuple[str | None, str]:
    """`sf__Error` cells look like `CODE:message:fields --`."""
    code, _, rest = (text or "").partition(":")
    message = rest.rsplit("--", 1)[0].rstrip(" :")
    return (code or None), (message or text)


def bulk_results(batch: Sequence[Change], successful: Sequence[Mapping], failed: Sequence[Mapping],
                 unprocessed: Sequence[Mapping]) -> list[tuple[Change, str, str | None, str | None]]:
    """Map the job's three result sets back to input records by Id; a record in none of them is not confirmed."""
    by_id: dict[str, tuple[str, str | None, str | None]] = {}
    for row in successful:
        by_id[row.get("sf__Id") or row.get("Id")] = ("synced", None, None)
    for row in failed:
        code, message = parse_bulk_error(row.get("sf__Error", ""))
        by_id[row.get("Id") or row.get("sf__Id")] = (record_outcome(code), code, message)
    for row in unprocessed:
        by_id[row.get("Id")] = ("retry", "UNPROCESSED", "the job stopped before this record")
    paired = []
    for change in batch:
        outcome, code, message = by_id.get(change.key, ("retry", None, "no result returned for record"))
        paired.append((change, outcome, code, message))
    return paired


def as_result(change: Change, outcome: str, code: str | None, message: str | None,
              redirect_to: str | None = None) -> Result:
    error = redact(f"{code}: {message}") if code or message else None
    return Result(change.target, change.key, outcome, error=error, code=code, redirect_to=redirect_to)
