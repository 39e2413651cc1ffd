"""Property definitions and groups per object type, and value validation as HubSpot's Properties API documents it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sandbox.hubspot.clock import iso_ms, now_ms, parse_datetime_ms
from sandbox.hubspot.errors import HubSpotError, PropertyProblem, not_found, validation_error

TYPES_FIELD_TYPES = {
    "string": {"text", "textarea", "phonenumber", "html", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "bool": {"booleancheckbox"},
}
MULTI_SELECT = "checkbox"
DAY_MS = 86_400_000


@dataclass
class Option:
    label: str
    value: str
    display_order: int = 0
    hidden: bool = False
    description: str = ""

    def as_json(self) -> dict:
        return {"label": self.label, "value": self.value, "displayOrder": self.display_order,
                "hidden": self.hidden, "description": self.description}


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[Option] = field(default_factory=list)
    has_unique_value: bool = False
    read_only_value: bool = False
    hubspot_defined: bool = True
    display_order: int = -1
    created_ms: int = 0
    updated_ms: int = 0

    def option_values(self) -> set[str]:
        return {o.value for o in self.options}

    def as_json(self) -> dict:
        body = {
            "name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
            "groupName": self.group_name, "description": self.description,
            "options": [o.as_json() for o in self.options], "displayOrder": self.display_order,
            "hasUniqueValue": self.has_unique_value, "hidden": False, "formField": not self.read_only_value,
            "calculated": False, "externalOptions": False, "archived": False,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only_value},
            "createdAt": iso_ms(self.created_ms), "updatedAt": iso_ms(self.updated_ms),
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        return body


@dataclass
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def as_json(self) -> dict:
        return {"name": self.name, "label": self.label, "displayOrder": self.display_order, "archived": False}


def _options(pairs: list[tuple[str, str]]) -> list[Option]:
    return [Option(label=label, value=value, display_order=i) for i, (value, label) in enumerate(pairs)]


LIFECYCLE = _options([("subscriber", "Subscriber"), ("lead", "Lead"),
                      ("marketingqualifiedlead", "Marketing Qualified Lead"),
                      ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
                      ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other")])
COMPANY_TYPES = _options([("PROSPECT", "Prospect"), ("PARTNER", "Partner"), ("RESELLER", "Reseller"),
                          ("VENDOR", "Vendor"), ("OTHER", "Other")])
INDUSTRIES = _options([("ACCOUNTING", "Accounting"), ("COMPUTER_SOFTWARE", "Computer Software"),
                       ("FINANCIAL_SERVICES", "Financial Services"),
                       ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"), ("E_LEARNING", "E-Learning"),
                       ("COMPUTER_NETWORK_SECURITY", "Computer & Network Security")])


def default_groups(object_type: str) -> list[PropertyGroup]:
    info = "companyinformation" if object_type == "companies" else "contactinformation"
    label = "Company information" if object_type == "companies" else "Contact information"
    groups = [PropertyGroup(info, label, 0)]
    if object_type == "companies":
        groups.append(PropertyGroup("segsync", "segsync", 1))
    return groups


def default_properties(object_type: str) -> list[PropertyDef]:
    """The HubSpot-defined properties this sandbox knows, plus the `segsync` group's product_account_id."""
    if object_type == "companies":
        group = "companyinformation"
        defs = [
            PropertyDef("name", "Name", "string", "text", group),
            PropertyDef("domain", "Company Domain Name", "string", "text", group),
            PropertyDef("industry", "Industry", "enumeration", "select", group, options=list(INDUSTRIES)),
            PropertyDef("country", "Country/Region", "string", "text", group),
            PropertyDef("city", "City", "string", "text", group),
            PropertyDef("type", "Type", "enumeration", "select", group, options=list(COMPANY_TYPES)),
            PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", group, options=list(LIFECYCLE)),
            PropertyDef("numberofemployees", "Number of Employees", "number", "number", group),
            PropertyDef("annualrevenue", "Annual Revenue", "number", "number", group),
            PropertyDef("createdate", "Create Date", "datetime", "date", group),
            PropertyDef("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", group,
                        read_only_value=True),
            PropertyDef("product_account_id", "Product account id", "string", "text", "segsync",
                        description="The product database's account id (written by segsync).",
                        has_unique_value=True, hubspot_defined=False),
        ]
    else:
        group = "contactinformation"
        defs = [
            PropertyDef("email", "Email", "string", "text", group, has_unique_value=True),
            PropertyDef("firstname", "First Name", "string", "text", group),
            PropertyDef("lastname", "Last Name", "string", "text", group),
            PropertyDef("jobtitle", "Job Title", "string", "text", group),
            PropertyDef("phone", "Phone Number", "string", "text", group),
            PropertyDef("company", "Company Name", "string", "text", group),
            PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", group, options=list(LIFECYCLE)),
            PropertyDef("createdate", "Create Date", "datetime", "date", group),
            PropertyDef("lastmodifieddate", "Last Modified Date", "datetime", "date", group,
                        read_only_value=True),
        ]
    defs += [
        PropertyDef("hs_object_id", "Record ID", "number", "number", group, read_only_value=True),
        PropertyDef("hs_merged_object_ids", "Merged Record IDs", "enumeration", "checkbox", group,
                    read_only_value=True),
    ]
    stamp = now_ms()
    for order, prop in enumerate(defs):
        prop.display_order = order
        prop.created_ms = prop.updated_ms = stamp
    return defs


