"""The Salesforce emulator (REST + Bulk API 2.0 over TLS): auth, API allowance, admin routes, seeding."""
from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.common import Emulator
from sandbox.salesforce.bulk2 import Job, add_bulk_routes
from sandbox.salesforce.errors import SfRequestError
from sandbox.salesforce.org import Org
from sandbox.salesforce.rest import add_rest_routes
from sandbox.salesforce.schema import canonical_datetime
from sandbox.salesforce.seed import seed_org
from sandbox.salesforce.soql import Query

API_VERSION = "62.0"
DEFAULT_SESSION_ID = "00D8c0000008SEG!AQsegsync.sandbox.session.token.0001"
DEFAULT_DAILY_API_LIMIT = 100_000
MAX_OPEN_CURSORS = 10
_VERSION = re.compile(r"^v\d{2,3}\.\d$")
_DEFAULT_MESSAGES = {
    400: ("MALFORMED_QUERY", "injected fault"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: "
                               "1234567890-12345 (-1234567890)"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later"),
}


@dataclass
class Cursor:
    locator: str
    query: Query
    rows: list[dict]
    include_deleted: bool


class SalesforceEmulator(Emulator):
    """Account and Contact in one org; strict about what Salesforce documents, lenient about nothing else.

    Settings (POST /__sandbox/config): session_id, session_expired, daily_api_limit, api_requests_used,
    bulk_in_progress_polls.
    """

    name = "salesforce"
    uses_tls = True

    def reset(self) -> None:
        self.org = Org()
        self.cursors: dict[str, Cursor] = {}
        self.jobs: dict[str, Job] = {}
        self.api_used = 0

    # -- settings and auth ---------------------------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return str(self.settings.get("session_id") or DEFAULT_SESSION_ID)

    @property
    def daily_limit(self) -> int:
        return int(self.settings.get("daily_api_limit", DEFAULT_DAILY_API_LIMIT))

    def configure(self, settings: dict) -> None:
        with self.lock:
            settings = dict(settings)
            if "api_requests_used" in settings:
                self.api_used = int(settings.pop("api_requests_used"))
            self.settings.update(settings)

    def begin(self, request: Request, version: str) -> None:
        """Every API call: a known version path, a valid Bearer session, and a request left in the allowance."""
        if not _VERSION.match(version):
            raise SfRequestError(404, "NOT_FOUND", "The requested resource does not exist")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or token.strip() != self.session_id \
                or self.settings.get("session_expired"):
            raise SfRequestError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_used >= self.daily_limit:
            raise SfRequestError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.api_used += 1

    def record_fault(self, record_id: str):
        return self.faults.record_fault(record_id)

    def limits_body(self) -> dict:
        limit = self.daily_limit
        return {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - self.api_used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000,
                                     "Remaining": 10000 - sum(1 for j in self.jobs.values() if j.kind == "query")},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
        }

    def open_cursor(self, query: Query, rows: list[dict], include_deleted: bool) -> Cursor:
        """A query cursor; like Salesforce, at most 10 stay open per user and the oldest is released first."""
        while len(self.cursors) >= MAX_OPEN_CURSORS:
            self.cursors.pop(next(iter(self.cursors)))
        locator = self.org.new_id("01g")
        cursor = self.cursors[locator] = Cursor(locator, query, rows, include_deleted)
        return cursor

    # -- Emulator contract ---------------------------------------------------------------------------------
    def env(self, base_url: str) -> dict[str, str]:
        return {"SALESFORCE_INSTANCE_URL": base_url, "SALESFORCE_ACCESS_TOKEN": self.session_id,
                "SALESFORCE_API_VERSION": API_VERSION}

    def dump(self) -> dict:
        objects = {}
        for name, table in self.org.records.items():
            deleted = sum(1 for r in table.values() if r.get("IsDeleted"))
            entry: dict = {"count": len(table) - deleted, "deleted": deleted,
                           "custom_fields": [f.describe() for f in self.org.objects[name].fields.values()
                                             if f.custom]}
            if len(table) <= 1000:
                entry["records"] = list(table.values())
            objects[name] = entry
        return {"objects": objects, "api_requests_used": self.api_used, "daily_api_limit": self.daily_limit,
                "jobs": [j.info for j in self.jobs.values()], "open_cursors": len(self.cursors)}

    def seed(self, dataset) -> dict:
        return seed_org(self.org, dataset)

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None) -> Response:
        default_code, default_message = _DEFAULT_MESSAGES.get(status, ("UNKNOWN_EXCEPTION", "injected fault"))
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return JSONResponse([{"message": message or default_message, "errorCode": code or default_code}],
                            status_code=status, headers=headers)

    def add_routes(self, app: FastAPI) -> None:
        emulator = self

        @app.exception_handler(SfRequestError)
        async def sf_error(_request: Request, exc: SfRequestError):
            return JSONResponse(exc.body(), status_code=exc.status)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(_request: Request, exc: StarletteHTTPException):
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "UNKNOWN_EXCEPTION")
            message = ("The requested resource does not exist" if exc.status_code == 404
                       else f"HTTP Method not allowed here ({exc.detail})" if exc.status_code == 405 else str(exc.detail))
            return JSONResponse([{"message": message, "errorCode": code}], status_code=exc.status_code)

        @app.exception_handler(RequestValidationError)
        async def bad_parameter(_request: Request, exc: RequestValidationError):
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            return JSONResponse([{"message": f"Invalid request parameters: {problems}", "errorCode": "INVALID_INPUT"}],
                                status_code=400)

        @app.middleware("http")
        async def limit_info(request: Request, call_next):
            response = await call_next(request)
            if request.url.path.startswith("/services/data/v"):
                response.headers["Sforce-Limit-Info"] = f"api-usage={emulator.api_used}/{emulator.daily_limit}"
            return response

        add_admin_extras(app, self)
        add_rest_routes(app, self)
        add_bulk_routes(app, self)


def add_admin_extras(app: FastAPI, emulator: SalesforceEmulator) -> None:
    """Salesforce-only admin routes: Setup custom fields, merges, explicit SystemModstamps."""

    @app.post("/__sandbox/fields")
    def add_fields(spec: dict):
        with emulator.lock:
            added = emulator.org.add_fields(str(spec.get("object", "")), list(spec.get("fields") or []))
            return {"object": spec.get("object"), "fields": [f.describe() for f in added]}

    @app.post("/__sandbox/merge")
    def merge(spec: dict):
        with emulator.lock:
            return emulator.org.merge(str(spec.get("winner", "")), [str(i) for i in spec.get("losers") or []])

    @app.post("/__sandbox/modstamp")
    def set_modstamp(spec: dict):
        stamp = canonical_datetime(str(spec.get("SystemModstamp", "")))
        if stamp is None:
            raise SfRequestError(400, "INVALID_FIELD", f"SystemModstamp {spec.get('SystemModstamp')!r} is not an "
                                                       "ISO-8601 datetime such as 2026-12-03T13:45:00.000+0000")
        last_modified = canonical_datetime(str(spec["LastModifiedDate"])) if spec.get("LastModifiedDate") else None
        with emulator.lock:
            changed = emulator.org.set_modstamp(str(spec.get("object", "Account")), list(spec.get("ids") or []),
                                                stamp, last_modified)
            return {"updated": changed, "SystemModstamp": stamp}
