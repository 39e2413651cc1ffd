"""Klaviyo's `filter` query syntax: equals(field,"v"), any(field,["a","b"]), greater-than(field,date), and(...)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_CALL = re.compile(r"^\s*([a-z-]+)\((.*)\)\s*$", re.S)


class FilterError(ValueError):
    """The filter string is malformed or uses a field/operator the endpoint does not allow."""


@dataclass(frozen=True)
class Condition:
    operator: str
    field: str
    value: object  # a string, or a list of strings for `any`


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside quotes, brackets and parentheses."""
    parts, depth, quote, start = [], 0, None, 0
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _literal(text: str) -> object:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_literal(item) for item in _split_top_level(inner)] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].replace("\\" + text[0], text[0])
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]*)?", text):
        return text
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    raise FilterError(f"cannot parse filter value {text!r}: strings must be quoted, lists in [...]")


def parse_filter(text: str, allowed: dict[str, set[str]]) -> list[Condition]:
    """Conditions ANDed together; `allowed` maps field -> operators the endpoint documents."""
    match = _CALL.match(text or "")
    if not match:
        raise FilterError(f"invalid filter {text!r}: expected operator(field,value)")
    operator, args = match.group(1), match.group(2)
    if operator == "and":
        conditions: list[Condition] = []
        for part in _split_top_level(args):
            conditions.extend(parse_filter(part, allowed))
        return conditions
    parts = _split_top_level(args)
    if len(parts) != 2:
        raise FilterError(f"invalid filter {text!r}: expected exactly two arguments, a field and a value")
    field, value = parts[0], _literal(parts[1])
    if field not in allowed:
        raise FilterError(f"'{field}' is not a valid field for the resource; allowed: {', '.join(sorted(allowed))}")
    if operator not in allowed[field]:
        raise FilterError(f"'{operator}' operator is not allowed for field '{field}'; allowed: "
                          f"{', '.join(sorted(allowed[field]))}")
    if operator == "any" and not isinstance(value, list):
        raise FilterError(f"'any' needs a list value for field '{field}', e.g. any({field},[\"a\",\"b\"])")
    if operator == "equals" and isinstance(value, list):
        if len(value) != 1:
            raise FilterError(f"'equals' needs one value for field '{field}'; use any() for several")
        value = value[0]
    return [Condition(operator, field, value)]


def matches(conditions: list[Condition], attributes: dict) -> bool:
    for condition in conditions:
        actual = attributes.get(condition.field)
        if condition.operator == "equals":
            expected = condition.value
            if condition.field == "email" and isinstance(actual, str) and isinstance(expected, str):
                actual, expected = actual.lower(), expected.lower()
            if actual != expected:
                return False
        elif condition.operator == "any":
            values = condition.value
            if condition.field == "email":
                actual = actual.lower() if isinstance(actual, str) else actual
                values = [v.lower() if isinstance(v, str) else v for v in values]
            if actual not in values:
                return False
        elif condition.operator == "greater-than":
            if actual is None or not str(actual) > str(condition.value):
                return False
        elif condition.operator == "less-than":
            if actual is None or not str(actual) < str(condition.value):
                return False
    return True
