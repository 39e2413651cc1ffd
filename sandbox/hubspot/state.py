"""The emulator's whole state: records per object type, properties, company-contact associations, lists."""
from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.hubspot.clock import now_ms
from sandbox.hubspot.properties import PropertyRegistry
from sandbox.hubspot.records import OBJECT_TYPES, ObjectStore
from sandbox.hubspot.search import SearchCache

# v4 association type ids
# (developers.hubspot.com/docs/guides/api/crm/associations/associations-v4#association-type-id-values)
PRIMARY_TYPE = {("companies", "contacts"): 2, ("contacts", "companies"): 1}
UNLABELED_TYPE = {("companies", "contacts"): 280, ("contacts", "companies"): 279}
V3_TYPE_NAME = {("companies", "contacts"): "company_to_contact", ("contacts", "companies"): "contact_to_company"}


class Associations:
    """Company <-> contact pairs, with the contact's primary company."""

    def __init__(self) -> None:
        self.by_company: dict[str, set[str]] = {}
        self.by_contact: dict[str, set[str]] = {}
        self.primary_company: dict[str, str] = {}

    def add(self, company_id: str, contact_id: str, *, primary: bool = False) -> None:
        self.by_company.setdefault(company_id, set()).add(contact_id)
        self.by_contact.setdefault(contact_id, set()).add(company_id)
        if primary or contact_id not in self.primary_company:
            self.primary_company[contact_id] = company_id

    def remove(self, company_id: str, contact_id: str) -> None:
        self.by_company.get(company_id, set()).discard(contact_id)
        self.by_contact.get(contact_id, set()).discard(company_id)
        if self.primary_company.get(contact_id) == company_id:
            del self.primary_company[contact_id]

    def targets(self, from_type: str, from_id: str) -> list[str]:
        index = self.by_company if from_type == "companies" else self.by_contact
        return sorted(index.get(from_id, ()), key=int)

    def is_primary(self, from_type: str, from_id: str, to_id: str) -> bool:
        if from_type == "companies":
            return self.primary_company.get(to_id) == from_id
        return self.primary_company.get(from_id) == to_id

    def v4_types(self, from_type: str, from_id: str, to_id: str) -> list[dict]:
        to_type = "contacts" if from_type == "companies" else "companies"
        types = []
        if self.is_primary(from_type, from_id, to_id):
            types.append({"category": "HUBSPOT_DEFINED", "typeId": PRIMARY_TYPE[(from_type, to_type)],
                          "label": "Primary"})
        types.append({"category": "HUBSPOT_DEFINED", "typeId": UNLABELED_TYPE[(from_type, to_type)], "label": None})
        return types

    def move(self, object_type: str, from_id: str, to_id: str) -> None:
        """A merge: the merged record's associations move to the survivor."""
        if object_type == "companies":
            for contact in list(self.by_company.get(from_id, ())):
                was_primary = self.primary_company.get(contact) == from_id
                self.remove(from_id, contact)
                self.add(to_id, contact, primary=was_primary)
        else:
            for company in list(self.by_contact.get(from_id, ())):
                was_primary = self.primary_company.get(from_id) == company
                self.remove(company, from_id)
                self.add(company, to_id, primary=was_primary)

    def count(self) -> int:
        return sum(len(v) for v in self.by_company.values())


@dataclass
class HubList:
    list_id: str
    name: str
    object_type_id: str
    processing_type: str
    filter_branch: dict | None
    created_ms: int
    updated_ms: int
    version: int = 1
    members: dict[str, int] = field(default_factory=dict)  # record id -> membership timestamp (ms)
    deleted_ms: int | None = None
    _sorted: list[str] | None = None

    def sorted_members(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.members, key=int)
        return self._sorted

    def touch(self) -> None:
        self._sorted = None
        self.updated_ms = now_ms()


class HubSpotState:
    def __init__(self) -> None:
        self.registries = {t: PropertyRegistry(t) for t in OBJECT_TYPES}
        self.stores = {t: ObjectStore(t, self.registries[t]) for t in OBJECT_TYPES}
        self.associations = Associations()
        self.lists: dict[str, HubList] = {}
        self.next_list_id = 1
        self.search_cache = SearchCache()

    def list_by_name(self, name: str) -> HubList | None:
        lowered = name.lower()
        for item in self.lists.values():
            if item.deleted_ms is None and item.name.lower() == lowered:
                return item
        return None

    def summary(self) -> dict:
        return {
            "objects": {t: {"active": sum(1 for r in s.records.values() if not r.archived),
                            "archived": sum(1 for r in s.records.values() if r.archived),
                            "merged_ids": len(s.merged_into)} for t, s in self.stores.items()},
            "associations": self.associations.count(),
            "custom_properties": {t: sorted(n for n, p in r.props.items() if not p.hubspot_defined)
                                  for t, r in self.registries.items()},
            "lists": [{"listId": x.list_id, "name": x.name, "objectTypeId": x.object_type_id,
                       "processingType": x.processing_type, "size": len(x.members),
                       "deleted": x.deleted_ms is not None} for x in self.lists.values()],
        }
