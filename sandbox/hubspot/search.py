"""The CRM search endpoint: filterGroups (OR of ANDed filters), one sort, text query, offset paging capped at 10,000."""
from __future__ import annotations

import fnmatch
import json
import re
from collections import OrderedDict

from sandbox.hubspot.clock import iso_ms, parse_datetime_ms
from sandbox.hubspot.errors import HubSpotError, validation_error
from sandbox.hubspot.properties import MULTI_SELECT, PropertyDef
from sandbox.hubspot.records import ObjectStore, Record

OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, DEFAULT_LIMIT = 200, 10
RESULT_CAP = 10_000
_WORD = re.compile(r"[^\w@.-]+")


def stored_key(prop: PropertyDef, value: str | None):
    """A comparable form of a stored value: canonical ISO datetimes and dates already sort as text."""
    if value is None:
        return None
    if prop.type == "number":
        try:
            return float(value)
        except ValueError:
            return None
    if prop.type in ("datetime", "date"):
        return value
    return value.lower()


def typed(prop: PropertyDef, value: object):
    """The comparable form of a filter value (epoch ms or ISO for dates), None when it is not valid for the type."""
    if value is None:
        return None
    if prop.type == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if prop.type in ("datetime", "date"):
        ms = parse_datetime_ms(value)
        if ms is None:
            return None
        return iso_ms(ms) if prop.type == "datetime" else iso_ms(ms)[:10]
    return str(value).lower()


class _Filter:
    def __init__(self, store: ObjectStore, raw: dict, where: str):
        if not isinstance(raw, dict):
            raise validation_error(f"{where} must be an object with propertyName and operator.")
        name, op = raw.get("propertyName"), raw.get("operator")
        prop = store.registry.props.get(name) if isinstance(name, str) else None
        if prop is None:
            raise HubSpotError(400, "There was a problem with the request.", "VALIDATION_ERROR",
                               errors=[{"message": f"Unable to find property {name} for {store.object_type} "
                                                   f"({where}.propertyName)", "code": "PROPERTY_DOESNT_EXIST"}])
        if op not in OPERATORS:
            raise validation_error(f"{where}.operator {op!r} is not one of {sorted(OPERATORS)}.")
        self.prop, self.op = prop, op
        self.multi = prop.field_type == MULTI_SELECT
        if op in ("IN", "NOT_IN"):
            values = raw.get("values")
            if not isinstance(values, list) or not values:
                raise validation_error(f"{where}: operator {op} needs a non-empty `values` list.")
            self.values = {typed(prop, v) for v in values}
        elif op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            if raw.get("value") is None:
                raise validation_error(f"{where}: operator {op} needs a `value`.")
            self.value = typed(prop, raw["value"])
            if self.value is None:
                raise validation_error(f"{where}: value {raw['value']!r} is not valid for {prop.type} property "
                                       f"{prop.name}.")
            if op == "BETWEEN":
                self.high = typed(prop, raw.get("highValue"))
                if self.high is None:
                    raise validation_error(f"{where}: operator BETWEEN needs a valid `highValue`.")
            if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
                self.value = str(raw["value"]).lower()

    def matches(self, record: Record) -> bool:
        stored = record.props.get(self.prop.name)
        op = self.op
        if op == "HAS_PROPERTY":
            return stored is not None
        if op == "NOT_HAS_PROPERTY":
            return stored is None
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            found = stored is not None and _has_token(stored, self.value)
            return found if op == "CONTAINS_TOKEN" else not found
        if self.multi and stored is not None:
            parts = {p.lower() for p in stored.split(";")}
            if op in ("EQ", "IN"):
                return bool(parts & ({self.value} if op == "EQ" else self.values))
            if op in ("NEQ", "NOT_IN"):
                return not parts & ({self.value} if op == "NEQ" else self.values)
        value = stored_key(self.prop, stored)
        if op == "NEQ":
            return value != self.value
        if op == "NOT_IN":
            return value not in self.values
        if value is None:
            return False
        if op == "EQ":
            return value == self.value
        if op == "IN":
            return value in self.values
        if op == "LT":
            return value < self.value
        if op == "LTE":
            return value <= self.value
        if op == "GT":
            return value > self.value
        if op == "GTE":
            return value >= self.value
        return self.value <= value <= self.high  # BETWEEN


def _has_token(stored: str, token: str) -> bool:
    text = stored.lower()
    if "*" in token:
        return fnmatch.fnmatchcase(text, token) or any(fnmatch.fnmatchcase(w, token) for w in _WORD.split(text))
    return token == text or token in _WORD.split(text)


