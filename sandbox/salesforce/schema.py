"""Account and Contact metadata as Describe reports it, custom fields added in Setup, and write-value validation."""
from __future__ import annotations

import copy
import datetime as dt
import math
import re
from dataclasses import dataclass, field

from sandbox.salesforce.errors import RecordError, SfRequestError
from sandbox.salesforce.ids import normalise_id

STRING_TYPES = {"string", "textarea", "url", "email", "phone", "picklist", "multipicklist", "combobox"}
NUMBER_TYPES = {"double", "int", "currency", "percent"}
ID_TYPES = {"id", "reference"}
CUSTOM_FIELD_TYPES = {"boolean", "picklist", "multipicklist", "date", "datetime", "string", "double"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$")
_CUSTOM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c$")
DEFAULT_OWNER_ID = "0058c00000A1b2CAAR"


@dataclass(eq=False)
class FieldDef:
    """One field as Describe reports it (hashable by identity: the org holds one per field)."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    updateable: bool = True
    createable: bool = True
    unique: bool = False
    external_id: bool = False
    custom: bool = False
    picklist_values: list[str] = field(default_factory=list)
    restricted: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    default: object = None

    def describe(self) -> dict:
        soap = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
                "datetime": "xsd:dateTime", "double": "xsd:double", "int": "xsd:int"}.get(self.type, "xsd:string")
        return {
            "name": self.name, "label": self.label or self.name, "type": self.type, "soapType": soap,
            "length": self.length, "byteLength": self.length * 3, "digits": 9 if self.type == "int" else 0,
            "precision": self.precision, "scale": self.scale,
            "nillable": self.nillable, "updateable": self.updateable, "createable": self.createable,
            "unique": self.unique, "externalId": self.external_id, "idLookup": self.type == "id" or self.external_id,
            "custom": self.custom, "calculated": False, "caseSensitive": False,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.type == "boolean" or self.name in ("OwnerId", "IsDeleted", "CreatedDate"),
            "filterable": self.type != "textarea", "sortable": self.type != "multipicklist",
            "groupable": self.type not in ("double", "datetime", "multipicklist"),
            "restrictedPicklist": self.restricted if self.type in ("picklist", "multipicklist") else False,
            "picklistValues": [{"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                               for v in self.picklist_values],
            "referenceTo": list(self.reference_to), "relationshipName": self.relationship_name,
        }


@dataclass
class ObjectDef:
    """One sObject: key prefix and fields by name (canonical case), looked up case-insensitively."""

    name: str
    key_prefix: str
    label_plural: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    required_on_create: tuple[str, ...] = ()

    def field(self, name: str) -> FieldDef | None:
        found = self.fields.get(name)
        if found is None:
            found = self._lower().get(name.lower())
        return found

    def _lower(self) -> dict[str, FieldDef]:
        return {k.lower(): v for k, v in self.fields.items()}

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    def describe(self, version: str) -> dict:
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            "name": self.name, "label": self.name, "labelPlural": self.label_plural, "keyPrefix": self.key_prefix,
            "custom": False, "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "mergeable": True, "replicateable": True, "retrieveable": True, "searchable": True,
            "fields": [f.describe() for f in self.fields.values()],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


_INDUSTRIES = ["Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
               "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
               "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
               "Manufacturing", "Media", "Not For Profit", "Other", "Recreation", "Retail", "Shipping",
               "Technology", "Telecommunications", "Transportation", "Utilities"]
_SOURCES = ["Advertisement", "Employee Referral", "External Referral", "Partner", "Public Relations",
            "Seminar - Internal", "Seminar - Partner", "Trade Show", "Web", "Word of mouth", "Other"]
_TYPES = ["Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
          "Installation Partner", "Technology Partner", "Other"]


def _system_fields(object_name: str) -> list[FieldDef]:
    ro = dict(updateable=False, createable=False)
    return [
        FieldDef("CreatedDate", "datetime", "Created Date", nillable=False, **ro),
        FieldDef("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **ro),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", nillable=False, **ro),
        FieldDef("IsDeleted", "boolean", "Deleted", nillable=False, default=False, **ro),
        FieldDef("MasterRecordId", "reference", "Master Record ID", length=18, reference_to=[object_name],
                 relationship_name="MasterRecord", **ro),
    ]


def standard_objects() -> dict[str, ObjectDef]:
    """A fresh copy of the org's Account, Contact and (read-only) User metadata, before any admin customisation."""
    account = ObjectDef("Account", "001", "Accounts", required_on_create=("Name",))
    contact = ObjectDef("Contact", "003", "Contacts", required_on_create=("LastName",))
    account_fields = [
        FieldDef("Id", "id", "Account ID", length=18, nillable=False, updateable=False, createable=False),
        FieldDef("Name", "string", "Account Name", length=255, nillable=False),
        FieldDef("Industry", "picklist", "Industry", length=255, picklist_values=_INDUSTRIES),
        FieldDef("BillingCountry", "string", "Billing Country", length=80),
        FieldDef("Website", "url", "Website", length=255),
        FieldDef("AccountSource", "picklist", "Account Source", length=255, picklist_values=_SOURCES),
        FieldDef("NumberOfEmployees", "int", "Employees", length=0, precision=8),
        FieldDef("Type", "picklist", "Account Type", length=255, picklist_values=_TYPES),
        FieldDef("OwnerId", "reference", "Owner ID", length=18, nillable=False, reference_to=["User"],
                 relationship_name="Owner"),
        FieldDef("Product_Account_Id__c", "string", "Product Account Id", length=40, unique=True,
                 external_id=True, custom=True),
        *_system_fields("Account"),
    ]
    contact_fields = [
        FieldDef("Id", "id", "Contact ID", length=18, nillable=False, updateable=False, createable=False),
        FieldDef("AccountId", "reference", "Account ID", length=18, reference_to=["Account"],
                 relationship_name="Account"),
        FieldDef("FirstName", "string", "First Name", length=40),
        FieldDef("LastName", "string", "Last Name", length=80, nillable=False),
        FieldDef("Email", "email", "Email", length=80),
        FieldDef("Title", "string", "Title", length=128),
        FieldDef("OwnerId", "reference", "Owner ID", length=18, nillable=False, reference_to=["User"],
                 relationship_name="Owner"),
        *_system_fields("Contact"),
    ]
    account.fields = {f.name: f for f in account_fields}
    contact.fields = {f.name: f for f in contact_fields}
    user = ObjectDef("User", "005", "Users")
    ro = dict(updateable=False, createable=False)
    user.fields = {f.name: f for f in [
        FieldDef("Id", "id", "User ID", length=18, nillable=False, **ro),
        FieldDef("Name", "string", "Full Name", length=121, nillable=False, **ro),
        FieldDef("Email", "email", "Email", length=128, nillable=False, **ro),
        FieldDef("IsActive", "boolean", "Active", nillable=False, default=True, **ro),
        *[f for f in _system_fields("User") if f.name in ("CreatedDate", "LastModifiedDate", "SystemModstamp")],
    ]}
    return {"Account": account, "Contact": contact, "User": user}


def default_user(stamp: str) -> dict:
    """The integration user that owns every seeded record (so Owner.Name resolves)."""
    return {"Id": DEFAULT_OWNER_ID, "Name": "Segsync Integration", "Email": "integration@segsync.example.com",
            "IsActive": True, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp}


def add_custom_fields(obj: ObjectDef, specs: list[dict]) -> list[FieldDef]:
    """Create custom fields as an admin would in Setup (idempotent; picklist values are extended)."""
    added = []
    for spec in specs:
        name = str(spec.get("name", ""))
        ftype = str(spec.get("type", "")).lower()
        if not _CUSTOM_NAME.match(name):
            raise SfRequestError(400, "INVALID_FIELD", f"custom field name {name!r} must be an API name ending in __c")
        if ftype not in CUSTOM_FIELD_TYPES:
            raise SfRequestError(400, "INVALID_TYPE",
                                 f"field {name}: type {ftype!r} is not one of {sorted(CUSTOM_FIELD_TYPES)}")
        values = [str(v) for v in spec.get("picklistValues", [])]
        existing = obj.field(name)
        if existing is not None:
            if existing.type != ftype:
                raise SfRequestError(400, "FIELD_INTEGRITY_EXCEPTION",
                                     f"field {existing.name} already exists with type {existing.type}, not {ftype}")
            existing.picklist_values.extend(v for v in values if v not in existing.picklist_values)
            added.append(existing)
            continue
        length = {"string": int(spec.get("length", 255)), "picklist": 255, "multipicklist": 4099}.get(ftype, 0)
        created = FieldDef(name, ftype, spec.get("label") or name[:-3].replace("_", " "), length=length,
                           nillable=ftype != "boolean", custom=True, picklist_values=values,
                           restricted=bool(spec.get("restricted", True)) if ftype.endswith("picklist") else False,
                           unique=bool(spec.get("unique", False)), external_id=bool(spec.get("externalId", False)),
                           precision=18 if ftype == "double" else 0, scale=int(spec.get("scale", 2)) if ftype == "double" else 0,
                           default=False if ftype == "boolean" else None)
        obj.fields[name] = created
        added.append(created)
    return added


def copy_objects(objects: dict[str, ObjectDef]) -> dict[str, ObjectDef]:
    return copy.deepcopy(objects)


# -- values -------------------------------------------------------------------------------------------------

def format_datetime(moment: dt.datetime) -> str:
    """Salesforce's REST datetime text: 2026-12-03T13:45:00.000+0000 (UTC, milliseconds)."""
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO-8601 datetime with Z or an offset (or none: UTC), else None."""
    match = _DATETIME.match(text)
    if not match:
        return None
    day, hh, mm, ss, frac, zone = match.groups()
    try:
        micro = int(((frac or ".0")[1:] + "000000")[:6])
        base = dt.datetime.fromisoformat(f"{day}T{hh}:{mm}:{ss}").replace(microsecond=micro)
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (base - sign * offset).replace(tzinfo=dt.timezone.utc)
    return base.replace(tzinfo=dt.timezone.utc)


def canonical_datetime(text: str) -> str | None:
    parsed = parse_datetime(text)
    return format_datetime(parsed) if parsed else None


def valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _json_type_error(fdef: FieldDef, value: object) -> SfRequestError:
    kind = {bool: "VALUE_TRUE" if value is True else "VALUE_FALSE", str: "VALUE_STRING", int: "VALUE_NUMBER_INT",
            float: "VALUE_NUMBER_FLOAT", list: "START_ARRAY", dict: "START_OBJECT"}.get(type(value), "VALUE")
    target = {"boolean": "boolean", "double": "double", "int": "int", "date": "date", "datetime": "datetime"}.get(
        fdef.type, "String")
    return SfRequestError(400, "JSON_PARSER_ERROR",
                          f"Cannot deserialize instance of {target} from {kind} value {value} "
                          f"or request may be missing a required field (field {fdef.name})")


def from_json(fdef: FieldDef, value: object) -> object:
    """A JSON value for this field as stored; a wrong JSON type fails the whole request (JSON_PARSER_ERROR)."""
    if value is None:
        return None
    t = fdef.type
    if t == "boolean":
        if isinstance(value, bool):
            return value
        raise _json_type_error(fdef, value)
    if t in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _json_type_error(fdef, value)
        if t == "int":
            if float(value) != int(value):
                raise _json_type_error(fdef, value)
            return int(value)
        return float(value)
    if t in ("date", "datetime"):
        if not isinstance(value, str):
            raise _json_type_error(fdef, value)
        try:
            return _date_value(fdef, value)
        except RecordError:
            raise _json_type_error(fdef, value) from None
    if isinstance(value, (dict, list)):
        raise _json_type_error(fdef, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return text or None  # Salesforce stores an empty string as null


def from_csv(fdef: FieldDef, text: str) -> object:
    """A Bulk API CSV cell for this field as stored (`#N/A` is null); bad values are per-record errors."""
    if text == "#N/A":
        return None
    t = fdef.type
    if t == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _type_on_field(fdef, text)
    if t in NUMBER_TYPES:
        try:
            number = float(text)
        except ValueError:
            raise _type_on_field(fdef, text) from None
        if math.isnan(number) or math.isinf(number) or (t == "int" and number != int(number)):
            raise _type_on_field(fdef, text)
        return int(number) if t == "int" else number
    if t in ("date", "datetime"):
        return _date_value(fdef, text)
    return text


def _type_on_field(fdef: FieldDef, value: object) -> RecordError:
    return RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{fdef.label or fdef.name}: value not of required type: {value}",
                       [fdef.name])


def _date_value(fdef: FieldDef, text: str) -> str:
    if fdef.type == "date":
        if valid_date(text):
            return text
        raise _type_on_field(fdef, text)
    canonical = canonical_datetime(text)
    if canonical is None:
        raise _type_on_field(fdef, text)
    return canonical


def check_value(fdef: FieldDef, value: object) -> None:
    """Per-record rules Salesforce applies to a stored value: lengths, restricted picklists, emails, nulls."""
    if value is None:
        if not fdef.nillable and fdef.type != "boolean":
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{fdef.name}]", [fdef.name])
        return
    t = fdef.type
    if t in STRING_TYPES and fdef.length and len(value) > fdef.length:
        raise RecordError("STRING_TOO_LONG",
                          f"{fdef.label or fdef.name}: data value too large: {value} (max length={fdef.length})",
                          [fdef.name])
    if t == "picklist" and fdef.restricted and value not in fdef.picklist_values:
        raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                          f"{fdef.label or fdef.name}: bad value for restricted picklist field: {value}", [fdef.name])
    if t == "multipicklist" and fdef.restricted:
        for part in value.split(";"):
            if part not in fdef.picklist_values:
                raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  f"{fdef.label or fdef.name}: bad value for restricted picklist field: {part}",
                                  [fdef.name])
    if t == "email" and not _EMAIL.match(value):
        raise RecordError("INVALID_EMAIL_ADDRESS", f"{fdef.label or fdef.name}: invalid email address: {value}",
                          [fdef.name])
    if t == "reference" and normalise_id(value) is None:
        raise RecordError("MALFORMED_ID", f"{fdef.label or fdef.name}: id value of incorrect type: {value}",
                          [fdef.name])