class PropertyRegistry:
    """Properties and groups of one object type."""

    def __init__(self, object_type: str):
        self.object_type = object_type
        self.props: dict[str, PropertyDef] = {p.name: p for p in default_properties(object_type)}
        self.groups: dict[str, PropertyGroup] = {g.name: g for g in default_groups(object_type)}

    def get(self, name: str) -> PropertyDef:
        prop = self.props.get(name)
        if prop is None:
            raise not_found(f"Unable to find property {name} for object type {self.object_type}",
                            context={"propertyName": [name]})
        return prop

    def unique_names(self) -> list[str]:
        return [p.name for p in self.props.values() if p.has_unique_value]

    def create_group(self, body: dict) -> PropertyGroup:
        name, label = body.get("name"), body.get("label")
        if not isinstance(name, str) or not name or not isinstance(label, str) or not label:
            raise validation_error("Property group needs a non-empty `name` and `label`.")
        if name in self.groups:
            raise HubSpotError(409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        group = PropertyGroup(name, label, int(body.get("displayOrder", -1)))
        self.groups[name] = group
        return group

    def create(self, body: dict) -> PropertyDef:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise validation_error(f"Property is missing required field(s): {', '.join(missing)}.",
                                   context={"missing": missing})
        name = body["name"]
        if name in self.props:
            raise HubSpotError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                               context={"name": [name]})
        if not name.replace("_", "").isalnum() or name != name.lower():
            raise validation_error(f"Property name '{name}' must be lowercase letters, digits and underscores.")
        kind, field_type = body["type"], body["fieldType"]
        if kind not in TYPES_FIELD_TYPES:
            raise validation_error(f"Property type '{kind}' is not one of {sorted(TYPES_FIELD_TYPES)}.")
        if field_type not in TYPES_FIELD_TYPES[kind]:
            raise validation_error(f"fieldType '{field_type}' is not valid for type '{kind}'; expected one of "
                                   f"{sorted(TYPES_FIELD_TYPES[kind])}.")
        if body["groupName"] not in self.groups:
            raise validation_error(f"Property group '{body['groupName']}' does not exist.")
        options = self._parse_options(kind, body.get("options"))
        stamp = now_ms()
        prop = PropertyDef(name, body["label"], kind, field_type, body["groupName"],
                           description=body.get("description") or "", options=options,
                           has_unique_value=bool(body.get("hasUniqueValue", False)), hubspot_defined=False,
                           display_order=int(body.get("displayOrder", -1)), created_ms=stamp, updated_ms=stamp)
        self.props[name] = prop
        return prop

    def update(self, name: str, body: dict) -> PropertyDef:
        prop = self.get(name)
        if "type" in body and body["type"] != prop.type:
            raise validation_error(f"Property type of '{name}' cannot change from {prop.type} to {body['type']}.")
        if "label" in body:
            prop.label = body["label"]
        if "description" in body:
            prop.description = body["description"] or ""
        if "groupName" in body:
            if body["groupName"] not in self.groups:
                raise validation_error(f"Property group '{body['groupName']}' does not exist.")
            prop.group_name = body["groupName"]
        if "options" in body:
            prop.options = self._parse_options(prop.type, body["options"])
        prop.updated_ms = now_ms()
        return prop

    @staticmethod
    def _parse_options(kind: str, raw) -> list[Option]:
        if kind != "enumeration":
            return []
        if not isinstance(raw, list) or not raw:
            raise validation_error("Enumeration properties need a non-empty `options` list of {label, value}.")
        options, seen = [], set()
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not item.get("label") or item.get("value") in (None, ""):
                raise validation_error(f"options[{i}] needs a `label` and a `value`.")
            value = str(item["value"])
            if value in seen:
                raise validation_error(f"options[{i}]: duplicate option value '{value}'.")
            seen.add(value)
            options.append(Option(item["label"], value, int(item.get("displayOrder", i)),
                                  bool(item.get("hidden", False)), item.get("description") or ""))
        return options


