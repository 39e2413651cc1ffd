"""HubSpotEmulator: CRM v3 objects, search, properties, associations and lists v3 behind Bearer auth and rate limits."""
from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from sandbox.common import Emulator
from sandbox.hubspot import routes_lists, routes_meta, routes_objects
from sandbox.hubspot.errors import HubSpotError, correlation_id, error_body, validation_error
from sandbox.hubspot.limits import DEFAULT_DAILY, DEFAULT_PER_10S, DEFAULT_SEARCH_PER_SECOND, WINDOW_MS, RateLimits
from sandbox.hubspot.properties import PropertyRegistry
from sandbox.hubspot.records import ObjectStore, resolve_type
from sandbox.hubspot.routes_lists import DEFAULT_MEMBERSHIP_MAX, OBJECT_TYPE_IDS
from sandbox.hubspot.seed import seed_state
from sandbox.hubspot.state import PRIMARY_TYPE, UNLABELED_TYPE, HubSpotState

DEFAULT_TOKEN = "pat-na1-5e9c4f1a-7b2d-4c8e-9f30-2a6b1d8e4c07"
DEFAULT_SETTINGS = {
    "access_token": DEFAULT_TOKEN,
    "rate_limit_per_10s": DEFAULT_PER_10S,
    "rate_limit_window_ms": WINDOW_MS,  # the burst window (10 s as documented; shorter only to test rolling)
    "daily_limit": DEFAULT_DAILY,
    "search_rate_limit_per_second": DEFAULT_SEARCH_PER_SECOND,
    "list_membership_max": DEFAULT_MEMBERSHIP_MAX,
}
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
RATE_MESSAGES = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
                 "DAILY": "You have reached your daily limit.",
                 "SECONDLY": "You have reached your secondly limit."}


def _is_crm_search(request: Request) -> bool:
    path = request.url.path
    return request.method == "POST" and path.startswith("/crm/v3/objects/") and path.endswith("/search")


