"""Salesforce ids: the documented 15→18 checksum, normalisation errors, deterministic ids and their SQL twin."""
from __future__ import annotations

import duckdb
import pytest

from segsync.sfid import duckdb_macros, make_id, normalize, to_18


def test_to_18_matches_the_documented_example():
    # Salesforce's own example: 001A0000006Vm9r -> 001A0000006Vm9rIAC
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert to_18("003000000000000") == "003000000000000AAA"
    assert to_18("ABCDEABCDEABCDE") == "ABCDEABCDEABCDE555"


def test_normalize_accepts_15_and_18_character_forms():
    assert normalize("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    assert normalize("001A0000006Vm9riac") == "001A0000006Vm9rIAC"
    assert normalize(" 001A0000006Vm9r ") == "001A0000006Vm9rIAC"


@pytest.mark.parametrize("bad", ["", "001A0000006Vm9", "001A0000006Vm9rIA", "001A0000006Vm9r-AC", "001A0000006Vm9rAAA",
                                 None, 1234])
def test_normalize_rejects_other_values_naming_them(bad):
    with pytest.raises(ValueError, match="Salesforce id") as info:
        normalize(bad)
    assert repr(bad) in str(info.value)


def test_make_id_is_deterministic_valid_and_distinct():
    ids = [make_id("001", n) for n in range(5000)]
    assert ids[:2] == ["0015g0000000000AAA", "0015g000015ftgNAAQ"]
    assert len(set(ids)) == 5000 and len({i.lower() for i in ids[:5000]}) == 5000
    assert all(len(i) == 18 and i.startswith("0015g0") and normalize(i) == i for i in ids)
    assert make_id("003", 42) == make_id("003", 42) != make_id("001", 42)
    with pytest.raises(ValueError, match="key prefix 'Account'"):
        make_id("Account", 1)
    with pytest.raises(ValueError, match="counter -1"):
        make_id("001", -1)


def test_duckdb_macro_equals_make_id():
    con = duckdb.connect()
    con.execute(duckdb_macros())
    rows = con.execute("SELECT i, sfid_make('003', i) FROM range(3000) t(i)").fetchall()
    assert all(value == make_id("003", i) for i, value in rows)
