"""Stripe request parameters: form/query decoding with bracket nesting, errors in Stripe's shape, list filters."""
from __future__ import annotations

from urllib.parse import parse_qsl

import pyarrow.compute as pc

MAX_EXPAND_DEPTH = 4
LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand"}


class StripeError(Exception):
    """An API error rendered as {"error": {...}} with an HTTP status."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {k: v for k, v in {"type": type_, "code": code, "message": message,
                                                 "param": param}.items() if v is not None}}
        self.headers = headers or {}


def _set(target: dict, keys: list[str], value: str) -> None:
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if key == "":  # a[]=x appends
            key = str(sum(1 for k in target if k.isdigit()))
        if last:
            target[key] = value
        else:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise StripeError(400, f"Invalid parameter nesting at {'['.join(keys[:i + 1])}", param=keys[0])


def _listify(value):
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return value


def decode_params(raw: str) -> dict:
    """`a[b][0]=x&expand[]=y` -> {"a": {"b": ["x"]}, "expand": ["y"]}."""
    result: dict = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        head, _, rest = key.partition("[")
        keys = [head] + ([part.rstrip("]") for part in rest.split("[")] if rest else [])
        _set(result, keys, value)
    return _listify(result)


def as_int(name: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None


def as_bool(name: str, value) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise StripeError(400, f"Invalid boolean: {value}", param=name)


def check_unknown(params: dict, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def expand_paths(params: dict) -> list[str]:
    value = params.get("expand", [])
    paths = [value] if isinstance(value, str) else list(value)
    for i, path in enumerate(paths):
        if not isinstance(path, str) or not path:
            raise StripeError(400, "Invalid expand path", param=f"expand[{i}]")
        if path.count(".") + 1 > MAX_EXPAND_DEPTH:
            raise StripeError(400, f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. "
                                   f"Property: {path}", param=f"expand[{i}]")
    return paths


def list_limit(params: dict) -> int:
    if "limit" not in params:
        return 10
    limit = as_int("limit", params["limit"])
    if not 1 <= limit <= 100:
        raise StripeError(400, f"Invalid limit: must be between 1 and 100 (got {limit})",
                          code="parameter_invalid_integer", param="limit")
    return limit


def range_filter(params: dict, name: str) -> pc.Expression | None:
    """`created=123` or `created[gte]=..&created[lt]=..` as an Arrow filter expression."""
    if name not in params:
        return None
    value = params[name]
    field = pc.field(name)
    if not isinstance(value, dict):
        return field == as_int(name, value)
    expression = None
    for op, raw in value.items():
        bound = as_int(f"{name}[{op}]", raw)
        part = {"gt": field > bound, "gte": field >= bound, "lt": field < bound, "lte": field <= bound}.get(op)
        if part is None:
            raise StripeError(400, f"Received unknown parameter: {name}[{op}]", code="parameter_unknown",
                              param=f"{name}[{op}]")
        expression = part if expression is None else expression & part
    return expression


def all_of(*parts: pc.Expression | None) -> pc.Expression | None:
    result = None
    for part in parts:
        if part is not None:
            result = part if result is None else result & part
    return result
