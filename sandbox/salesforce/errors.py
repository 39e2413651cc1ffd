"""Salesforce error shapes: whole-request errors (an array body) and per-record save errors."""
from __future__ import annotations


class SfRequestError(Exception):
    """A whole request refused: HTTP status plus Salesforce's `[{"message", "errorCode"}]` body."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        entry = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            entry["fields"] = list(self.fields)
        return [entry]


class RecordError(Exception):
    """One record of a write refused: {statusCode, message, fields} in the per-record result."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields or [])

    def as_dict(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_bulk_text(self) -> str:
        """The `sf__Error` cell of Bulk API results: CODE:message:fields --."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header")


def not_found() -> SfRequestError:
    return SfRequestError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_field(column: str, object_name: str) -> SfRequestError:
    return SfRequestError(400, "INVALID_FIELD", f"No such column '{column}' on sobject of type {object_name}")
