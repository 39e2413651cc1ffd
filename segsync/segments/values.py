"""Typed value checks for leaves, including the YAML 1.1 traps (no→false, 02142 octal, 1e3 string, unquoted dates)."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from segsync.segments.yamlnodes import Node

FLOAT_LIKE = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")
OCTAL_LIKE = re.compile(r"^[-+]?0[0-9_]+$")
SEXAGESIMAL_LIKE = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
BASE_PREFIX = re.compile(r"^[-+]?0[xXoObB]")
SPECIAL_FLOAT = re.compile(r"^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$")
EXPECTED = {
    "number": "a number such as 42 or 0.5",
    "string": "text (quote it if it could be read as something else)",
    "boolean": "true or false",
    "date": "a date such as 2025-01-31",
    "timestamp": "a date or date-time such as 2025-01-31T09:00:00Z",
}


class ValueProblem(Exception):
    """A value that does not fit the field's type: message plus what was expected."""

    def __init__(self, message: str, expected: str, value: Any):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.value = value


def describe_yaml_reading(node: Node) -> str:
    """How YAML 1.1 read an unquoted scalar, for messages: 'read by YAML as boolean false'."""
    value = node.value
    if isinstance(value, bool):
        return f"YAML reads unquoted {node.raw} as boolean {str(value).lower()}"
    if isinstance(value, datetime):
        return f"YAML reads unquoted {node.raw} as a date-time"
    if isinstance(value, date):
        return f"YAML reads unquoted {node.raw} as a date"
    if isinstance(value, int) and OCTAL_LIKE.match(node.raw or ""):
        return f"YAML 1.1 reads unquoted {node.raw} as octal {value}"
    if isinstance(value, int) and SEXAGESIMAL_LIKE.match(node.raw or ""):
        return f"YAML 1.1 reads unquoted {node.raw} as base-60 number {value}"
    if isinstance(value, (int, float)):
        return f"YAML reads unquoted {node.raw} as the number {value}"
    if value is None:
        return f"YAML reads unquoted {node.raw or 'empty value'} as null"
    return f"YAML reads {node.raw} as text"


def coerce(node: Node, kind: str) -> Any:
    """Return the node's value as `kind`, coercing only when the field's type makes the intent certain."""
    if not node.is_scalar:
        raise ValueProblem(f"expected a single {kind} value, got a {'list' if node.is_sequence else 'mapping'}",
                           EXPECTED.get(kind, kind), None)
    value = node.value
    if value is None:
        raise ValueProblem("the value is null", f"{EXPECTED.get(kind, kind)}; to test for a missing value use "
                           "op: is_null", node.raw or None)
    return {"number": _number, "string": _string, "boolean": _boolean, "date": _date,
            "timestamp": _timestamp}.get(kind, _string)(node, value)


def _number(node: Node, value: Any) -> int | float:
    raw = node.raw or ""
    if node.plain and (OCTAL_LIKE.match(raw) or BASE_PREFIX.match(raw) or SEXAGESIMAL_LIKE.match(raw)):
        raise ValueProblem(f"ambiguous number: {describe_yaml_reading(node)}",
                           "a plain decimal number without leading zeros (or quote it for a text field)", raw)
    if node.plain and SPECIAL_FLOAT.match(raw):
        raise ValueProblem("infinity/NaN cannot be compared", EXPECTED["number"], raw)
    if isinstance(value, bool):
        raise ValueProblem(f"{describe_yaml_reading(node)}, but the field is a number", EXPECTED["number"], raw)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and node.plain and FLOAT_LIKE.match(value):
        return float(value.replace("_", ""))  # YAML 1.1 reads 1e3 as text; a number field makes it certain
    raise ValueProblem("not a number", EXPECTED["number"], value if node.plain else raw)


def _string(node: Node, value: Any) -> str:
    if isinstance(value, str):
        return value
    # bool/int/float/date read from unquoted text: the field is text, so the characters as written are meant.
    return node.raw


def _boolean(node: Node, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueProblem("not a boolean", EXPECTED["boolean"], value)


def _date(node: Node, value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date()
        raise ValueProblem("a date-time given for a date field", EXPECTED["date"], node.raw)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueProblem("not a date", EXPECTED["date"], value if isinstance(value, str) else node.raw)


def _timestamp(node: Node, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise ValueProblem("not a date or date-time", EXPECTED["timestamp"], value if isinstance(value, str) else node.raw)


def text_of(node: Node) -> str | None:
    """A scalar read as text exactly as written (names, owners, descriptions); None for lists/mappings/null."""
    if not node.is_scalar or node.value is None:
        return None
    return node.value if isinstance(node.value, str) else node.raw
