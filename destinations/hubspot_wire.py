"""HubSpot wire rules: status/category -> action, property value encoding, responses -> per-record Results."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone

from segsync.retry import HTTP_RULES, Action, Rule
from segsync.sync.protocol import Change, Result

COMPANY_OBJECT_TYPE_ID = "0-2"
PROPERTY_BATCH_MAX = 100  # documented maximum inputs of POST /crm/v3/objects/{object}/batch/update
LIST_MEMBERSHIP_MAX = 100_000  # documented maximum record ids of PUT /crm/v3/lists/{id}/memberships/add|remove

# HubSpot puts the reason in `category` (errors) or `policyName` (429s); first match wins.
HUBSPOT_RULES: tuple[Rule, ...] = (
    Rule(Action.QUOTA_STOP, status=429, code="DAILY"),
    Rule(Action.RATE_LIMIT, status=429),
    Rule(Action.REJECT_RECORD, status=400, code="VALIDATION_ERROR"),
    Rule(Action.REJECT_RECORD, status=400, code="INVALID_OPTION"),
    Rule(Action.REJECT_RECORD, status=404, code="OBJECT_NOT_FOUND"),
    Rule(Action.REJECT_RECORD, status=409, code="CONFLICT"),
    Rule(Action.FAIL_RUN, status=403, code="MISSING_SCOPES"),
    Rule(Action.FAIL_RUN, status=400, code="BAD_REQUEST"),
    *HTTP_RULES,
)


def error_code(body: Mapping) -> str | None:
    """HubSpot's machine-readable reason: the 429 policy name, else the error category."""
    return body.get("policyName") or body.get("category") or body.get("errorType")


def error_message(body: Mapping, fallback: str) -> str:
    return str(body.get("message") or fallback)


class PropertyValueError(ValueError):
    """A value that cannot be written to a HubSpot property of that type (rejected before sending)."""


def encode_property(name: str, value: object, definition: Mapping) -> str:
    """The string HubSpot stores for `value` in the property `definition` (type, fieldType, options).

    Enumerations are sent as internal option values (labels are translated); multi-selects `;`-joined,
    deduplicated, in the order given; dates as midnight UTC epoch milliseconds; booleans "true"/"false";
    None clears the property ("" is HubSpot's documented clear value).
    """
    kind = definition.get("type", "string")
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        raise PropertyValueError(f"property {name!r}: NaN is not a value; expected a {kind}")
    if kind == "enumeration":
        return _encode_enumeration(name, value, definition)
    if kind == "bool":
        if not isinstance(value, bool):
            raise PropertyValueError(f"property {name!r}: got {value!r}; expected true or false")
        return "true" if value else "false"
    if kind == "date":
        return str(_midnight_utc_millis(name, value))
    if kind == "datetime":
        return str(_instant_millis(name, value))
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PropertyValueError(f"property {name!r}: got {value!r}; expected a number")
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text == "":
        raise PropertyValueError(f"property {name!r}: an empty string is not a value; send None to clear")
    return text


def _encode_enumeration(name: str, value: object, definition: Mapping) -> str:
    options = definition.get("options") or []
    by_value = {str(o["value"]): str(o["value"]) for o in options}
    by_label = {str(o["label"]): str(o["value"]) for o in options if "label" in o}
    multi = definition.get("fieldType") == "checkbox"
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not multi and len(items) != 1:
        raise PropertyValueError(f"property {name!r} holds one option; got {len(items)} values {items!r}")
    encoded: list[str] = []
    for item in items:
        text = "true" if item is True else "false" if item is False else str(item)
        internal = by_value.get(text) or by_label.get(text)
        if internal is None:
            raise PropertyValueError(f"property {name!r}: {text!r} is not one of its options; expected one of "
                                     f"{sorted(by_value)}")
        if internal not in encoded:
            encoded.append(internal)
    return ";".join(encoded)


def _as_date(name: str, value: object) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise PropertyValueError(f"property {name!r}: got {value!r}; expected a date (YYYY-MM-DD)")


def _midnight_utc_millis(name: str, value: object) -> int:
    day = _as_date(name, value)
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _instant_millis(name: str, value: object) -> int:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise PropertyValueError(f"property {name!r}: got {value!r}; expected an ISO timestamp") from exc
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return _midnight_utc_millis(name, value)
    raise PropertyValueError(f"property {name!r}: got {value!r}; expected a timestamp")


def membership_results(batch: Sequence[Change], body: Mapping, op: str) -> list[Result]:
    """One Result per change of a list add/remove call: ids HubSpot reports missing are not members.

    A missing record cannot be added (rejected); removing a record that no longer exists leaves the list
    as wanted (skipped, with the reason). Every other id of a 2xx answer is in (or out of) the list.
    """
    missing = {str(i) for i in body.get("recordIdsMissing") or []}
    results = []
    for change in batch:
        if change.key not in missing:
            results.append(Result(change.target, change.key, "synced"))
        elif op == "remove":
            results.append(Result(change.target, change.key, "skipped", error="record no longer exists in HubSpot",
                                  code="RECORD_MISSING"))
        else:
            results.append(Result(change.target, change.key, "rejected",
                                  error=f"HubSpot has no record with id {change.key}", code="RECORD_MISSING"))
    return results


def batch_update_results(batch: Sequence[Change], body: Mapping) -> list[Result]:
    """Per-record Results of a batch update answer (200 or 207): results[].id synced, errors[] by context ids.

    A record named neither in results nor in errors gets no Result here, so the runner keeps it unconfirmed.
    """
    by_key = {c.key: c for c in batch}
    results: dict[str, Result] = {}
    for error in body.get("errors") or []:
        ids = [str(i) for i in ((error.get("context") or {}).get("ids") or [])]
        code = error.get("category") or error.get("subCategory")
        action_retry = code in ("RATE_LIMITS", "INTERNAL_ERROR")
        for record_id in ids:
            change = by_key.get(record_id)
            if change is not None:
                results[record_id] = Result(change.target, record_id, "retry" if action_retry else "rejected",
                                            error=str(error.get("message") or code), code=code)
    for item in body.get("results") or []:
        record_id = str(item.get("id"))
        change = by_key.get(record_id)
        if change is not None and record_id not in results:
            results[record_id] = Result(change.target, record_id, "synced")
    return list(results.values())

