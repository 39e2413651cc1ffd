"""JSON Schema for segment files, generated from the model's operators and the known columns (`segsync schema`)."""
from __future__ import annotations

from segsync.segments.columns import DECLARED_ACCOUNTS, DECLARED_DAILY_USAGE, kind_of
from segsync.segments.model import (
    DURATION_OPERATORS, DURATION_PATTERN, LIST_OPERATORS, MAX_NAME_LENGTH, NAME_PATTERN, OPERATORS,
    TREND_COMPARISONS,
)

SCHEMA_ID = "https://segsync.dev/schemas/segment.schema.json"


def _leaf(columns: dict[str, str]) -> dict:
    rules = [
        {"if": {"properties": {"op": {"enum": list(DURATION_OPERATORS)}}},
         "then": {"required": ["value"], "properties": {"value": {"type": "string",
                                                                   "pattern": DURATION_PATTERN.pattern}}}},
        {"if": {"properties": {"op": {"enum": list(LIST_OPERATORS)}}},
         "then": {"required": ["value"], "properties": {"value": {"type": "array", "minItems": 1}}}},
        {"if": {"properties": {"op": {"const": "between"}}},
         "then": {"required": ["value"], "properties": {"value": {"type": "array", "minItems": 2, "maxItems": 2}}}},
        {"if": {"properties": {"op": {"const": "is_null"}}},
         "then": {"properties": {"value": {"type": "boolean"}}}},
    ]
    descriptions = {name: f"{typ} ({kind_of(typ)})" for name, typ in columns.items()}
    return {
        "type": "object",
        "description": "A test on one column of accounts: {field, op, value}.",
        "required": ["field", "op"],
        "additionalProperties": False,
        "properties": {
            "field": {"enum": list(columns), "description": "A column of accounts: "
                      + ", ".join(f"{k} {v}" for k, v in descriptions.items())},
            "op": {"enum": list(OPERATORS)},
            "value": {"description": "Typed by the field; durations like 30d, 12w, 6mo, 1y for relative dates."},
        },
        "allOf": rules,
    }


def _trend(usage_columns: dict[str, str]) -> dict:
    measures = [c for c, t in usage_columns.items() if kind_of(t) == "number"]
    window = {"type": "string", "pattern": r"^[1-9][0-9]*(d|w)$"}
    return {
        "type": "object",
        "description": "A measure of account_daily_usage over time.",
        "required": ["measure"],
        "additionalProperties": False,
        "properties": {
            "measure": {"enum": measures},
            "window": window, "op": {"enum": list(TREND_COMPARISONS)}, "change_pct": {"type": "number"},
            "period": window, "dropping": {"type": "integer", "minimum": 1, "maximum": 12},
        },
        "oneOf": [{"required": ["window", "op", "change_pct"]}, {"required": ["period", "dropping"]}],
    }


def segment_json_schema(columns: dict[str, str] | None = None, usage_columns: dict[str, str] | None = None) -> dict:
    """The JSON Schema (draft 2020-12) of one segment file."""
    columns = columns or DECLARED_ACCOUNTS
    usage_columns = usage_columns or DECLARED_DAILY_USAGE
    condition_ref = {"$ref": "#/$defs/condition"}
    name = {"type": "string", "pattern": NAME_PATTERN.pattern, "maxLength": MAX_NAME_LENGTH}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "segsync segment",
        "type": "object",
        "required": ["name", "description", "where"],
        "additionalProperties": False,
        "properties": {
            "name": {**name, "description": "snake_case; becomes a Salesforce picklist value, HubSpot list, tag"},
            "description": {"type": "string", "minLength": 1},
            "owner": {"type": "string"},
            "where": condition_ref,
            "destinations": {"type": "object", "additionalProperties": {"type": ["object", "boolean"]},
                             "description": "Per-destination overrides; false skips the destination."},
            "split": {
                "type": "object", "required": ["buckets"], "additionalProperties": False,
                "properties": {
                    "salt": {"type": "string"},
                    "buckets": {"type": "array", "minItems": 2, "items": {
                        "type": "object", "required": ["name", "percent"], "additionalProperties": False,
                        "properties": {"name": name, "percent": {"type": "number", "exclusiveMinimum": 0,
                                                                 "maximum": 100},
                                       "holdout": {"type": "boolean"}}}},
                },
            },
            "priority": {"type": "object", "required": ["group", "rank"], "additionalProperties": False,
                         "properties": {"group": name, "rank": {"type": "integer", "minimum": 1}}},
        },
        "$defs": {
            "condition": {"oneOf": [
                {"$ref": "#/$defs/leaf"},
                {"type": "object", "required": ["all"], "additionalProperties": False,
                 "properties": {"all": {"type": "array", "minItems": 1, "items": condition_ref}}},
                {"type": "object", "required": ["any"], "additionalProperties": False,
                 "properties": {"any": {"type": "array", "minItems": 1, "items": condition_ref}}},
                {"type": "object", "required": ["not"], "additionalProperties": False,
                 "properties": {"not": {"oneOf": [condition_ref,
                                                  {"type": "array", "minItems": 1, "items": condition_ref}]}}},
                {"type": "object", "required": ["in_segment"], "additionalProperties": False,
                 "properties": {"in_segment": name}},
                {"type": "object", "required": ["not_in_segment"], "additionalProperties": False,
                 "properties": {"not_in_segment": name}},
                {"type": "object", "required": ["sql"], "additionalProperties": False,
                 "properties": {"sql": {"type": "string", "minLength": 1}}},
                {"type": "object", "required": ["trend"], "additionalProperties": False,
                 "properties": {"trend": {"$ref": "#/$defs/trend"}}},
            ]},
            "leaf": _leaf(columns),
            "trend": _trend(usage_columns),
        },
    }
