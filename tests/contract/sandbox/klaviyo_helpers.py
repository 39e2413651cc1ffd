"""Helpers for the Klaviyo emulator contract tests: client, error bodies, OpenAPI validation of every exchange."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from segsync.clients.klaviyo import make_klaviyo

SPEC_DIR = Path(__file__).resolve().parents[2] / "specs" / "klaviyo"
SPEC_HOST = "https://a.klaviyo.com"


def client(sandbox):
    return make_klaviyo(sandbox.env())


def errors_of(exc) -> list[dict]:
    """The JSON:API `errors` array of a failed klaviyo-api call."""
    return json.loads(exc.body)["errors"]


@lru_cache(maxsize=None)
def spec(name: str) -> OpenAPI:
    # parsed as JSON: the default YAML loader trips over a \u escape in profiles.json
    return OpenAPI.from_dict(json.loads((SPEC_DIR / f"{name}.json").read_text()))


class CapturedRequest:
    """openapi-core's request protocol over one exchange the emulator captured (host mapped to the spec's)."""

    def __init__(self, exchange: dict):
        self.host_url = SPEC_HOST
        self.path = exchange["path"]
        self.method = exchange["method"].lower()
        headers = Headers(exchange["request_headers"])
        self.content_type = headers.get("content-type", "")
        self.body = exchange["request_body"] or None
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(exchange["query"], keep_blank_values=True)),
            header=headers, cookie=ImmutableMultiDict())


class CapturedResponse:
    def __init__(self, exchange: dict):
        self.data = exchange["response_body"]
        self.status_code = exchange["status"]
        self.headers = Headers(exchange["response_headers"])
        self.content_type = self.headers.get("content-type", "")


def spec_for(path: str) -> OpenAPI:
    return spec("lists") if path.startswith("/api/lists") else spec("profiles")


def validate_exchanges(exchanges: list[dict]) -> int:
    """Validate every response against the OpenAPI files, and every accepted (2xx) request; return the count."""
    for exchange in exchanges:
        openapi, request = spec_for(exchange["path"]), CapturedRequest(exchange)
        where = f"{exchange['method']} {exchange['path']}?{exchange['query']} -> {exchange['status']}"
        try:
            if exchange["status"] < 300:
                openapi.validate_request(request)
            openapi.validate_response(request, CapturedResponse(exchange))
        except Exception as exc:  # re-raised with the exchange named, for a readable failure
            raise AssertionError(f"{where}: {exc!r} {getattr(exc, '__cause__', '')!r}") from exc
    return len(exchanges)


def profile_body(email: str, **attributes) -> dict:
    return {"data": {"type": "profile", "attributes": {"email": email, **attributes}}}


def list_body(name: str) -> dict:
    return {"data": {"type": "list", "attributes": {"name": name}}}


def members_body(profile_ids: list[str]) -> dict:
    return {"data": [{"type": "profile", "id": pid} for pid in profile_ids]}


@pytest.fixture
def klaviyo(klaviyo_sandbox):
    """The Klaviyo sandbox with capture on; after the test, every exchange must match the OpenAPI files."""
    emulator = klaviyo_sandbox["klaviyo"]
    emulator.configure({"capture": True})
    yield klaviyo_sandbox
    validate_exchanges(list(emulator.captured))
