"""HubSpot source: companies, contacts and their associations, typed from the properties API; time-sliced search."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb

from segsync.errors import FatalError, RemoteError, RetryableError
from segsync.redact import redact
from segsync.retry import call_with_retry, classify, error_for
from sources.common import (BatchWriter, Cursor, coerce, format_timestamp, parse_date, parse_timestamp,
                            read_cursor)
from sources.schemas import HUBSPOT_COMPANY, HUBSPOT_COMPANY_CONTACT, HUBSPOT_CONTACT

SOURCE = "hubspot"
LIST_LIMIT = 100  # list endpoint maximum
SEARCH_LIMIT = 200  # search endpoint maximum
SEARCH_CAP = 10_000  # search never pages past this many results of one query
ASSOCIATION_BATCH = 1000  # v4 associations batch read maximum
DEFAULT_OVERLAP_SECONDS = 300


@dataclass(frozen=True)
class ObjectSpec:
    """One HubSpot object: raw table, modification property, property -> raw column, association to read."""

    object_type: str
    modified: str
    columns: dict[str, str]  # HubSpot property -> raw column (typed columns of the raw table)
    extra: tuple[str, ...]  # further properties kept, typed, in the `properties` JSON column

    @property
    def table(self):
        return HUBSPOT_COMPANY if self.object_type == "companies" else HUBSPOT_CONTACT

    def properties(self) -> list[str]:
        return sorted({*self.columns, *self.extra, self.modified, "createdate", "hs_merged_object_ids"})


def object_specs(section: Mapping[str, Any]) -> list[ObjectSpec]:
    account_property = str(section.get("account_id_property") or "product_account_id")
    salesforce_property = str(section.get("salesforce_id_property") or "salesforce_account_id")
    companies = ObjectSpec("companies", "hs_lastmodifieddate", {
        "name": "name", "domain": "domain", "industry": "industry", "country": "country",
        account_property: "product_account_id", salesforce_property: "salesforce_account_id",
        "numberofemployees": "numberofemployees", "annualrevenue": "annualrevenue", "lifecyclestage": "lifecyclestage",
    }, tuple(section.get("company_properties") or ()))
    contacts = ObjectSpec("contacts", "lastmodifieddate", {
        "email": "email", "firstname": "first_name", "lastname": "last_name", "jobtitle": "job_title",
    }, tuple(section.get("contact_properties") or ()))
    return [companies, contacts]


def typed_value(value: Any, definition: Mapping[str, Any] | None) -> Any:
    """A HubSpot property value (always sent as text) typed by its definition from the properties API."""
    if value is None or value == "":
        return None
    kind = (definition or {}).get("type", "string")
    field_type = (definition or {}).get("fieldType") or (definition or {}).get("field_type")
    if kind == "number":
        number = float(value)
        return int(number) if number.is_integer() and "." not in str(value) else number
    if kind in ("bool", "boolean"):
        return coerce(value, "BOOLEAN")
    if kind == "datetime":
        return parse_timestamp(value)
    if kind == "date":
        return parse_date(value)
    if kind == "enumeration" and field_type == "checkbox":
        return coerce(value, "VARCHAR[]")
    return str(value)


def _json_ready(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def to_row(spec: ObjectSpec, record: Mapping[str, Any], definitions: Mapping[str, Mapping]) -> dict:
    """One API record as a typed raw row (columns by declared type; extras typed into `properties`)."""
    props = record.get("properties") or {}
    declared = spec.table.columns
    row = {"id": str(record["id"]), "archived": bool(record.get("archived")),
           "archived_at": parse_timestamp(record.get("archivedAt")),
           "created_at": parse_timestamp(props.get("createdate") or record.get("createdAt")),
           "updated_at": parse_timestamp(props.get(spec.modified) or record.get("updatedAt")),
           "merged_object_ids": coerce(props.get("hs_merged_object_ids"), "VARCHAR[]")}
    for prop, column in spec.columns.items():
        value = typed_value(props.get(prop), definitions.get(prop))
        row[column] = ";".join(value) if isinstance(value, list) else coerce(value, declared[column])
    row["properties"] = json.dumps({p: _json_ready(typed_value(props.get(p), definitions.get(p))) for p in spec.extra},
                                   sort_keys=True)
    return row


def _hubspot_error(exc: Exception) -> RemoteError:
    status = getattr(exc, "status", None)
    headers = getattr(exc, "headers", None) or {}
    body = getattr(exc, "body", None)
    code = None
    try:
        parsed = json.loads(body) if body else {}
        code = parsed.get("category") or parsed.get("errorType")
    except (TypeError, ValueError):
        parsed = {}
    retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
    return error_for(classify(status or 503, None), redact(f"HubSpot {status} {code or ''}: {str(body)[:300]}"),
                     status=status, code=code, retry_after=float(retry_after) if retry_after else None)


def _is_api_exception(exc: Exception) -> bool:
    """The generated hubspot-api-client packages each define their own ApiException (and subclasses)."""
    return type(exc).__module__.startswith("hubspot.") and hasattr(exc, "status") and hasattr(exc, "body")


class Client:
    """hubspot-api-client calls (raw JSON via _preload_content=False) with the shared retry policy."""

    def __init__(self, hubspot_client) -> None:
        self.hs = hubspot_client
        self.requests = 0

    def call(self, fn: Callable[[], Any]) -> dict:
        def attempt():
            self.requests += 1
            import urllib3

            try:
                response = fn()
            except urllib3.exceptions.HTTPError as exc:
                raise RetryableError(f"HubSpot unreachable: {redact(str(exc))[:300]}") from None
            except Exception as exc:
                if _is_api_exception(exc):
                    raise _hubspot_error(exc) from None
                raise
            return json.loads(response.data) if response.data else {}

        return call_with_retry(attempt)

    def api(self, object_type: str):
        return getattr(self.hs.crm, object_type)

    def properties(self, object_type: str) -> dict[str, dict]:
        body = self.call(lambda: self.hs.crm.properties.core_api.get_all(object_type=object_type,
                                                                          _preload_content=False))
        return {p["name"]: p for p in body.get("results", [])}

    def list_pages(self, spec: ObjectSpec, *, archived: bool, associations: list[str]) -> Iterator[list[dict]]:
        after = None
        while True:
            kwargs = {"limit": LIST_LIMIT, "properties": spec.properties(), "archived": archived,
                      "_preload_content": False}
            if associations:
                kwargs["associations"] = associations
            if after:
                kwargs["after"] = after
            body = self.call(lambda: self.api(spec.object_type).basic_api.get_page(**kwargs))
            yield body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def search(self, spec: ObjectSpec, lo_ms: int, hi_ms: int, after: int = 0, limit: int = SEARCH_LIMIT) -> dict:
        """One search page of records modified in [lo_ms, hi_ms], oldest first."""
        from hubspot.crm.objects import PublicObjectSearchRequest

        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [
                {"propertyName": spec.modified, "operator": "GTE", "value": str(lo_ms)},
                {"propertyName": spec.modified, "operator": "LTE", "value": str(hi_ms)}]}],
            sorts=[{"propertyName": spec.modified, "direction": "ASCENDING"}],
            properties=spec.properties(), limit=limit, after=str(after) if after else None)
        return self.call(lambda: self.api(spec.object_type).search_api.do_search(
            public_object_search_request=request, _preload_content=False))

    def associations(self, contact_ids: list[str]) -> dict[str, list[str]]:
        """contact id -> company ids (v4 batch read, at most 1,000 ids per call)."""
        from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

        out: dict[str, list[str]] = {}
        for start in range(0, len(contact_ids), ASSOCIATION_BATCH):
            chunk = contact_ids[start:start + ASSOCIATION_BATCH]
            body = self.call(lambda: self.hs.crm.associations.v4.batch_api.get_page(
                from_object_type="contacts", to_object_type="companies",
                batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[{"id": c} for c in chunk]), _preload_content=False))
            for result in body.get("results", []):
                source = str((result.get("from") or {}).get("id"))
                out[source] = [str(t.get("toObjectId") or t.get("id")) for t in result.get("to", [])]
        return out


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def search_window(client: Client, spec: ObjectSpec, lo_ms: int, hi_ms: int) -> Iterator[list[dict]]:
    """Every record modified in [lo_ms, hi_ms], oldest first: windows over the 10,000-result cap are halved."""
    first = client.search(spec, lo_ms, hi_ms)
    if first.get("total", 0) > SEARCH_CAP:
        if hi_ms <= lo_ms:
            raise FatalError(f"HubSpot {spec.object_type}: more than {SEARCH_CAP} records share the modification "
                             f"time {lo_ms} ms; the search API cannot return them all")
        middle = (lo_ms + hi_ms) // 2
        yield from search_window(client, spec, lo_ms, middle)
        yield from search_window(client, spec, middle + 1, hi_ms)
        return
    page = first
    while True:
        yield page.get("results", [])
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return
        page = client.search(spec, lo_ms, hi_ms, after=int(after))


def _contact_links(records: list[dict]) -> list[dict]:
    rows = []
    for record in records:
        companies = ((record.get("associations") or {}).get("companies") or {}).get("results") or []
        for position, company in enumerate(companies):
            rows.append({"company_id": str(company["id"]), "contact_id": str(record["id"]), "is_primary": position == 0})
    return rows


def extract(con: duckdb.DuckDBPyConnection, client: Client, spec: ObjectSpec, *, run_id: str, full: bool,
            cap: datetime, overlap: timedelta) -> tuple[dict[str, int], Cursor | None]:
    """Pull one object type (full: list endpoint; incremental: time-sliced search), each page with its cursor."""
    definitions = client.properties(spec.object_type)
    writer = BatchWriter(con, spec.table, SOURCE, run_id)
    links = BatchWriter(con, HUBSPOT_COMPANY_CONTACT, SOURCE, run_id, replace_on=("contact_id",)) \
        if spec.object_type == "contacts" else None
    previous = None if full else read_cursor(con, SOURCE, spec.object_type)
    reached = previous
    listing = previous is None or previous.value is None
    if listing:
        # list pages come in id order, not modification order: the cursor is committed only after the last page
        pages = client.list_pages(spec, archived=False, associations=["companies"] if links else [])
    else:
        since = parse_timestamp(previous.value) - overlap
        pages = search_window(client, spec, _ms(since), _ms(cap))
    for records in pages:
        rows = [to_row(spec, r, definitions) for r in records]
        if rows:
            newest = max(rows, key=lambda r: (r["updated_at"] or datetime.min.replace(tzinfo=timezone.utc), r["id"]))
            if newest["updated_at"] is not None and newest["updated_at"] <= cap:
                reached = _later(reached, Cursor(format_timestamp(newest["updated_at"]), newest["id"]))
        if links is not None:
            link_rows = _contact_links(records) if listing else [
                {"company_id": company, "contact_id": contact, "is_primary": i == 0}
                for contact, companies in client.associations([r["id"] for r in rows]).items()
                for i, company in enumerate(companies)]
            links.write(link_rows, replace_keys=[{"contact_id": r["id"]} for r in rows])
        if listing:
            writer.write(rows)
        else:
            writer.write(rows, cursor=reached, cursor_object=spec.object_type)
    if listing and reached is not None:
        writer.write([], cursor=reached, cursor_object=spec.object_type)
    for records in client.list_pages(spec, archived=True, associations=[]):
        writer.write([to_row(spec, r, definitions) for r in records])
    counts = {spec.table.name: writer.written}
    if links is not None:
        counts[HUBSPOT_COMPANY_CONTACT.name] = links.written
    return counts, reached


def _later(current: Cursor | None, candidate: Cursor) -> Cursor:
    if current is None or current.value is None:
        return candidate
    return max(current, candidate, key=lambda c: (c.value, c.id or ""))


def run(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], env: Mapping[str, str], *, run_id: str,
        full: bool = False, client_factory: Callable[[Mapping[str, str]], Any] | None = None):
    """Ingest entry point: companies then contacts (with associations)."""
    from segsync.clients.hubspot import make_hubspot
    from sources import IngestResult

    client = Client((client_factory or make_hubspot)(env))
    started = datetime.now(timezone.utc)
    cap = started.replace(microsecond=started.microsecond // 1000 * 1000)
    overlap = timedelta(seconds=float(section.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)))
    result = IngestResult(SOURCE, run_id=run_id)
    cursors = []
    for spec in object_specs(section):
        counts, reached = extract(con, client, spec, run_id=run_id, full=full, cap=cap, overlap=overlap)
        result.tables.update(counts)
        cursors.append(f"{spec.object_type}={reached.value if reached else None}")
    result.requests = client.requests
    result.cursor = "; ".join(cursors)
    return result