def _parse_sort(store: ObjectStore, sorts) -> tuple[PropertyDef, bool] | None:
    if sorts in (None, []):
        return None
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list.")
    if len(sorts) > 1:
        raise validation_error(f"Only one sort is allowed per search; got {len(sorts)}.")
    sort = sorts[0]
    if isinstance(sort, str):
        descending = sort.startswith("-")
        name = sort.lstrip("-")
    elif isinstance(sort, dict):
        name = sort.get("propertyName")
        direction = sort.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error(f"sorts[0].direction {direction!r} must be ASCENDING or DESCENDING.")
        descending = direction == "DESCENDING"
    else:
        raise validation_error("sorts[0] must be a property name or {propertyName, direction}.")
    prop = store.registry.props.get(name)
    if prop is None:
        raise validation_error(f"Unable to sort by unknown property {name!r} of {store.object_type}.")
    return prop, descending


def parse_groups(store: ObjectStore, groups) -> list[list[_Filter]]:
    if groups in (None, []):
        return []
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list.")
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filterGroups: {len(groups)}; the maximum is {MAX_GROUPS}.")
    parsed, total = [], 0
    for gi, group in enumerate(groups):
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or not filters:
            raise validation_error(f"filterGroups[{gi}] needs a non-empty `filters` list.")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"filterGroups[{gi}] has {len(filters)} filters; the maximum per group is "
                                   f"{MAX_FILTERS_PER_GROUP}.")
        total += len(filters)
        parsed.append([_Filter(store, f, f"filterGroups[{gi}].filters[{fi}]") for fi, f in enumerate(filters)])
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters: {total}; the maximum across all groups is {MAX_FILTERS}.")
    return parsed


class SearchCache:
    """Matching ids per (object type, query, store version): paging a query does not rescan the store."""

    def __init__(self, size: int = 16):
        self._entries: OrderedDict[tuple, list[str]] = OrderedDict()
        self._size = size

    def clear(self) -> None:
        self._entries.clear()

    def matching_ids(self, store: ObjectStore, body: dict) -> list[str]:
        key = (store.object_type, store.version, json.dumps(
            [body.get("filterGroups"), body.get("sorts"), body.get("query")], sort_keys=True, default=str))
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit
        ids = _evaluate(store, body)
        self._entries[key] = ids
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return ids


def _evaluate(store: ObjectStore, body: dict) -> list[str]:
    groups = parse_groups(store, body.get("filterGroups"))
    sort = _parse_sort(store, body.get("sorts"))
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise validation_error("query must be a string.")
    needle = query.lower().strip() if query else ""
    searchable = store.meta["searchable"]
    hits: list[Record] = []
    for rid in store.sorted_ids:
        record = store.records[str(rid)]
        if record.archived:
            continue
        if groups and not any(all(f.matches(record) for f in group) for group in groups):
            continue
        if needle and not any(needle in (record.props.get(p) or "").lower() for p in searchable):
            continue
        hits.append(record)
    if sort is not None:
        prop, descending = sort
        keyed = [(stored_key(prop, r.props.get(prop.name)), r) for r in hits]
        present = [(k, r) for k, r in keyed if k is not None]
        missing = [r for k, r in keyed if k is None]
        present.sort(key=lambda pair: pair[0], reverse=descending)
        hits = [r for _, r in present] + missing
    return [r.id for r in hits]


def search_page(cache: SearchCache, store: ObjectStore, body: object) -> dict:
    """One page of search results in HubSpot's shape: total, results, paging.next.after (an offset)."""
    if not isinstance(body, dict):
        raise validation_error("The search body must be a JSON object.")
    limit = body.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1 or limit > MAX_LIMIT:
        raise validation_error(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}.")
    after = body.get("after") or "0"
    if not str(after).isdigit():
        raise validation_error(f"after={after!r} is not a valid search paging offset.")
    offset = int(after)
    if offset >= RESULT_CAP:
        raise validation_error(f"Search results are limited to {RESULT_CAP} per query; after={offset} pages past "
                               f"them. Narrow the filters (e.g. by hs_lastmodifieddate) instead.")
    properties = body.get("properties") or None
    ids = cache.matching_ids(store, body)
    end = min(offset + limit, len(ids), RESULT_CAP)
    results = [store.record_json(store.records[rid], properties) for rid in ids[offset:end]]
    page = {"total": len(ids), "results": results}
    if end < len(ids):
        page["paging"] = {"next": {"after": str(end)}}
    return page