def _number_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def coerce_value(prop: PropertyDef, value: object) -> str | None:
    """The stored (string) form of a written value, or PropertyProblem as HubSpot would report it."""
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise PropertyProblem(prop.name, "INVALID_PROPERTY_VALUE",
                              f"Property \"{prop.name}\" takes a single value, not {type(value).__name__}.")
    if prop.type == "string":
        return str(value).lower() if prop.name == "email" else str(value)
    if prop.type == "number":
        text = _number_text(value)
        if text is None:
            raise PropertyProblem(prop.name, "INVALID_NUMBER", f"{value!s} was not a valid number.")
        return text
    if prop.type == "bool":
        text = str(value).lower()
        if text not in ("true", "false"):
            raise PropertyProblem(prop.name, "INVALID_BOOLEAN", f"{value!s} was not a valid boolean (true/false).")
        return text
    if prop.type == "date":
        return _coerce_date(prop, value)
    if prop.type == "datetime":
        ms = parse_datetime_ms(value)
        if ms is None:
            raise PropertyProblem(prop.name, "INVALID_DATETIME",
                                  f"{value!s} was not a valid datetime (epoch milliseconds or ISO 8601).")
        return iso_ms(ms)
    return _coerce_enumeration(prop, value)


def _coerce_date(prop: PropertyDef, value: object) -> str:
    ms = parse_datetime_ms(value)
    if ms is None:
        raise PropertyProblem(prop.name, "INVALID_DATE",
                              f"{value!s} was not a valid date (midnight UTC epoch milliseconds or YYYY-MM-DD).")
    if ms % DAY_MS:
        at = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        raise PropertyProblem(prop.name, "INVALID_DATE",
                              f"{value!s} is at {at:%H:%M:%S}.{ms % 1000:03d} UTC, not midnight!")
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _coerce_enumeration(prop: PropertyDef, value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    allowed = prop.option_values()
    if prop.name == "hs_merged_object_ids":
        return text
    parts = [p for p in text.split(";") if p != ""] if prop.field_type == MULTI_SELECT else [text]
    bad = [p for p in parts if p not in allowed]
    if bad:
        raise PropertyProblem(prop.name, "INVALID_OPTION",
                              f"{bad[0]} was not one of the allowed options: "
                              f"[{', '.join(o.value for o in prop.options)}]")
    return ";".join(parts)
