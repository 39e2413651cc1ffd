"""Salesforce destination: segment checkboxes, a multi-select, optional picklist and "entered at" dates on Accounts."""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import duckdb
import requests

from destinations.salesforce_fields import (
    FieldLayout,
    desired_relation,
    field_claims,
    field_layout,
    field_specs,
    layout_problems,
)
from destinations.salesforce_wire import (
    BULK_MAX_RECORDS,
    COLLECTION_MAX,
    as_result,
    bulk_results,
    bulk_rows,
    collection_results,
    request_error,
    rest_record,
)
from segsync.errors import FatalError, InputError, Problem, QuotaExhausted, RetryableError
from segsync.redact import redact
from segsync.retry import limiter_for
from segsync.sync.protocol import Change, Op, Result
from segsync.sync.targets import Ownership, TargetBase

DEFAULT_BULK_THRESHOLD = 2000  # Salesforce: more than 2,000 records is a Bulk API 2.0 job
DEFAULT_API_SHARE = 0.5  # share of the org's daily API allowance segsync may use
DEFAULT_CONCURRENCY = 4  # collections calls in flight (Salesforce caps concurrent long-running requests at 25)
DEFAULT_RATE = (25, 1.0)  # calls per second per credential (Salesforce limits concurrency, not rate)
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
OBSERVE_CHUNK = 500  # ids per observing query: keeps the SOQL (sent in the URL) under 16,384 characters


