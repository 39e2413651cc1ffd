"""The Klaviyo JSON:API emulator: private-key auth, required revision header, per-endpoint rate limits."""
from __future__ import annotations

import threading

import duckdb
from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.common import Emulator
from sandbox.klaviyo.ratelimit import DEFAULT_LIMITS, FixedWindowLimiter, Throttled
from sandbox.klaviyo.render import error_document, fault_error
from sandbox.klaviyo.routes import add_klaviyo_routes
from sandbox.klaviyo.state import KlaviyoError, KlaviyoState, now_iso

DEFAULT_API_KEY = "pk_sandbox_0123456789abcdef0123456789"
SEEDED_SHARE_BP = 5000  # basis points of contacts (by email hash) that already have a Klaviyo profile

_SEED_SQL = f"""
SELECT '01' || upper(substr(sha256('email:' || email_lower), 1, 24)) AS profile_id, email_lower, email,
       first_name, last_name
FROM (
    SELECT lower(trim(email)) AS email_lower, arg_min(trim(email), contact_id) AS email,
           arg_min(first_name, contact_id) AS first_name, arg_min(last_name, contact_id) AS last_name
    FROM contacts WHERE email IS NOT NULL AND trim(email) <> '' GROUP BY 1
)
WHERE CAST(('0x' || substr(md5(email_lower), 1, 8))::UBIGINT % 10000 AS INTEGER) < {SEEDED_SHARE_BP}
ORDER BY profile_id
"""


class KlaviyoEmulator(Emulator):
    """Settings: `api_key`, `rate_limits` ({"POST /api/lists": {"burst": 10, "steady": 150, "daily": 150}}),
    `rate_limits_enabled` (default true), `bulk_import_polls` (status reads until a job completes; 0 = at once),
    `capture` (keep raw exchanges in `captured` for OpenAPI validation)."""

    name = "klaviyo"

    def __init__(self) -> None:
        self.state = KlaviyoState()
        self.limiter = FixedWindowLimiter()
        self.captured: list[dict] = []
        self._capture_lock = threading.Lock()
        super().__init__()

    def reset(self) -> None:
        self.state = KlaviyoState()
        self.limiter.reset()
        with self._capture_lock:
            self.captured = []

    def dump(self) -> dict:
        return {"profiles": len(self.state.profiles),
                "lists": {item.id: {"name": item.name, "members": len(item.members)}
                          for item in self.state.lists.values()},
                "jobs": {job.id: {"status": job.status, "total": len(job.profiles), "failed": len(job.errors)}
                         for job in self.state.jobs.values()}}

    def seed(self, dataset) -> dict:
        """Profiles for a deterministic half of the contacts (by email hash); no lists."""
        con = duckdb.connect()
        try:
            con.register("contacts", dataset.contacts.select(["contact_id", "email", "first_name", "last_name"]))
            columns = con.sql(_SEED_SQL).to_arrow_table().to_pydict()
        finally:
            con.close()
        stamp = now_iso()
        profiles = self.state.profiles
        for profile_id, email, first, last in zip(columns["profile_id"], columns["email"], columns["first_name"],
                                                  columns["last_name"]):
            profiles[profile_id] = {"email": email, "first_name": first, "last_name": last, "created": stamp,
                                    "updated": stamp}
        self.state.by_identifier.update(zip((("email", e) for e in columns["email_lower"]), columns["profile_id"]))
        return {"profiles": len(columns["profile_id"])}

    # -- credentials, headers, limits ---------------------------------------------------------------
    @property
    def api_key(self) -> str:
        return self.settings.get("api_key", DEFAULT_API_KEY)

    def env(self, base_url: str) -> dict[str, str]:
        return {"KLAVIYO_BASE_URL": base_url.rstrip("/"), "KLAVIYO_API_KEY": self.api_key}

    def limits_for(self, endpoint: str) -> dict[str, int]:
        overrides = self.settings.get("rate_limits") or {}
        return {**DEFAULT_LIMITS.get(endpoint, {"burst": 75, "steady": 700}), **overrides.get(endpoint, {})}

    def guard(self, request: Request) -> None:
        """Router dependency: private key, revision header, then the endpoint's rate limit."""
        header = request.headers.get("authorization")
        if not header:
            raise KlaviyoError(401, "not_authenticated", "Authentication credentials were not provided.",
                               "Missing or invalid Authorization header: send 'Klaviyo-API-Key <private key>'.")
        scheme, _, key = header.partition(" ")
        if scheme != "Klaviyo-API-Key" or key.strip() != self.api_key:
            raise KlaviyoError(401, "authentication_failed", "Incorrect authentication credentials.",
                               "The private API key in the Authorization header is not valid.")
        if not request.headers.get("revision"):
            raise KlaviyoError(400, "invalid", "Invalid input.",
                               "The 'revision' header is required (an API revision date such as 2026-07-15).",
                               parameter="revision")
        if not self.settings.get("rate_limits_enabled", True):
            return
        route = request.scope.get("route")
        endpoint = f"{request.method} {getattr(route, 'path', request.url.path)}"
        try:
            request.state.ratelimit = self.limiter.hit(endpoint, self.limits_for(endpoint))
        except Throttled as exc:
            wait = exc.retry_after
            raise KlaviyoError(429, "throttled", "Request was throttled.",
                               f"Request was throttled. Expected available in {wait} second"
                               f"{'s' if wait != 1 else ''}.", headers={"Retry-After": str(wait)}) from None

    def record_fault(self, record_id: str) -> tuple[int, str, str] | None:
        """A scripted per-record failure (profile id, or lowercased email in import jobs) as (status, code, detail).

        Relationship calls have no per-record results, so a faulted profile id fails the whole call (409 for
        a `conflict` code, else 400), the way a bisecting caller would meet it."""
        fault = self.faults.record_fault(record_id)
        if fault is None:
            return None
        status = 409 if fault.code == "conflict" else 400
        return status, fault.code, fault.message or f"{record_id} could not be processed ({fault.code})."

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None) -> Response:
        return error_document(fault_error(status, code, message, retry_after))

    # -- app ----------------------------------------------------------------------------------------
    def add_routes(self, app: FastAPI) -> None:
        add_klaviyo_routes(app, self)

    def build_app(self) -> FastAPI:
        app = super().build_app()
        emulator = self

        @app.middleware("http")
        async def headers_and_capture(request: Request, call_next):
            response = await call_next(request)
            limits = getattr(request.state, "ratelimit", None)
            if limits and response.status_code != 429:
                response.headers["RateLimit-Limit"] = str(limits["limit"])
                response.headers["RateLimit-Remaining"] = str(limits["remaining"])
                response.headers["RateLimit-Reset"] = str(limits["reset"])
            if not emulator.settings.get("capture") or request.url.path.startswith("/__sandbox"):
                return response
            body = b"".join([chunk async for chunk in response.body_iterator])
            with emulator._capture_lock:
                emulator.captured.append({
                    "method": request.method, "path": request.url.path, "query": request.url.query,
                    "request_headers": dict(request.headers),
                    "request_body": getattr(request.state, "raw_body", b""),
                    "status": response.status_code, "response_headers": dict(response.headers),
                    "response_body": body})
            return Response(content=body, status_code=response.status_code, headers=dict(response.headers))

        return app
