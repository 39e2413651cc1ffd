"""Request/response helpers shared by the HubSpot routes: JSON bodies, list query params, batch envelopes."""
from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from sandbox.hubspot.clock import iso_ms, now_ms
from sandbox.hubspot.errors import validation_error

BATCH_MAX = 100


async def read_json(request: Request) -> object:
    raw = await request.body()
    if not raw:
        raise validation_error("Invalid input JSON: the request body is empty.")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise validation_error(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


async def read_object(request: Request) -> dict:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error(f"Invalid input JSON: expected an object, got {type(body).__name__}.")
    return body


def query_list(request: Request, name: str) -> list[str]:
    """A list query parameter given repeated (?p=a&p=b) or comma-separated (?p=a,b)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise validation_error(f"Query parameter {name}={raw!r} must be true or false.")
    return raw == "true"


def query_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise validation_error(f"Query parameter {name}={raw!r} must be an integer from 1 to {maximum}.")
    return int(raw)


def batch_inputs(body: dict, request: Request, maximum: int = BATCH_MAX) -> list:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("The batch body needs an `inputs` list.")
    request.state.records = len(inputs)
    if len(inputs) > maximum:
        raise validation_error(f"Batch input of {len(inputs)} items exceeds the limit of {maximum} inputs per call.",
                               context={"inputs": [str(len(inputs))], "limit": [str(maximum)]})
    for i, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise validation_error(f"inputs[{i}] must be an object.")
    return inputs


def standard_error(category: str, message: str, context: dict[str, list[str]], **extra) -> dict:
    body = {"status": "error", "category": category, "message": message, "context": context, "errors": [],
            "links": {}}
    body.update(extra)
    return body


def batch_response(results: list[dict], errors: list[dict], started_ms: int, *, ok_status: int = 200) -> Response:
    """HubSpot's batch envelope: ok_status when everything succeeded, 207 multi-status with `errors` otherwise."""
    body = {"status": "COMPLETE", "results": results, "startedAt": iso_ms(started_ms), "completedAt": iso_ms(now_ms())}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return JSONResponse(body, status_code=207)
    return JSONResponse(body, status_code=ok_status)