class SalesforceDestination(TargetBase):
    """Account field writes through simple-salesforce: sObject Collections below the threshold, Bulk API 2.0 above."""

    type = "salesforce"

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        self.name = name
        self.settings = dict(settings)
        self.env = dict(env)
        self.mode = settings.get("mode", "update_only")
        if self.mode != "update_only":
            raise InputError([Problem("segsync.yaml", "sync mode not supported for Salesforce Accounts",
                                      path=f"destinations.{name}.mode", value=self.mode,
                                      expected="update_only (segsync never creates Accounts)")])
        self.object = settings.get("object", "Account")
        self.bulk_threshold = int(settings.get("bulk_threshold", DEFAULT_BULK_THRESHOLD))
        self.api_share = float(settings.get("max_api_share", DEFAULT_API_SHARE))
        self.bulk_poll_seconds = float(settings.get("bulk_poll_seconds", 1.0))
        rate = settings.get("rate_limit") or {}
        token = env.get("SALESFORCE_ACCESS_TOKEN") or ""
        credential = hashlib.sha256(f"{env.get('SALESFORCE_INSTANCE_URL')}|{token}".encode()).hexdigest()[:16]
        self.limiter = limiter_for(f"salesforce:{credential}", int(rate.get("calls", DEFAULT_RATE[0])),
                                   float(rate.get("per_seconds", DEFAULT_RATE[1])))
        self.concurrency = int(settings.get("concurrency", DEFAULT_CONCURRENCY))
        self.channel = "sobject-collections"
        self._lock = threading.Lock()
        self.api_usage: tuple[int, int] | None = None  # (used, allowed) from the last Sforce-Limit-Info
        self.last_headers: Mapping[str, str] = {}
        self.write_requests = 0  # write HTTP requests made, counted in the response hook
        self.describe: dict[str, dict] | None = None
        self.last_layout: FieldLayout | None = None  # the owned fields of the last ownership()/desired() call
        self._sf = None

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> "SalesforceDestination":
        return cls(name, settings, env)

    # -- session ----------------------------------------------------------------------------------------------
    @property
    def sf(self):
        with self._lock:
            if self._sf is None:
                self._sf = self._connect()
            return self._sf

    def _connect(self):
        from segsync.clients.salesforce import make_salesforce

        client = make_salesforce(self.env)
        client.session.hooks["response"].append(self._observe)
        return client

    def _observe(self, response: requests.Response, *_args, **_kwargs) -> None:
        """Every response: remember headers (Retry-After) and the org's API usage (Sforce-Limit-Info)."""
        self.last_headers = response.headers
        if response.request.method in WRITE_METHODS and "/query" not in response.request.path_url \
                and not (response.request.method == "POST" and "/composite/sobjects/" in response.request.path_url):
            with self._lock:
                self.write_requests += 1
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))

    def reauthenticate(self) -> None:
        """A fresh session from the environment's credentials (called at most once per failing call).

        The old client is dropped, not closed: another sending thread may still be finishing a call on it."""
        fresh = self._connect()
        with self._lock:
            self._sf = fresh

    def close(self) -> None:
        if self._sf is not None:
            self._sf.session.close()
            self._sf = None

    # -- planning ---------------------------------------------------------------------------------------------
    def layout(self, segments: Any) -> FieldLayout:
        self.last_layout = field_layout(self.settings, segments, self.name)
        return self.last_layout

    def ownership(self, segments: Any) -> Ownership:
        layout = self.layout(segments)
        return Ownership(targets=frozenset({layout.object}), fields=layout.owned, clearable=layout.owned)

    def claims(self, segments: Any) -> dict[str, list[str]]:
        return field_claims(self.layout(segments), self.name)

    def check(self, segments: Any) -> list[Problem]:
        return layout_problems(self.layout(segments), segments, self.name)

    def field_specs(self, segments: Any) -> list[dict]:
        return field_specs(self.layout(segments))

    def desired(self, con: duckdb.DuckDBPyConnection, segments: Any) -> duckdb.DuckDBPyRelation:
        from segsync.sync.planner import require_tables

        require_tables(con, ["accounts"])
        return desired_relation(con, self.layout(segments))

    def change_for(self, op: Op, target: str, key: str, new: Mapping | None, old: Mapping | None,
                   account_id: str | None) -> Change:
        """Every op is an Account update: fields segsync wrote before but no longer sets are cleared
        (checkboxes to false, others to null); fields it never wrote are never sent."""
        payload = dict(new or {})
        for name, value in (old or {}).items():
            if name not in payload:
                payload[name] = False if isinstance(value, bool) else None
        return Change(target=target, key=key, op=op, new=payload, old=old, account_id=account_id)

    def begin(self, change_count: int) -> str:
        self.channel = "bulk-2.0" if change_count >= self.bulk_threshold else "sobject-collections"
        return self.channel

    def batch_key(self, change: Change) -> Hashable:
        return (self.channel, change.target)

    def max_batch(self, key: Hashable) -> int:
        return BULK_MAX_RECORDS if key[0] == "bulk-2.0" else COLLECTION_MAX

    def calls_per_batch(self, key: Hashable) -> int:
        return 3 if key[0] == "bulk-2.0" else 1  # bulk: create job, upload CSV, close job

    # -- observing ----------------------------------------------------------------------------------------------
    def observe(self, targets: Sequence[str], keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(object, Id) -> hash of the owned fields each confirmed record holds now, hashed as the planner hashes
        desired payloads (md5 of the JSON object, keys sorted, compact); records not found are absent.

        Read calls only: `SELECT Id, <owned fields> FROM <object> WHERE Id IN (...)`, OBSERVE_CHUNK ids per query.
        The owned fields are those of the last ownership()/desired() call."""
        if self.last_layout is None:
            raise ValueError("salesforce: call ownership(segments) before observe()")
        fields = sorted(self.last_layout.owned)
        ids = sorted({key for target, key in keys if target == self.object and _SF_ID.match(key)})
        if not fields or self.object not in targets:
            return {}
        observed: dict[tuple[str, str], str] = {}
        by_prefix = {i[:15]: i for i in ids}
        for start in range(0, len(ids), OBSERVE_CHUNK):
            quoted = ", ".join(f"'{i}'" for i in ids[start:start + OBSERVE_CHUNK])
            soql = f"SELECT Id, {', '.join(fields)} FROM {self.object} WHERE Id IN ({quoted})"
            found = self._call(lambda q=soql: self.sf.query_all(q))
            for record in found.get("records", []):
                key = by_prefix.get(str(record["Id"])[:15], str(record["Id"]))
                payload = {name: record.get(name) for name in fields}
                observed[(self.object, key)] = payload_hash(payload)
        return observed

    # -- sending ----------------------------------------------------------------------------------------------
    def prepare(self, targets: Sequence[str]) -> None:
        """Read the object's describe once: which owned fields exist, their lengths and picklist values."""
        described = self._call(lambda: getattr(self.sf, self.object).describe())
        self.describe = {f["name"]: f for f in described["fields"]}

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        ordered = sorted(batch, key=lambda c: c.key)  # stable order: rows of one parent stay together
        local = [self._precheck(c) for c in ordered]
        sendable = [c for c, problem in zip(ordered, local) if problem is None]
        results = [problem for problem in local if problem is not None]
        if not sendable:
            return results
        self._check_quota(self.calls_per_batch(key))
        paired = self._send_bulk(sendable) if key[0] == "bulk-2.0" else self._send_collection(sendable)
        deleted = [c for c, outcome, _code, _msg in paired if outcome == "deleted"]
        survivors = self._survivors([c.key for c in deleted]) if deleted else {}
        for change, outcome, code, message in paired:
            if outcome == "deleted":
                survivor = survivors.get(change.key)
                if survivor:
                    results.append(as_result(change, "retry", code, f"merged into {survivor}", redirect_to=survivor))
                else:
                    results.append(as_result(change, "rejected", code, message or "record deleted, no survivor"))
            else:
                results.append(as_result(change, outcome, code, message))
        return results

    def _precheck(self, change: Change) -> Result | None:
        """Refuse values describe says cannot be stored (never truncate): unknown fields, long or unknown values."""
        if self.describe is None:
            return None
        for name, value in (change.new or {}).items():
            spec = self.describe.get(name)
            if spec is None or not spec.get("updateable", False):
                raise FatalError(f"salesforce: field {self.object}.{name} does not exist or is not updateable in "
                                 f"this org; create it (see `segsync sandbox seed` / salesforce_field_specs)")
            if not isinstance(value, str):
                continue
            length = spec.get("length") or 0
            if length and len(value) > length:
                return as_result(change, "rejected", "STRING_TOO_LONG",
                                 f"{name}: {len(value)} characters, max length {length}; not truncated")
            if spec["type"] in ("picklist", "multipicklist") and spec.get("restrictedPicklist"):
                allowed = {p["value"] for p in spec.get("picklistValues", []) if p.get("active", True)}
                parts = value.split(";") if spec["type"] == "multipicklist" else [value]
                unknown = [p for p in parts if p not in allowed]
                if unknown:
                    return as_result(change, "rejected", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                     f"{name}: {', '.join(unknown)} not among the field's picklist values")
        return None

    def _check_quota(self, calls: int) -> None:
        if self.api_usage is None:
            return
        used, allowed = self.api_usage
        cap = int(allowed * self.api_share)
        if used + calls > cap:
            raise QuotaExhausted(f"salesforce: the org has used {used} of its {allowed} daily API requests; "
                                 f"segsync may use up to {self.api_share:.0%} ({cap}) "
                                 f"(destinations.{self.name}.max_api_share)", code="API_SHARE_CAP")

    def _call(self, fn):
        """Run one client call, translating client/transport errors into the one error hierarchy."""
        from simple_salesforce.exceptions import SalesforceError

        try:
            return fn()
        except SalesforceError as exc:
            retry_after = _retry_after(self.last_headers)
            raise request_error(exc.status, exc.content, retry_after=retry_after) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(redact(f"salesforce: {type(exc).__name__}: {exc}")) from None

    def _send_collection(self, batch: Sequence[Change]):
        body = {"allOrNone": False, "records": [rest_record(self.object, c) for c in batch]}
        response = self._call(lambda: self.sf.restful("composite/sobjects", method="PATCH", json=body))
        return collection_results(batch, response)

    def _send_bulk(self, batch: Sequence[Change]):
        from simple_salesforce.exceptions import SalesforceOperationError

        header, rows = bulk_rows(batch)
        bulk = getattr(self.sf.bulk2, self.object)
        try:
            jobs = self._call(lambda: bulk.update(records=rows, wait=self.bulk_poll_seconds))
        except SalesforceOperationError as exc:
            raise RetryableError(redact(f"salesforce: bulk job failed: {exc}")) from None
        successful, failed, unprocessed = [], [], []
        for job in jobs:
            records = self._call(lambda: bulk.get_all_ingest_records(job["job_id"]))
            successful += records["successfulRecords"]
            failed += records["failedRecords"]
            unprocessed += records["unprocessedRecords"]
        return bulk_results(batch, successful, failed, unprocessed)

    def _survivors(self, ids: list[str]) -> dict[str, str]:
        """Merged Accounts: loser id -> MasterRecordId (queryAll sees deleted rows)."""
        quoted = ", ".join(f"'{i}'" for i in ids if _SF_ID.match(i))
        soql = f"SELECT Id, MasterRecordId FROM {self.object} WHERE Id IN ({quoted})"
        found = self._call(lambda: self.sf.query_all(soql, include_deleted=True))
        return {r["Id"]: r["MasterRecordId"] for r in found.get("records", []) if r.get("MasterRecordId")}


def payload_hash(payload: Mapping[str, Any]) -> str:
    """md5 of the payload as DuckDB writes the planner's JSON (keys sorted, no spaces), so equal values compare
    equal to the hashes in sync_state."""
    text = json.dumps(dict(sorted(payload.items())), separators=(",", ":"), ensure_ascii=False)
    return hashlib.md5(text.encode()).hexdigest()


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") if headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def salesforce_field_specs(config, segment_set) -> list[dict]:
    """Bodies for the sandbox's `POST /__sandbox/fields` ({"object", "fields"}), one per object, covering every
    enabled Salesforce destination: the custom fields an admin would create in Setup."""
    by_object: dict[str, list[dict]] = {}
    for name, settings in config.destinations.items():
        if settings.get("type", name) == "salesforce" and settings.get("enabled", True):
            layout = field_layout(settings, segment_set, name)
            known = by_object.setdefault(layout.object, [])
            known += [spec for spec in field_specs(layout) if spec not in known]
    return [{"object": obj, "fields": fields} for obj, fields in by_object.items()]
