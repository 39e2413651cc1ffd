"""Salesforce source: Accounts and Contacts via queryAll on a compound (SystemModstamp, Id) cursor; Bulk 2.0 when large."""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb

from segsync.errors import FatalError, InputError, Problem, RemoteError, RetryableError
from segsync.redact import redact
from segsync.retry import call_with_retry, classify, error_for
from sources.common import BatchWriter, Cursor, RawTable, coerce, format_timestamp, parse_timestamp, read_cursor
from sources.schemas import SALESFORCE_ACCOUNT, SALESFORCE_CONTACT

SOURCE = "salesforce"
DEFAULT_OVERLAP_SECONDS = 300
DEFAULT_BULK_THRESHOLD = 50_000
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# SOQL field -> raw column, per object (the Account external-id field is added from config).
ACCOUNT_FIELDS = {
    "Id": "id", "Name": "name", "Website": "website", "Industry": "industry", "BillingCountry": "billing_country",
    "AccountSource": "account_source", "NumberOfEmployees": "number_of_employees", "Type": "account_type",
    "OwnerId": "owner_id", "IsDeleted": "is_deleted", "MasterRecordId": "master_record_id",
    "CreatedDate": "created_date", "SystemModstamp": "system_modstamp",
}
CONTACT_FIELDS = {
    "Id": "id", "AccountId": "account_id", "Email": "email", "FirstName": "first_name", "LastName": "last_name",
    "Title": "title", "IsDeleted": "is_deleted", "MasterRecordId": "master_record_id", "CreatedDate": "created_date",
    "SystemModstamp": "system_modstamp",
}


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject pulled into one raw table: SOQL field -> column, plus config-requested extra fields."""

    name: str
    table: RawTable
    fields: dict[str, str]
    extra: tuple[str, ...] = ()

    def select_list(self) -> list[str]:
        return [*self.fields, *self.extra]


def soql_string(value: str) -> str:
    """A SOQL string literal with backslashes, quotes and control characters escaped (never formatted raw)."""
    escaped = (str(value).replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return f"'{escaped}'"


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal in UTC with milliseconds (dateTime literals are unquoted)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _field_name(value: Any, path: str, problems: list[Problem]) -> str | None:
    if not isinstance(value, str) or not _FIELD.match(value):
        problems.append(Problem("segsync.yaml", "not a Salesforce field API name", path=path, value=value,
                                expected="letters, digits and underscores, e.g. Product_Account_Id__c"))
        return None
    return value


def object_specs(section: Mapping[str, Any]) -> list[ObjectSpec]:
    """Account and Contact specs from `sources.salesforce` (external id field, extra fields)."""
    problems: list[Problem] = []
    external = _field_name(section.get("account_external_id", "Product_Account_Id__c"),
                           "sources.salesforce.account_external_id", problems)
    extras = {}
    for obj in ("account", "contact"):
        names = section.get(f"{obj}_fields") or []
        extras[obj] = tuple(n for i, n in enumerate(names)
                            if _field_name(n, f"sources.salesforce.{obj}_fields[{i}]", problems))
    if problems:
        raise InputError(problems)
    account_fields = {**ACCOUNT_FIELDS, external: "product_account_id"}
    return [ObjectSpec("Account", SALESFORCE_ACCOUNT, account_fields, tuple(f for f in extras["account"]
                                                                             if f not in account_fields)),
            ObjectSpec("Contact", SALESFORCE_CONTACT, CONTACT_FIELDS, tuple(f for f in extras["contact"]
                                                                            if f not in CONTACT_FIELDS))]


def build_soql(spec: ObjectSpec, *, since: datetime | None, cap: datetime) -> str:
    """The extraction query: modstamp window [since, cap] (since omitted on full loads), ordered by the cursor."""
    where = [f"SystemModstamp <= {soql_datetime(cap)}"]
    if since is not None:
        where.insert(0, f"SystemModstamp >= {soql_datetime(since)}")
    return (f"SELECT {', '.join(spec.select_list())} FROM {spec.name} WHERE {' AND '.join(where)} "
            f"ORDER BY SystemModstamp ASC, Id ASC")


def to_row(spec: ObjectSpec, record: Mapping[str, Any]) -> dict:
    """One API record (JSON or Bulk CSV strings) as a typed raw row."""
    lowered = {k.lower(): v for k, v in record.items() if k != "attributes"}
    row = {column: coerce(lowered.get(field.lower()), spec.table.columns[column])
           for field, column in spec.fields.items()}
    if spec.extra:
        row["extra"] = json.dumps({f: lowered.get(f.lower()) for f in spec.extra}, sort_keys=True, default=str)
    return row


def _sf_error(exc: Exception) -> RemoteError:
    """A simple-salesforce exception as the error hierarchy, classified by the shared status table."""
    status = getattr(exc, "status", None)
    content = getattr(exc, "content", None)
    code = None
    if isinstance(content, list) and content and isinstance(content[0], dict):
        code = content[0].get("errorCode")
    if code == "REQUEST_LIMIT_EXCEEDED":
        from segsync.errors import QuotaExhausted

        return QuotaExhausted(redact(f"Salesforce daily API allowance spent: {content}"), status=status, code=code)
    action = classify(status, code)
    return error_for(action, redact(f"Salesforce {status} {code or ''}: {str(content)[:300]}"), status=status,
                     code=code)


class Client:
    """Calls through simple-salesforce with the shared retry policy, counting requests."""

    def __init__(self, sf) -> None:
        self.sf = sf
        self.requests = 0

    def call(self, fn: Callable[[], Any]) -> Any:
        from simple_salesforce.exceptions import SalesforceError

        import requests

        def attempt():
            self.requests += 1
            try:
                return fn()
            except SalesforceError as exc:
                raise _sf_error(exc) from None
            except requests.exceptions.RequestException as exc:
                raise RetryableError(f"Salesforce unreachable: {redact(str(exc))[:300]}") from None

        return call_with_retry(attempt)


def _pages(client: Client, soql: str, page_size: int | None) -> Iterator[tuple[int, list[dict]]]:
    """queryAll pages (deleted and merged records included): (totalSize, records) per page, to the last one."""
    headers = {"Sforce-Query-Options": f"batchSize={page_size}"} if page_size else {}
    page = client.call(lambda: client.sf.query(soql, include_deleted=True, headers=headers))
    yield page["totalSize"], page["records"]
    while not page.get("done", True):
        url = page["nextRecordsUrl"]
        page = client.call(lambda: client.sf.query_more(url, identifier_is_url=True, include_deleted=True,
                                                        headers=headers))
        yield page["totalSize"], page["records"]


def _bulk_pages(client: Client, spec: ObjectSpec, soql: str, page_rows: int) -> Iterator[list[dict]]:
    """Bulk API 2.0 queryAll results as lists of CSV records."""
    bulk = getattr(client.sf.bulk2, spec.name)
    client.requests += 1
    for chunk in bulk.query_all(soql, max_records=page_rows, wait=0.2):
        client.requests += 1
        yield list(csv.DictReader(io.StringIO(chunk)))


def extract_object(con: duckdb.DuckDBPyConnection, client: Client, spec: ObjectSpec, *, run_id: str, full: bool,
                   cap: datetime, overlap: timedelta, bulk_threshold: int,
                   page_size: int | None = None) -> tuple[int, Cursor | None]:
    """Pull one object into its raw table, committing each page with the cursor it reaches."""
    writer = BatchWriter(con, spec.table, SOURCE, run_id)
    previous = None if full else read_cursor(con, SOURCE, spec.name)
    since = parse_timestamp(previous.value) - overlap if previous and previous.value else None
    soql = build_soql(spec, since=since, cap=cap)
    reached = previous
    fetched = 0
    total = None
    for total_size, records in _pages(client, soql, page_size):
        total = total_size
        if since is None and total_size > bulk_threshold and fetched == 0:
            return _bulk_extract(con, client, spec, writer, soql, total_size, previous)
        fetched += len(records)
        if records:
            last = records[-1]
            reached = _later(reached, Cursor(format_timestamp(parse_timestamp(last["SystemModstamp"])), last["Id"]))
        writer.write([to_row(spec, r) for r in records], cursor=reached, cursor_object=spec.name)
    if total is not None and fetched != total:
        raise FatalError(f"Salesforce {spec.name}: read {fetched} records but the query reported totalSize {total}")
    return writer.written, reached


def _later(current: Cursor | None, candidate: Cursor) -> Cursor:
    if current is None or current.value is None:
        return candidate
    return max(current, candidate, key=lambda c: (c.value, c.id or ""))


def _bulk_extract(con, client: Client, spec: ObjectSpec, writer: BatchWriter, soql: str, total: int,
                  previous: Cursor | None) -> tuple[int, Cursor | None]:
    """A large full load through Bulk API 2.0 (CSV pages), each page committed with its cursor."""
    fetched = 0
    reached = previous
    for records in _bulk_pages(client, spec, soql, 50_000):
        fetched += len(records)
        if records:
            last = max(records, key=lambda r: (parse_timestamp(r["SystemModstamp"]), r["Id"]))
            reached = _later(reached, Cursor(format_timestamp(parse_timestamp(last["SystemModstamp"])), last["Id"]))
        writer.write([to_row(spec, r) for r in records])  # result pages need not follow ORDER BY
    if fetched != total:
        raise FatalError(f"Salesforce {spec.name}: Bulk API returned {fetched} records but the query reported "
                         f"totalSize {total}")
    if reached is not None:
        writer.write([], cursor=reached, cursor_object=spec.name)  # the cursor moves once every page is in
    return writer.written, reached


def run(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], env: Mapping[str, str], *, run_id: str,
        full: bool = False, client_factory: Callable[[Mapping[str, str]], Any] | None = None):
    """Ingest entry point: Accounts then Contacts; incremental from the stored cursors unless `full`."""
    from segsync.clients.salesforce import make_salesforce
    from sources import IngestResult

    specs = object_specs(section)
    client = Client((client_factory or make_salesforce)(env))
    started = datetime.now(timezone.utc)
    cap = started.replace(microsecond=started.microsecond // 1000 * 1000)  # SOQL datetimes carry milliseconds
    overlap = timedelta(seconds=float(section.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)))
    threshold = int(section.get("bulk_threshold", DEFAULT_BULK_THRESHOLD))
    page_size = int(section["page_size"]) if section.get("page_size") else None  # 200..2000 (Sforce-Query-Options)
    result = IngestResult(SOURCE, run_id=run_id)
    cursors = []
    for spec in specs:
        written, reached = extract_object(con, client, spec, run_id=run_id, full=full, cap=cap, overlap=overlap,
                                          bulk_threshold=threshold, page_size=page_size)
        result.tables[spec.table.name] = written
        cursors.append(f"{spec.name}={reached.value if reached else None}")
    result.requests = client.requests
    result.cursor = "; ".join(cursors)
    return result
