"""The Mailchimp Marketing API v3 emulator: Basic auth, one seeded audience, a 10-connection limit per key."""
from __future__ import annotations

import base64
import hashlib
import threading
import time

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.common import Emulator, LoggedRequest
from sandbox.mailchimp.render import problem
from sandbox.mailchimp.routes import add_mailchimp_routes
from sandbox.mailchimp.seed import seed_audience
from sandbox.mailchimp.store import Audience, MailchimpError, now_iso

DEFAULT_API_KEY = "sandbox0123456789abcdef0123456789-us1"
DEFAULT_AUDIENCE_NAME = "RavenStack customers"
MAX_CONNECTIONS = 10


class MailchimpEmulator(Emulator):
    """State: audiences (members, forgotten addresses, tags = static segments). Settings: `audience_name`,
    `api_key`, `max_connections`."""

    name = "mailchimp"

    def __init__(self) -> None:
        self.audiences: dict[str, Audience] = {}
        self._inflight: dict[str, int] = {}
        self._inflight_lock = threading.Lock()
        super().__init__()

    # -- state --------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.audiences = {}
        self.create_audience(self.settings.get("audience_name", DEFAULT_AUDIENCE_NAME))

    def create_audience(self, name: str) -> Audience:
        list_id = hashlib.md5(f"audience:{name}".encode()).hexdigest()[:10]
        audience = Audience(id=list_id, web_id=int(list_id[:6], 16), name=name, date_created=now_iso())
        self.audiences[list_id] = audience
        return audience

    def default_audience(self) -> Audience:
        return next(iter(self.audiences.values()))

    def dump(self) -> dict:
        result = {}
        for audience in self.audiences.values():
            counts: dict[str, int] = {}
            for member in audience.members.values():
                counts[member.status] = counts.get(member.status, 0) + 1
            result[audience.id] = {
                "name": audience.name, "members_by_status": counts, "forgotten": len(audience.forgotten),
                "segments": {s.name: {"id": s.id, "members": len(s.members)} for s in audience.segments.values()},
            }
        return {"audiences": result}

    def seed(self, dataset) -> dict:
        counts = seed_audience(self.default_audience(), dataset.contacts)
        return {"audience": self.default_audience().id, **counts}

    # -- credentials --------------------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        return self.settings.get("api_key", DEFAULT_API_KEY)

    def env(self, base_url: str) -> dict[str, str]:
        return {"MAILCHIMP_BASE_URL": base_url.rstrip("/") + "/3.0", "MAILCHIMP_API_KEY": self.api_key}

    def authenticate(self, request: Request) -> None:
        """FastAPI dependency: HTTP Basic with any username and the API key as password."""
        if _basic_password(request) != self.api_key:
            raise MailchimpError(401, "API Key Invalid",
                                 "Your API key may be invalid, or you've attempted to access the wrong datacenter.")

    def record_fault(self, email_lower: str) -> tuple[str, str] | None:
        """A scripted per-address failure (faults with `record_ids` = lowercased emails) as (code, message)."""
        fault = self.faults.record_fault(email_lower)
        if fault is None:
            return None
        return fault.code, fault.message or f"{email_lower} could not be processed ({fault.code}); try again later."

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None) -> Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return problem(status, code, message or "Injected fault.", headers=headers)

    # -- app ----------------------------------------------------------------------------------------
    def add_routes(self, app: FastAPI) -> None:
        add_mailchimp_routes(app, self)

    def build_app(self) -> FastAPI:
        app = super().build_app()
        emulator = self

        @app.middleware("http")  # added last = outermost: counts time spent in injected delays too
        async def limit_connections(request: Request, call_next):
            if request.url.path.startswith("/__sandbox"):
                return await call_next(request)
            key = _basic_password(request) or ""
            limit = int(emulator.settings.get("max_connections", MAX_CONNECTIONS))
            with emulator._inflight_lock:
                emulator._inflight[key] = emulator._inflight.get(key, 0) + 1
                current = emulator._inflight[key]
            try:
                if current > limit:
                    emulator.log.add(LoggedRequest(method=request.method, path=request.url.path,
                                                   query=request.url.query, status=429, records=None,
                                                   duration_ms=0.0, at=time.time()))
                    return problem(429, "Too Many Requests",
                                   f"You have exceeded the limit of {limit} simultaneous connections.")
                return await call_next(request)
            finally:
                with emulator._inflight_lock:
                    emulator._inflight[key] -= 1

        return app


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]
