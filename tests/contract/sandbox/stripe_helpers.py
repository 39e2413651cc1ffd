"""Helpers for the Stripe emulator contract tests: seeded client, fixture shapes from Stripe's OpenAPI fixtures."""
from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path

from sandbox.datasets import load_dataset
from segsync.clients.stripe import make_stripe

TODAY = date(2026, 12, 3)
FIXTURES = Path(__file__).resolve().parents[2] / "specs" / "stripe" / "fixtures.json"
FREE_FORM = {"metadata", "data", "previous_attributes"}  # keys whose contents are not part of the shape


def seeded_client(sandbox):
    """Seed the Stripe emulator with RavenStack (dates shifted to TODAY) and return a StripeClient for it."""
    emulator = sandbox["stripe"]
    with emulator.lock:
        emulator.seed(load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()}))
    emulator.log.clear()
    return make_stripe(sandbox.env())


@lru_cache(maxsize=None)
def fixture(name: str) -> dict:
    return json.loads(FIXTURES.read_text())["resources"][name]


def model_fields(model) -> set[str]:
    """Attribute names stripe-python 16.1 declares for an object (its typed model of this API version)."""
    return {k for k in getattr(model, "__annotations__", {}) if not k.isupper() and not k.startswith("_")}


def shape_problems(actual, expected, model=None, path: str = "") -> list[str]:
    """Differences between an emulator object and Stripe's fixture, with stripe-python's typed model as the tie-breaker.

    Top level: every fixture key is present unless the model no longer declares it (removed in this API version),
    and every extra key is one the model declares. Nested objects: keys are a subset of the fixture's (or of the
    model's nested class). JSON types must agree wherever both sides have a value.
    """
    problems = []
    fields = model_fields(model) if model is not None else set()
    if isinstance(expected, dict) and isinstance(actual, dict):
        extra = {k for k in set(actual) - set(expected) if k not in fields}
        if not path:
            missing = {k for k in set(expected) - set(actual) if model is None or k in fields}
            if missing or extra:
                problems.append(f"<top>: missing {sorted(missing)}, extra {sorted(extra)}")
        elif expected and extra:
            problems.append(f"{path}: keys not in Stripe's shape {sorted(extra)}")
        inner = getattr(model, "_inner_class_types", {}) if model is not None else {}
        for key in set(actual) & set(expected):
            if key not in FREE_FORM:
                problems += shape_problems(actual[key], expected[key], inner.get(key),
                                           f"{path}.{key}" if path else key)
        return problems
    if actual is None or expected is None:
        return problems
    if isinstance(expected, bool) or isinstance(actual, bool):
        ok = isinstance(expected, bool) and isinstance(actual, bool)
    elif isinstance(expected, (int, float)):
        ok = isinstance(actual, (int, float))
    elif isinstance(expected, str):
        ok = isinstance(actual, (str, dict))  # an expandable id may be expanded
    elif isinstance(expected, list):
        ok = isinstance(actual, list)
        if ok and expected and actual and isinstance(expected[0], dict):
            problems += shape_problems(actual[0], expected[0], None, f"{path}[0]")
    else:
        ok = type(actual) is type(expected)
    if not ok:
        problems.append(f"{path}: {type(actual).__name__} where Stripe has {type(expected).__name__}")
    return problems


def plain(obj):
    """A StripeObject as plain JSON data."""
    return json.loads(json.dumps(obj.to_dict() if hasattr(obj, "to_dict") else obj, default=str))


def list_all(client, path: str, **params) -> list[dict]:
    """Every object of a list endpoint as plain dicts, paged with starting_after through the client's own transport
    (raw_request skips building typed objects, which is what makes full scans slow)."""
    objects: list[dict] = []
    cursor = None
    while True:
        extra = {"starting_after": cursor} if cursor else {}
        page = client.raw_request("get", path, limit=100, **params, **extra).data
        objects += page["data"]
        if not page["has_more"]:
            return objects
        cursor = page["data"][-1]["id"]
