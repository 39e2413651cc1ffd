"""Raw-table writer: declared types (even for an all-null first batch), latest update wins, cursor with its batch."""
from __future__ import annotations

import pyarrow as pa
import pytest

from segsync import store
from sources.common import BatchWriter, Cursor, RawTable, parse_date, parse_timestamp, read_cursor
from sources.schemas import SALESFORCE_ACCOUNT, STRIPE_PRICE
from tests.sources.rawdata import utc


def test_all_null_first_batch_gets_declared_types(warehouse):
    con = store.connect(warehouse)
    writer = BatchWriter(con, SALESFORCE_ACCOUNT, "salesforce", "r1")
    writer.write([{"id": "001A", "name": None, "number_of_employees": None, "account_type": None,
                   "is_deleted": None, "system_modstamp": None}])
    types = store.table_columns(con, "raw_salesforce_account")
    assert (types["number_of_employees"], types["account_type"], types["is_deleted"], types["system_modstamp"]) == (
        "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP WITH TIME ZONE")
    BatchWriter(con, STRIPE_PRICE, "stripe", "r1").write([{"id": "p", "tiers": None, "unit_amount": None}])
    price_types = store.table_columns(con, "raw_stripe_price")
    assert price_types["tiers"].startswith("STRUCT(up_to BIGINT") and price_types["unit_amount"] == "DECIMAL(38,12)"


def test_duplicate_keys_in_a_batch_latest_update_wins_and_upsert(warehouse):
    con = store.connect(warehouse)
    writer = BatchWriter(con, SALESFORCE_ACCOUNT, "salesforce", "r1")
    kept = writer.write([
        {"id": "001A", "name": "old", "system_modstamp": utc(2026, 1, 1)},
        {"id": "001A", "name": "new", "system_modstamp": utc(2026, 1, 2)},
        {"id": "001B", "name": "b", "system_modstamp": utc(2026, 1, 1)},
    ])
    assert (kept, writer.duplicates) == (2, 1)
    writer.write([{"id": "001B", "name": "b2", "system_modstamp": utc(2026, 1, 3)}])
    assert con.execute("SELECT id, name FROM raw_salesforce_account ORDER BY id").fetchall() == [
        ("001A", "new"), ("001B", "b2")]


def test_cursor_commits_with_its_batch_and_rolls_back_with_it(warehouse):
    con = store.connect(warehouse)
    writer = BatchWriter(con, SALESFORCE_ACCOUNT, "salesforce", "r1")
    writer.write([{"id": "001A", "system_modstamp": utc(2026, 1, 1)}], cursor=Cursor("2026-01-01T00:00:00Z", "001A"),
                 cursor_object="Account")
    assert read_cursor(con, "salesforce", "Account") == Cursor("2026-01-01T00:00:00Z", "001A")
    with pytest.raises(ValueError, match="undeclared columns"):
        writer.write([{"id": "001B", "bogus": 1}], cursor=Cursor("2026-02-01T00:00:00Z", "001B"), cursor_object="Account")
    with pytest.raises(Exception):
        writer.write([{"id": "001C", "number_of_employees": "many"}], cursor=Cursor("2026-03-01T00:00:00Z", "001C"),
                     cursor_object="Account")
    assert read_cursor(con, "salesforce", "Account") == Cursor("2026-01-01T00:00:00Z", "001A")
    assert con.execute("SELECT list(id) FROM raw_salesforce_account").fetchone()[0] == ["001A"]


def test_sweep_removes_rows_a_full_load_did_not_see(warehouse):
    con = store.connect(warehouse)
    table = RawTable("raw_test_things", {"id": "VARCHAR", "n": "BIGINT"}, key=("id",))
    BatchWriter(con, table, "test", "run1").write([{"id": "a", "n": 1}, {"id": "b", "n": 2}])
    second = BatchWriter(con, table, "test", "run2")
    second.write(pa.table({"id": ["b"], "n": [3]}))
    assert second.sweep(cursor=Cursor("done"), cursor_object="things") == 1
    assert con.execute("SELECT id, n FROM raw_test_things").fetchall() == [("b", 3)]
    assert read_cursor(con, "test", "things") == Cursor("done")


def test_vendor_timestamps_parse_to_utc():
    assert parse_timestamp("2026-03-01T10:00:00.000+0000") == utc(2026, 3, 1, 10)
    assert parse_timestamp("2026-03-01T10:00:00-0500") == utc(2026, 3, 1, 15)
    assert parse_timestamp(1772359200) == utc(2026, 3, 1, 10)
    assert parse_timestamp("1772359200000") == utc(2026, 3, 1, 10)
    assert parse_timestamp("2026-03-01T10:00:00Z") == utc(2026, 3, 1, 10)
    assert parse_timestamp(None) is None and parse_timestamp("") is None
    assert str(parse_date("2026-03-01T23:30:00-0200")) == "2026-03-02"