class _GuardedRoute(APIRoute):
    """Every HubSpot route: Bearer auth, then rate limits, then the handler; HubSpotError becomes its JSON body."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            emulator: HubSpotEmulator = request.app.state.hubspot
            headers: dict[str, str] = {}
            try:
                emulator.authenticate(request)
                headers = emulator.admit(request)
                response = await handler(request)
            except HubSpotError as exc:
                response = exc.response()
            response.headers.update(headers)
            return response

        return guarded


class HubSpotEmulator(Emulator):
    name = "hubspot"

    def __init__(self, access_token: str | None = None) -> None:
        self.limits = RateLimits()
        self.state = HubSpotState()
        super().__init__()
        if access_token:
            self.settings["access_token"] = access_token

    # -- Emulator contract --------------------------------------------------------------------------
    def reset(self) -> None:
        self.state = HubSpotState()
        self.limits.reset()

    def dump(self) -> dict:
        return self.state.summary()

    def seed(self, dataset) -> dict:
        return seed_state(self.state, dataset)

    def env(self, base_url: str) -> dict[str, str]:
        return {"HUBSPOT_BASE_URL": base_url, "HUBSPOT_ACCESS_TOKEN": self.setting("access_token")}

    def configure(self, settings: dict) -> None:
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise ValueError(f"unknown HubSpot sandbox setting(s) {unknown}; expected {sorted(DEFAULT_SETTINGS)}")
        for name, value in settings.items():
            if name == "access_token":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("HubSpot sandbox setting access_token must be a non-empty string")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"HubSpot sandbox setting {name}={value!r} must be a positive integer")
        super().configure(settings)
        if set(settings) & {"rate_limit_per_10s", "rate_limit_window_ms", "search_rate_limit_per_second",
                            "daily_limit"}:
            self.limits.reset()

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None) -> Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        if status == 429:
            policy = code if code in RATE_MESSAGES else "TEN_SECONDLY_ROLLING"
            return self.rate_limited(policy, {**self.rate_headers(remaining=0), **headers})
        if status == 401:
            return JSONResponse(error_body(message or AUTH_MESSAGE, "INVALID_AUTHENTICATION"), status_code=401,
                                headers=headers)
        category = code or ("INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
        return JSONResponse(error_body(message or f"injected fault ({status})", category), status_code=status,
                            headers=headers)

    def add_routes(self, app: FastAPI) -> None:
        app.state.hubspot = self
        router = APIRouter(route_class=_GuardedRoute)
        routes_meta.register_properties(router, self)
        routes_meta.register_associations(router, self)
        routes_lists.register(router, self)
        routes_objects.register(router, self)
        app.include_router(router)

    # -- helpers the routes use ---------------------------------------------------------------------
    def setting(self, name: str):
        return self.settings.get(name, DEFAULT_SETTINGS[name])

    def store(self, object_type: str) -> ObjectStore:
        return self.state.stores[resolve_type(object_type)]

    def registry(self, object_type: str) -> PropertyRegistry:
        return self.state.registries[resolve_type(object_type)]

    def authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.setting("access_token"):
            raise HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def rate_headers(self, remaining: int) -> dict[str, str]:
        per_10s, daily = int(self.setting("rate_limit_per_10s")), int(self.setting("daily_limit"))
        return {"X-HubSpot-RateLimit-Daily": str(daily), "X-HubSpot-RateLimit-Daily-Remaining": str(daily),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.setting("rate_limit_window_ms"))),
                "X-HubSpot-RateLimit-Max": str(per_10s),
                "X-HubSpot-RateLimit-Remaining": str(remaining)}

    def rate_limited(self, policy: str, headers: dict[str, str]) -> JSONResponse:
        body = {"status": "error", "message": RATE_MESSAGES[policy], "errorType": "RATE_LIMIT",
                "correlationId": correlation_id(), "policyName": policy, "requestId": correlation_id()}
        return JSONResponse(body, status_code=429, headers=headers)

    def admit(self, request: Request) -> dict[str, str]:
        """Count this call against the limits; the headers to send, or a 429 in HubSpot's documented shape."""
        search = _is_crm_search(request)
        verdict = self.limits.admit(per_10s=int(self.setting("rate_limit_per_10s")),
                                    daily=int(self.setting("daily_limit")),
                                    window_ms=int(self.setting("rate_limit_window_ms")),
                                    search_per_second=int(self.setting("search_rate_limit_per_second"))
                                    if search else None)
        headers = {} if search else verdict.headers  # the search endpoints send no X-HubSpot-RateLimit headers
        if not verdict.allowed:
            raise _RateLimitError(self.rate_limited(verdict.policy, headers))
        return headers

    def association_targets(self, object_type: str, raw, where: str) -> list[str]:
        """Validate `associations` given on create: ids of existing records of the other type."""
        if raw in (None, []):
            return []
        if not isinstance(raw, list):
            raise validation_error(f"{where} must be a list of {{to: {{id}}, types: [...]}}.")
        other = "contacts" if object_type == "companies" else "companies"
        allowed = {PRIMARY_TYPE[(object_type, other)], UNLABELED_TYPE[(object_type, other)]}
        targets = []
        for i, item in enumerate(raw):
            to_id = str(((item or {}).get("to") or {}).get("id", ""))
            types = (item or {}).get("types") or []
            if not types or any(t.get("associationTypeId") not in allowed for t in types):
                raise validation_error(f"{where}[{i}].types must use associationTypeId {sorted(allowed)} "
                                       f"({object_type} to {other}).")
            if self.store(other).find(to_id) is None:
                raise validation_error(f"{where}[{i}].to.id {to_id} is not an existing {other} record.")
            targets.append(to_id)
        return targets

    def link(self, object_type: str, record_id: str, targets: list[str]) -> None:
        for target in targets:
            if object_type == "companies":
                self.state.associations.add(record_id, target)
            else:
                self.state.associations.add(target, record_id)

    def move_list_memberships(self, object_type: str, from_id: str, to_id: str) -> None:
        for item in self.state.lists.values():
            if OBJECT_TYPE_IDS.get(item.object_type_id) == object_type and from_id in item.members:
                stamp = item.members.pop(from_id)
                item.members[to_id] = min(stamp, item.members.get(to_id, stamp))
                item.touch()


class _RateLimitError(HubSpotError):
    """A 429 whose response is already built (body and headers as documented)."""

    def __init__(self, response: JSONResponse):
        super().__init__(429, "rate limited", "RATE_LIMITS")
        self._response = response

    def response(self) -> JSONResponse:
        return self._response
