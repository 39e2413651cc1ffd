"""Runs a checked SOQL query over the org's records: filter, order, limit, and render rows as REST JSON or CSV."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sandbox.salesforce.schema import ID_TYPES, STRING_TYPES
from sandbox.salesforce.soql import BoolOp, Comparison, DateRange, FieldRef, Query

Record = dict
Getter = Callable[[Record], object]


def getter(ref: FieldRef, records: Mapping[str, Mapping[str, Record]]) -> Getter:
    """Reads the field a reference names from a record (following one parent relationship)."""
    name = ref.fdef.name
    default = ref.fdef.default
    if ref.relationship is None:
        return lambda record: record.get(name, default)
    key = ref.relationship.name
    parents = records.get(ref.relationship.reference_to[0], {})

    def read_parent(record: Record) -> object:
        parent = parents.get(record.get(key))
        return None if parent is None else parent.get(name, default)

    return read_parent


def _comparable(ref: FieldRef) -> Callable[[object], object]:
    """Text compares case-insensitively in SOQL; ids and everything else compare as stored."""
    if ref.fdef.type in STRING_TYPES and ref.fdef.type not in ID_TYPES:
        return lambda value: value.casefold() if isinstance(value, str) else value
    return lambda value: value


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def predicate(node, records: Mapping[str, Mapping[str, Record]]) -> Callable[[Record], bool]:
    """A Python test for a checked WHERE tree (null compares false except with = null / != )."""
    if isinstance(node, BoolOp):
        parts = [predicate(part, records) for part in node.parts]
        if node.op == "AND":
            return lambda record: all(p(record) for p in parts)
        if node.op == "OR":
            return lambda record: any(p(record) for p in parts)
        only = parts[0]
        return lambda record: not only(record)
    return _comparison(node, records)


def _comparison(node: Comparison, records) -> Callable[[Record], bool]:
    read = getter(node.ref, records)
    norm = _comparable(node.ref)
    op = node.op
    values = [lit.value for lit in node.values]
    if op == "LIKE":
        regex = _like_regex(values[0] or "")
        return lambda record: isinstance(v := read(record), str) and regex.match(v) is not None
    if op in ("IN", "NOTIN"):
        wanted = {norm(v) for v in values}
        if op == "IN":
            return lambda record: norm(read(record)) in wanted
        return lambda record: norm(read(record)) not in wanted
    if op in ("INCLUDES", "EXCLUDES"):
        wanted_sets = [{part.casefold() for part in (v or "").split(";")} for v in values]

        def includes(record: Record) -> bool:
            current = read(record)
            chosen = {part.casefold() for part in current.split(";")} if current else set()
            return any(w <= chosen for w in wanted_sets)

        return includes if op == "INCLUDES" else (lambda record: not includes(record))
    if isinstance(values[0], DateRange):
        return _in_range(read, op, values[0])
    target = norm(values[0])
    if op == "=":
        return lambda record: norm(read(record)) == target
    if op == "!=":
        return lambda record: norm(read(record)) != target
    if target is None:
        return lambda record: False
    compare = {"<": lambda a: a < target, "<=": lambda a: a <= target,
               ">": lambda a: a > target, ">=": lambda a: a >= target}[op]

    def ordered(record: Record) -> bool:
        value = norm(read(record))
        return value is not None and compare(value)

    return ordered


def _in_range(read: Getter, op: str, span: DateRange) -> Callable[[Record], bool]:
    """Relative date literals compare as ranges: = inside, < before the start, > after the end."""
    inside = {"=": lambda v: span.start <= v < span.end, "!=": lambda v: not span.start <= v < span.end,
              "<": lambda v: v < span.start, "<=": lambda v: v < span.end,
              ">": lambda v: v >= span.end, ">=": lambda v: v >= span.start}[op]

    def test(record: Record) -> bool:
        value = read(record)
        return (op == "!=") if value is None else inside(value)

    return test


def run(query: Query, records: Mapping[str, Mapping[str, Record]], *, include_deleted: bool) -> list[Record]:
    """Matching records of the query's object in result order, after OFFSET/LIMIT."""
    rows: list[Record] = list(records.get(query.object_name, {}).values())
    if not include_deleted:
        rows = [r for r in rows if not r.get("IsDeleted")]
    if query.where is not None:
        test = predicate(query.where, records)
        rows = [r for r in rows if test(r)]
    for item in reversed(query.order):
        read = getter(item.ref, records)
        norm = _comparable(item.ref)
        null_rank = (1 if not item.nulls_last else 0) if item.descending else (0 if not item.nulls_last else 1)

        def sort_key(record: Record, read=read, norm=norm, null_rank=null_rank):
            value = read(record)
            return (null_rank,) if value is None else (1 - null_rank, norm(value))

        rows.sort(key=sort_key, reverse=item.descending)
    if query.offset:
        rows = rows[query.offset:]
    if query.limit is not None:
        rows = rows[: query.limit]
    return rows


def render_json(rows: list[Record], query: Query, records, version: str) -> list[dict]:
    """REST query records: attributes {type, url}, fields in SELECT order, parent fields nested."""
    readers = [(ref, getter(ref, records)) for ref in query.fields]
    obj = query.object_name
    out = []
    for record in rows:
        item: dict = {"attributes": {"type": obj, "url": f"/services/data/{version}/sobjects/{obj}/{record['Id']}"}}
        for ref, read in readers:
            if ref.relationship is None:
                item[ref.key[0]] = read(record)
                continue
            rel_name = ref.key[0]
            parent_id = record.get(ref.relationship.name)
            parent_type = ref.relationship.reference_to[0]
            if parent_id is None or parent_id not in records.get(parent_type, {}):
                item[rel_name] = None
                continue
            nested = item.get(rel_name)
            if nested is None:
                nested = item[rel_name] = {"attributes": {
                    "type": parent_type, "url": f"/services/data/{version}/sobjects/{parent_type}/{parent_id}"}}
            nested[ref.key[1]] = read(record)
        out.append(item)
    return out


def csv_cell(value: object) -> str:
    """A Bulk API 2.0 query result cell: empty for null, lower-case booleans, UTC datetimes with Z."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") and value[10] == "T":
        return value[:-5] + "Z"
    return str(value)


def render_csv_rows(rows: list[Record], query: Query, records) -> tuple[list[str], list[list[str]]]:
    readers = [getter(ref, records) for ref in query.fields]
    header = [ref.label for ref in query.fields]
    return header, [[csv_cell(read(record)) for read in readers] for record in rows]
