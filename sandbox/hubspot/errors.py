"""HubSpot's error bodies (status/message/correlationId/category) and the exception handlers raise to send one."""
from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.responses import JSONResponse


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict:
    """HubSpot's documented error object; extra keys (context, errors, subCategory, ...) are added as given."""
    body = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


class HubSpotError(Exception):
    """Raised by a handler to answer with HubSpot's error shape."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", *,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.message, self.category, **self.extra), status_code=self.status,
                            headers=self.headers)


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", **extra)


def not_found(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(404, message, "OBJECT_NOT_FOUND", **extra)


class PropertyProblem(Exception):
    """One invalid property value in a write: HubSpot's validation result for that property."""

    def __init__(self, name: str, code: str, message: str):
        super().__init__(message)
        self.name = name
        self.code = code
        self.message = message

    def as_validation_result(self) -> dict:
        return {"isValid": False, "message": self.message, "error": self.code, "name": self.name,
                "localizedErrorMessage": self.message}


def property_values_error(problems: list[PropertyProblem]) -> HubSpotError:
    """The whole-batch 400 HubSpot answers when any input carries an invalid property value."""
    results = [p.as_validation_result() for p in problems]
    return validation_error(
        "Property values were not valid: " + json.dumps(results, separators=(",", ":")),
        errors=[{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in problems],
    )
