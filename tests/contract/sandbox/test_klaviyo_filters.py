"""Klaviyo filter syntax as the emulator parses it: operators, quoting, and(), allowed fields."""
from __future__ import annotations

import pytest

from sandbox.klaviyo.filters import Condition, FilterError, matches, parse_filter

ALLOWED = {"name": {"equals", "any"}, "email": {"equals", "any"}, "created": {"greater-than", "less-than"}}


def test_equals_any_and_and_with_commas_inside_quotes():
    assert parse_filter('equals(name,"a, b")', ALLOWED) == [Condition("equals", "name", "a, b")]
    assert parse_filter("any(email,['x@a.example.com',\"y@a.example.com\"])", ALLOWED) == [
        Condition("any", "email", ["x@a.example.com", "y@a.example.com"])]
    assert parse_filter('and(equals(name,"n"),greater-than(created,2026-01-01T00:00:00+00:00))', ALLOWED) == [
        Condition("equals", "name", "n"), Condition("greater-than", "created", "2026-01-01T00:00:00+00:00")]
    assert parse_filter("equals(name,['only'])", ALLOWED) == [Condition("equals", "name", "only")]


@pytest.mark.parametrize("text, message", [
    ('contains(name,"x")', "'contains' operator is not allowed for field 'name'"),
    ('equals(title,"x")', "'title' is not a valid field"),
    ("equals(name,x)", "strings must be quoted"),
    ('any(name,"x")', "'any' needs a list value"),
    ("equals(name,['a','b'])", "use any() for several"),
    ("name = x", "expected operator(field,value)"),
])
def test_bad_filters_name_what_was_expected(text, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(text, ALLOWED)


def test_matching_is_case_insensitive_for_email_only():
    record = {"email": "Ann@A.example.com", "name": "Seg", "created": "2026-02-01T00:00:00+00:00"}
    assert matches(parse_filter('equals(email,"ann@a.example.com")', ALLOWED), record)
    assert not matches(parse_filter('equals(name,"seg")', ALLOWED), record)
    assert matches(parse_filter("and(any(email,['x@b.example.com','ANN@a.example.com']),"
                                "less-than(created,2026-03-01T00:00:00+00:00))", ALLOWED), record)
