"""CRM records of one object type: storage, unique-value indexes, validated writes, merges, archive, paging."""
from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

from sandbox.hubspot.clock import iso_ms, now_ms
from sandbox.hubspot.errors import HubSpotError, PropertyProblem, property_values_error, validation_error
from sandbox.hubspot.properties import PropertyRegistry, coerce_value

OBJECT_TYPES = {
    "companies": {"id": "0-2", "singular": "COMPANY", "modified": "hs_lastmodifieddate",
                  "defaults": ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"],
                  "searchable": ["name", "domain"]},
    "contacts": {"id": "0-1", "singular": "CONTACT", "modified": "lastmodifieddate",
                 "defaults": ["email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"],
                 "searchable": ["email", "firstname", "lastname", "phone", "company"]},
}
ALIASES = {"companies": "companies", "company": "companies", "0-2": "companies",
           "contacts": "contacts", "contact": "contacts", "0-1": "contacts"}


def resolve_type(name: str) -> str:
    object_type = ALIASES.get(name.lower())
    if object_type is None:
        raise HubSpotError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
    return object_type


@dataclass(slots=True)
class Record:
    id: str
    props: dict[str, str | None]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    merged_ids: list[str] = field(default_factory=list)


class ObjectStore:
    """All records of one object type; ids are numeric strings, paged in ascending numeric order."""

    def __init__(self, object_type: str, registry: PropertyRegistry):
        self.object_type = object_type
        self.meta = OBJECT_TYPES[object_type]
        self.registry = registry
        self.records: dict[str, Record] = {}
        self.sorted_ids: list[int] = []
        self.merged_into: dict[str, str] = {}
        self.unique: dict[str, dict[str, str]] = {name: {} for name in registry.unique_names()}
        self.next_id = 1
        self.version = 0  # bumped on every write: search caches key on it

    # -- reads ------------------------------------------------------------------------------------
    def resolve(self, record_id: str) -> str:
        """Follow merges: a merged-away id reads as its surviving record."""
        seen = 0
        while record_id in self.merged_into and seen < 50:
            record_id = self.merged_into[record_id]
            seen += 1
        return record_id

    def find(self, record_id: str, *, archived: bool = False, follow_merges: bool = True) -> Record | None:
        key = self.resolve(str(record_id)) if follow_merges else str(record_id)
        record = self.records.get(key)
        if record is None or record.archived != archived:
            return None
        return record

    def find_by(self, id_property: str, value: str, *, archived: bool = False) -> Record | None:
        if id_property == "hs_object_id":
            return self.find(value, archived=archived)
        index = self.unique.get(id_property)
        if index is None:
            raise validation_error(f"{id_property} is not a unique property of {self.object_type}; idProperty "
                                   f"must be one of {['hs_object_id', *sorted(self.unique)]}.",
                                   context={"idProperty": [id_property]})
        key = value.lower() if id_property == "email" else value
        record_id = index.get(key)
        return self.find(record_id, archived=archived) if record_id is not None else None

    def check_id_property(self, id_property: str | None) -> str:
        name = id_property or "hs_object_id"
        if name != "hs_object_id" and name not in self.unique:
            if name not in self.registry.props:
                raise validation_error(f"Property {name} does not exist on {self.object_type}; idProperty must "
                                       f"be a unique-value property.", context={"idProperty": [name]})
            raise validation_error(f"Property {name} is not a unique-value property (hasUniqueValue is false); "
                                   f"idProperty must be one of {['hs_object_id', *sorted(self.unique)]}.",
                                   context={"idProperty": [name]})
        return name

    def page(self, after: str | None, limit: int, *, archived: bool) -> tuple[list[Record], str | None]:
        """Up to `limit` records from id `after` on (inclusive), ascending; and the next cursor."""
        start = 0
        if after:
            if not after.isdigit():
                raise validation_error(f"after={after!r} is not a valid paging cursor.")
            start = bisect_left(self.sorted_ids, int(after))
        out: list[Record] = []
        ids = self.sorted_ids
        i = start
        while i < len(ids) and len(out) < limit:
            record = self.records[str(ids[i])]
            if record.archived == archived:
                out.append(record)
            i += 1
        while i < len(ids) and self.records[str(ids[i])].archived != archived:
            i += 1
        return out, (str(ids[i]) if i < len(ids) else None)

    # -- validation -------------------------------------------------------------------------------
    def validate(self, properties: object, *, allow_read_only: bool = False) -> tuple[dict, list[PropertyProblem]]:
        """Stored values for a write, and every problem found (nothing is written when there is one)."""
        if not isinstance(properties, dict):
            return {}, [PropertyProblem("properties", "INVALID_PROPERTIES", "properties must be a JSON object.")]
        values: dict[str, str | None] = {}
        problems: list[PropertyProblem] = []
        for name, raw in properties.items():
            prop = self.registry.props.get(name)
            if prop is None:
                problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f"Property \"{name}\" does not exist"))
                continue
            if prop.read_only_value and not allow_read_only:
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE",
                                                f"\"{name}\" is a read only property; its value cannot be set."))
                continue
            try:
                values[name] = coerce_value(prop, raw)
            except PropertyProblem as problem:
                problems.append(problem)
        return values, problems

    def validate_all(self, inputs: list[dict]) -> list[dict]:
        """Validate every input's properties; one whole-call 400 listing every problem, as HubSpot does."""
        out, problems = [], []
        for item in inputs:
            values, found = self.validate(item.get("properties", {}))
            out.append(values)
            problems.extend(found)
        if problems:
            raise property_values_error(problems)
        return out

    def unique_conflicts(self, values: dict, own_id: str | None) -> list[tuple[str, str, str]]:
        """(property, value, existing id) for each unique value already held by another record."""
        conflicts = []
        for name, index in self.unique.items():
            value = values.get(name)
            if value is None:
                continue
            holder = index.get(value)
            if holder is not None and holder != own_id:
                conflicts.append((name, value, holder))
        return conflicts

    # -- writes -----------------------------------------------------------------------------------
    def _index(self, record: Record, values: dict) -> None:
        for name, index in self.unique.items():
            if name in values:
                old = record.props.get(name)
                if old is not None and index.get(old) == record.id:
                    del index[old]
                if values[name] is not None:
                    index[values[name]] = record.id

    def insert(self, values: dict, *, created_ms: int | None = None, record_id: str | None = None) -> Record:
        stamp = now_ms()
        rid = record_id or str(self.allocate_id())
        props = dict(values)
        props["hs_object_id"] = rid
        created = created_ms or stamp
        props.setdefault("createdate", iso_ms(created))
        if props["createdate"] is None:
            props["createdate"] = iso_ms(created)
        props[self.meta["modified"]] = iso_ms(stamp)
        record = Record(rid, props, created, stamp)
        self.records[rid] = record
        insort(self.sorted_ids, int(rid))
        self._index(record, props)
        self.version += 1
        return record

    def allocate_id(self) -> int:
        while str(self.next_id) in self.records:
            self.next_id += 1
        value = self.next_id
        self.next_id += 1
        return value

    def apply(self, record: Record, values: dict) -> Record:
        """Write validated values; every write moves the modification date, as HubSpot does."""
        stamp = now_ms()
        self._index(record, values)
        record.props.update(values)
        record.updated_ms = stamp
        record.props[self.meta["modified"]] = iso_ms(stamp)
        self.version += 1
        return record

    def archive(self, record: Record) -> None:
        stamp = now_ms()
        record.archived = True
        record.archived_ms = stamp
        record.updated_ms = stamp
        for name, index in self.unique.items():
            value = record.props.get(name)
            if value is not None and index.get(value) == record.id:
                del index[value]
        self.version += 1

    def merge(self, primary: Record, merged: Record) -> Record:
        """Merge `merged` into `primary`: blanks on the primary take the merged values; the merged id follows."""
        fill = {k: v for k, v in merged.props.items()
                if v is not None and primary.props.get(k) is None and k in self.registry.props
                and not self.registry.props[k].read_only_value and k != "createdate"}
        self.archive(merged)
        ids = primary.merged_ids + [merged.id] + merged.merged_ids
        primary.merged_ids = ids
        fill["hs_merged_object_ids"] = ";".join(ids)
        self.apply(primary, fill)
        self.merged_into[merged.id] = primary.id
        for old in merged.merged_ids:
            self.merged_into[old] = primary.id
        return primary

    def record_json(self, record: Record, properties: list[str] | None) -> dict:
        names = [*properties, "createdate", self.meta["modified"], "hs_object_id"] if properties \
            else self.meta["defaults"]
        props = {}
        for name in names:
            if name in self.registry.props:
                props[name] = record.props.get(name)
        body = {"id": record.id, "properties": props, "createdAt": iso_ms(record.created_ms),
                "updatedAt": iso_ms(record.updated_ms), "archived": record.archived}
        if record.archived and record.archived_ms is not None:
            body["archivedAt"] = iso_ms(record.archived_ms)
        return body
