"""Columnar object store for the Stripe emulator: seeded rows in Arrow, API changes in an overlay, cursor paging."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# Record columns holding JSON text (nested values); decoded when a record is read.
JSON_COLUMNS = {"metadata", "items", "lines", "tiers", "recurring", "discount", "data", "enabled_events",
                "previous_attributes"}


def decode(row: dict) -> dict:
    return {k: (json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v) for k, v in row.items()}


def encode(record: dict) -> dict:
    return {k: (json.dumps(v) if k in JSON_COLUMNS and not isinstance(v, str) and v is not None else v)
            for k, v in record.items()}


@dataclass
class Page:
    ids: list[str]
    has_more: bool


class Collection:
    """Objects of one type. Order: created descending, then insertion sequence descending (Stripe's list order)."""

    def __init__(self, object_name: str, schema: pa.Schema):
        self.object_name = object_name
        self.schema = schema
        self.base = schema.empty_table()
        self.positions: dict[str, int] = {}
        self.overlay: dict[str, dict] = {}
        self._next_seq = 0
        self._merged: pa.Table | None = None

    def load(self, table: pa.Table) -> None:
        """Replace the seeded rows (must carry every schema column; `_seq` is assigned here)."""
        table = table.select([f.name for f in self.schema if f.name != "_seq"])
        table = table.append_column("_seq", pa.array(range(table.num_rows), pa.int64()))
        table = table.cast(self.schema).sort_by([("created", "descending"), ("_seq", "descending")])
        self.base = table
        self.positions = {record_id: i for i, record_id in enumerate(table.column("id").to_pylist())}
        self.overlay = {}
        self._next_seq = table.num_rows
        self._merged = None

    def __len__(self) -> int:
        return len(self.positions) + sum(1 for k in self.overlay if k not in self.positions)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self.overlay or record_id in self.positions

    def get(self, record_id: str) -> dict | None:
        if record_id in self.overlay:
            return decode(dict(self.overlay[record_id]))
        position = self.positions.get(record_id)
        if position is None:
            return None
        return decode(self.base.slice(position, 1).to_pylist()[0])

    def get_many(self, record_ids: list[str]) -> list[dict]:
        """Records for ids known to exist, in the given order (one Arrow take for the seeded ones)."""
        positions = [self.positions[i] for i in record_ids if i not in self.overlay]
        seeded = iter(self.base.take(positions).to_pylist()) if positions else iter(())
        return [decode(dict(self.overlay[i])) if i in self.overlay else decode(next(seeded)) for i in record_ids]

    def put(self, record: dict) -> dict:
        """Insert a new record or replace an existing one (keeps its place in the order)."""
        current = self.overlay.get(record["id"])
        if current is None and record["id"] in self.positions:
            current = self.base.slice(self.positions[record["id"]], 1).to_pylist()[0]
        row = {f.name: None for f in self.schema}
        if current is not None:
            row.update(current)
        row.update(encode({k: v for k, v in record.items() if k in row}))
        if row.get("_seq") is None:
            row["_seq"] = self._next_seq
            self._next_seq += 1
        self.overlay[record["id"]] = row
        self._merged = None
        return decode(dict(row))

    def table(self) -> pa.Table:
        """Every row, seeded and changed, in list order."""
        if not self.overlay:
            return self.base
        if self._merged is None:
            changed = pa.Table.from_pylist(list(self.overlay.values()), schema=self.schema)
            kept = self.base.filter(pc.invert(pc.is_in(self.base.column("id"), value_set=changed.column("id"))))
            self._merged = pa.concat_tables([kept, changed]).sort_by(
                [("created", "descending"), ("_seq", "descending")])
        return self._merged

    def view(self, expression: pc.Expression | None) -> pa.Table:
        """The (id, created, _seq) of rows matching the filter, in list order."""
        table = self.table()
        if expression is not None:
            table = table.filter(expression)
        return table.select(["id", "created", "_seq"])

    def sort_key(self, record_id: str) -> tuple[int, int] | None:
        if record_id in self.overlay:
            row = self.overlay[record_id]
            return row["created"], row["_seq"]
        position = self.positions.get(record_id)
        if position is None:
            return None
        return self.base.column("created")[position].as_py(), self.base.column("_seq")[position].as_py()

    def page(self, view: pa.Table, limit: int, *, starting_after: tuple[int, int] | None = None,
             ending_before: tuple[int, int] | None = None) -> Page:
        """One page of ids after/before a cursor's sort key (Stripe semantics: both return newest first)."""
        created, seq = pc.field("created"), pc.field("_seq")
        if starting_after is not None:
            c, s = starting_after
            rest = view.filter((created < c) | ((created == c) & (seq < s)))
            ids = rest.column("id").slice(0, limit + 1).to_pylist()
            return Page(ids[:limit], len(ids) > limit)
        if ending_before is not None:
            c, s = ending_before
            newer = view.filter((created > c) | ((created == c) & (seq > s)))
            start = max(0, newer.num_rows - limit)
            return Page(newer.column("id").slice(start).to_pylist(), newer.num_rows > limit)
        ids = view.column("id").slice(0, limit + 1).to_pylist()
        return Page(ids[:limit], len(ids) > limit)
