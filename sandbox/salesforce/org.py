"""The emulated org: records, external-id indexes, the SystemModstamp clock, and validated writes with rollback."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox.salesforce.errors import ROLLED_BACK, RecordError, SfRequestError, invalid_field
from sandbox.salesforce.ids import make_id, normalise_id
from sandbox.salesforce.schema import (DEFAULT_OWNER_ID, FieldDef, ObjectDef, add_custom_fields, check_value,
                                       default_user, format_datetime, standard_objects)

Record = dict
FaultLookup = Callable[[str], object]  # record id -> a fault with .code/.message, or None


@dataclass
class WriteOutcome:
    """The result of one record of a write call."""

    id: str | None
    success: bool
    errors: list[RecordError]
    created: bool | None = None

    def as_dict(self, *, with_created: bool = False) -> dict:
        out: dict = {}
        if self.id is not None or self.success:
            out["id"] = self.id
        out["success"] = self.success
        out["errors"] = [e.as_dict() for e in self.errors]
        if with_created:
            out["created"] = bool(self.created)
        return out


class Org:
    """All org state behind the emulator lock: schema, records by object and id, indexes and the clock."""

    def __init__(self) -> None:
        self.objects: dict[str, ObjectDef] = standard_objects()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in self.objects}
        self.ext_index: dict[tuple[str, str], dict[str, str]] = {}
        self.counters: dict[str, int] = {}
        self.last_stamp_ms = 0
        self._journal: list[tuple[str, str, Record | None]] | None = None
        self.records["User"][DEFAULT_OWNER_ID] = default_user(self.next_stamp())
        self.rebuild_indexes()

    # -- schema ---------------------------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef | None:
        return next((o for n, o in self.objects.items() if n.lower() == name.lower()), None)

    def object_for_id(self, record_id: str) -> ObjectDef | None:
        return next((o for o in self.objects.values() if record_id.startswith(o.key_prefix)), None)

    def add_fields(self, object_name: str, specs: list[dict]) -> list[FieldDef]:
        obj = self.object(object_name)
        if obj is None:
            raise SfRequestError(400, "INVALID_TYPE", f"sObject type '{object_name}' is not supported.")
        added = add_custom_fields(obj, specs)
        for fdef in added:  # every record carries every field: false for checkboxes, null otherwise
            for record in self.records[obj.name].values():
                record.setdefault(fdef.name, fdef.default)
        self.rebuild_indexes()
        return added

    def rebuild_indexes(self) -> None:
        self.ext_index = {}
        for obj in self.objects.values():
            for fdef in obj.fields.values():
                if fdef.external_id or fdef.unique:
                    index = self.ext_index[(obj.name, fdef.name)] = {}
                    for record in self.records[obj.name].values():
                        value = record.get(fdef.name)
                        if value is not None and not record.get("IsDeleted"):
                            index[str(value).casefold()] = record["Id"]

    # -- clock and ids --------------------------------------------------------------------------------------
    def next_stamp(self) -> str:
        """A SystemModstamp for one transaction: now in ms, strictly after the previous transaction."""
        now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        self.last_stamp_ms = max(now_ms, self.last_stamp_ms + 1)
        return format_datetime(dt.datetime.fromtimestamp(self.last_stamp_ms / 1000, dt.timezone.utc))

    def new_id(self, key_prefix: str) -> str:
        while True:
            self.counters[key_prefix] = self.counters.get(key_prefix, 0) + 1
            candidate = make_id(key_prefix, self.counters[key_prefix])
            obj = self.object_for_id(candidate)
            if obj is None or candidate not in self.records[obj.name]:
                return candidate

    # -- record storage with an undo journal ---------------------------------------------------------------
    def _put(self, object_name: str, record_id: str, record: Record | None) -> None:
        table = self.records[object_name]
        old = table.get(record_id)
        if self._journal is not None:
            self._journal.append((object_name, record_id, dict(old) if old is not None else None))
        self._unindex(object_name, old)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record
            self._index(object_name, record)

    def _index(self, object_name: str, record: Record) -> None:
        if record.get("IsDeleted"):
            return
        for (obj_name, field_name), index in self.ext_index.items():
            if obj_name == object_name and record.get(field_name) is not None:
                index[str(record[field_name]).casefold()] = record["Id"]

    def _unindex(self, object_name: str, record: Record | None) -> None:
        if record is None:
            return
        for (obj_name, field_name), index in self.ext_index.items():
            value = record.get(field_name)
            if obj_name == object_name and value is not None and index.get(str(value).casefold()) == record["Id"]:
                del index[str(value).casefold()]

    def _rollback(self, journal: list) -> None:
        self._journal = None
        for object_name, record_id, old in reversed(journal):
            self._put(object_name, record_id, old)

    # -- validation -----------------------------------------------------------------------------------------
    def check_columns(self, obj: ObjectDef, names: Iterable[str]) -> dict[str, FieldDef]:
        """Map written names to fields; an unknown one refuses the whole request (INVALID_FIELD)."""
        mapped = {}
        for name in names:
            if name == "attributes":
                continue
            fdef = obj.field(name)
            if fdef is None:
                raise invalid_field(name, obj.name)
            mapped[name] = fdef
        return mapped

    def _validate(self, obj: ObjectDef, values: dict[FieldDef, object], *, creating: bool,
                  record_id: str | None = None) -> dict[str, object]:
        """Per-record checks on already-typed values; returns canonical field name -> value."""
        clean: dict[str, object] = {}
        not_writable = [f.name for f in values if not (f.createable if creating else f.updateable)]
        if not_writable:
            raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                              f"Unable to create/update fields: {', '.join(not_writable)}. Please check the security "
                              "settings of this field and verify that it is read/write for your profile or "
                              "permission set.", not_writable)
        for fdef, value in values.items():
            if fdef.type == "boolean" and value is None:
                value = False
            check_value(fdef, value)
            if fdef.type == "reference" and value is not None:
                value = self._check_reference(fdef, value)
            if (fdef.unique or fdef.external_id) and value is not None:
                holder = self.ext_index.get((obj.name, fdef.name), {}).get(str(value).casefold())
                if holder is not None and holder != record_id:
                    raise RecordError("DUPLICATE_VALUE",
                                      f"duplicate value found: {fdef.name} duplicates value on record with id: {holder}",
                                      [fdef.name])
            clean[fdef.name] = value
        if creating:
            missing = [name for name in obj.required_on_create if clean.get(name) is None]
            if missing:
                raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                  missing)
        return clean

    def _check_reference(self, fdef: FieldDef, value: str) -> str:
        target = fdef.reference_to[0] if fdef.reference_to else None
        prefix = self.objects[target].key_prefix if target in self.objects else None
        full = normalise_id(value, prefix)
        if full is None:
            raise RecordError("MALFORMED_ID", f"{fdef.label}: id value of incorrect type: {value}", [fdef.name])
        if target in self.records:
            parent = self.records[target].get(full)
            if parent is None or parent.get("IsDeleted"):
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id", [fdef.name])
        return full

    def _live(self, obj: ObjectDef, record_id: object, faults: FaultLookup | None) -> Record:
        """The record a write targets, or the per-record error Salesforce gives for it."""
        full = normalise_id(str(record_id or ""), obj.key_prefix)
        if full is None:
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            raise RecordError("MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"])
        record = self.records[obj.name].get(full)
        if record is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if record.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        fault = faults(full) if faults else None
        if fault is not None:
            raise RecordError(fault.code, fault.message or
                              f"unable to obtain exclusive access to this record or 1 records: {full}", [])
        return record

    # -- writes (one record each; the caller owns the transaction) ------------------------------------------
    def create(self, obj: ObjectDef, values: dict[FieldDef, object], stamp: str) -> str:
        if any(f.name == "Id" for f in values):
            raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
        clean = self._validate(obj, values, creating=True)
        record_id = self.new_id(obj.key_prefix)
        record = {f.name: f.default for f in obj.fields.values()}
        record.update(OwnerId=DEFAULT_OWNER_ID, **clean)
        record.update(Id=record_id, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp,
                      IsDeleted=False, MasterRecordId=None)
        self._put(obj.name, record_id, record)
        return record_id

    @staticmethod
    def duplicated(keys: Iterable[object], *, ids: bool) -> set[str]:
        """Keys given more than once in one call (ids compared in 18-character form, external ids case-blind)."""
        seen: set[str] = set()
        twice: set[str] = set()
        for key in keys:
            if key in (None, ""):
                continue
            norm = (normalise_id(str(key)) or str(key)) if ids else str(key).casefold()
            (twice if norm in seen else seen).add(norm)
        return twice

    def update(self, obj: ObjectDef, record_id: object, values: dict[FieldDef, object], stamp: str,
               faults: FaultLookup | None = None, duplicates: set[str] = frozenset()) -> str:
        if duplicates and (normalise_id(str(record_id or "")) or record_id) in duplicates:
            raise RecordError("DUPLICATE_VALUE", f"Duplicate id in list: {record_id}", [])
        record = self._live(obj, record_id, faults)
        values = {f: v for f, v in values.items() if f.name != "Id"}
        clean = self._validate(obj, values, creating=False, record_id=record["Id"])
        updated = dict(record)
        updated.update(clean)
        updated.update(LastModifiedDate=stamp, SystemModstamp=stamp)
        self._put(obj.name, record["Id"], updated)
        return record["Id"]

    def upsert(self, obj: ObjectDef, key_field: FieldDef, values: dict[FieldDef, object], stamp: str,
               faults: FaultLookup | None = None, duplicates: set[str] = frozenset()) -> tuple[str, bool]:
        """Match on the key field; a key given twice in one call matches neither (DUPLICATE_VALUE)."""
        key_value = next((v for f, v in values.items() if f.name == key_field.name), None)
        if key_value in (None, ""):
            raise RecordError("MISSING_ARGUMENT", f"{key_field.name} not specified", [key_field.name])
        if key_field.name == "Id":
            return self.update(obj, key_value, values, stamp, faults, duplicates), False
        if str(key_value).casefold() in duplicates:
            raise RecordError("DUPLICATE_VALUE", f"Duplicate external id specified: {key_value}", [key_field.name])
        existing = self.ext_index.get((obj.name, key_field.name), {}).get(str(key_value).casefold())
        if existing is None:
            return self.create(obj, values, stamp), True
        return self.update(obj, existing, values, stamp, faults), False

    def delete(self, obj: ObjectDef, record_id: object, stamp: str, faults: FaultLookup | None = None, *,
               hard: bool = False) -> str:
        """Soft delete to the Recycle Bin (IsDeleted, still seen by queryAll), or a hard delete that erases it."""
        record = self._live(obj, record_id, faults)
        deleted = None if hard else dict(record, IsDeleted=True, LastModifiedDate=stamp, SystemModstamp=stamp)
        self._put(obj.name, record["Id"], deleted)
        return record["Id"]

    def merge(self, winner_id: str, loser_ids: list[str]) -> dict:
        """Merge as Salesforce does: losers deleted with MasterRecordId = winner, their children re-parented."""
        obj = self.object_for_id(str(winner_id))
        if obj is None or obj.name != "Account":
            raise SfRequestError(400, "MALFORMED_ID", f"merge winner {winner_id!r} is not an Account id")
        try:
            winner = self._live(obj, winner_id, None)
            losers = [self._live(obj, loser_id, None) for loser_id in loser_ids]
        except RecordError as exc:
            raise SfRequestError(400, exc.code, exc.message) from None
        stamp = self.next_stamp()
        merged, reparented = [], 0
        for loser in losers:
            if loser["Id"] == winner["Id"]:
                raise SfRequestError(400, "INVALID_ID_FIELD", f"cannot merge record {winner['Id']} with itself")
            self._put(obj.name, loser["Id"], dict(loser, IsDeleted=True, MasterRecordId=winner["Id"],
                                                  LastModifiedDate=stamp, SystemModstamp=stamp))
            for child in list(self.records["Contact"].values()):
                if child.get("AccountId") == loser["Id"]:
                    self._put("Contact", child["Id"], dict(child, AccountId=winner["Id"], LastModifiedDate=stamp,
                                                           SystemModstamp=stamp))
                    reparented += 1
            merged.append(loser["Id"])
        self._put(obj.name, winner["Id"], dict(winner, LastModifiedDate=stamp, SystemModstamp=stamp))
        return {"winner": winner["Id"], "merged": merged, "reparented_contacts": reparented}

    # -- transactions -------------------------------------------------------------------------------------------
    def run_batch(self, operations: list[Callable[[str], tuple[str, bool | None]]], *, all_or_none: bool,
                  stamp: str | None = None) -> list[WriteOutcome]:
        """Apply one call's per-record operations in order as one transaction (all-or-none rolls back)."""
        stamp = stamp or self.next_stamp()
        journal: list = []
        self._journal = journal
        outcomes: list[WriteOutcome] = []
        try:
            for operation in operations:
                try:
                    record_id, created = operation(stamp)
                    outcomes.append(WriteOutcome(record_id, True, [], created))
                except RecordError as exc:
                    outcomes.append(WriteOutcome(None, False, [exc]))
        finally:
            self._journal = None
        if all_or_none and any(not o.success for o in outcomes):
            self._rollback(journal)
            return [o if not o.success else WriteOutcome(o.id if not o.created else None, False, [ROLLED_BACK],
                                                         o.created)
                    for o in outcomes]
        return outcomes

    def set_modstamp(self, object_name: str, ids: list[str], stamp: str, last_modified: str | None) -> int:
        obj = self.object(object_name)
        if obj is None:
            raise SfRequestError(400, "INVALID_TYPE", f"sObject type '{object_name}' is not supported.")
        changed = 0
        for record_id in ids:
            full = normalise_id(record_id, obj.key_prefix)
            record = self.records[obj.name].get(full) if full else None
            if record is None:
                raise SfRequestError(404, "NOT_FOUND", f"no {obj.name} record with id {record_id!r}")
            record["SystemModstamp"] = stamp
            if last_modified:
                record["LastModifiedDate"] = last_modified
            changed += 1
        return changed
