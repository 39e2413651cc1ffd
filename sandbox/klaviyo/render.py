"""Klaviyo JSON:API documents: resources with links, cursor pages, error bodies."""
from __future__ import annotations

import base64
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import JSONResponse

from sandbox.klaviyo.state import ImportJob, KlaviyoError, KlaviyoList, invalid

MEDIA_TYPE = "application/vnd.api+json"
DEFAULT_ERROR_CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                       409: "conflict", 429: "throttled", 500: "error", 502: "error", 503: "service_unavailable",
                       504: "error"}
DEFAULT_ERROR_TITLES = {429: "Request was throttled.", 500: "A server error occurred.",
                        503: "Service unavailable."}


def document(body: dict | None, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error_document(error: KlaviyoError) -> JSONResponse:
    return document({"errors": [error.as_error()]}, error.status, error.headers)


def fault_error(status: int, code: str | None, message: str | None, retry_after: float | None) -> KlaviyoError:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    if status == 429 and message is None:
        wait = int(retry_after) if retry_after is not None else 1
        message = f"Request was throttled. Expected available in {wait} second{'s' if wait != 1 else ''}."
    return KlaviyoError(status, code or DEFAULT_ERROR_CODES.get(status, "error"),
                        DEFAULT_ERROR_TITLES.get(status, "Injected fault."), message or "Injected fault.",
                        headers=headers)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def list_resource(root: str, item: KlaviyoList, fields: list[str] | None = None,
                  profile_count: bool = False) -> dict:
    attributes = {"name": item.name, "created": item.created, "updated": item.updated,
                  "opt_in_process": item.opt_in_process}
    if fields:
        attributes = {k: v for k, v in attributes.items() if k in fields}
    if profile_count:
        attributes["profile_count"] = len(item.members)
    url = f"{root}/api/lists/{item.id}/"
    return {"type": "list", "id": item.id, "attributes": attributes,
            "relationships": {rel: {"links": {"self": f"{url}relationships/{rel}/", "related": f"{url}{rel}/"}}
                              for rel in ("profiles", "tags", "flow-triggers")},
            "links": {"self": url}}


PROFILE_FIELDS = ("email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale",
                  "title", "image", "created", "updated", "last_event_date", "location", "properties")


def profile_resource(root: str, profile_id: str, record: dict, fields: list[str] | None = None) -> dict:
    attributes = {key: record.get(key) for key in PROFILE_FIELDS}
    attributes["properties"] = record.get("properties") or {}
    attributes["location"] = record.get("location") or {}
    if fields:
        attributes = {k: v for k, v in attributes.items() if k in fields}
    url = f"{root}/api/profiles/{profile_id}/"
    return {"type": "profile", "id": profile_id, "attributes": attributes,
            "relationships": {rel: {"links": {"self": f"{url}relationships/{rel}/", "related": f"{url}{rel}/"}}
                              for rel in ("lists", "segments")},
            "links": {"self": url}}


def job_resource(root: str, job: ImportJob, expires_at: str) -> dict:
    url = f"{root}/api/profile-bulk-import-jobs/{job.id}/"
    done = job.status == "complete"
    return {
        "type": "profile-bulk-import-job", "id": job.id,
        "attributes": {"status": job.status, "created_at": job.created_at, "total_count": len(job.profiles),
                       "completed_count": len(job.profile_ids) + len(job.errors) if done else 0,
                       "failed_count": len(job.errors) if done else 0, "completed_at": job.completed_at,
                       "expires_at": expires_at, "started_at": job.started_at},
        "relationships": {
            "lists": {"data": [{"type": "list", "id": i} for i in job.list_ids],
                      "links": {"self": f"{url}relationships/lists/", "related": f"{url}lists/"}},
            "profiles": {"links": {"self": f"{url}relationships/profiles/", "related": f"{url}profiles/"}},
            "import-errors": {"links": {"related": f"{url}import-errors/"}},
        },
        "links": {"self": url},
    }


def page_size(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("page[size]")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"page[size] must be an integer between 1 and {maximum}; got {raw!r}.",
                      parameter="page[size]") from None
    if not 1 <= size <= maximum:
        raise invalid(f"page[size] must be between 1 and {maximum}; got {size}.", parameter="page[size]")
    return size


def page_offset(request: Request) -> int:
    raw = request.query_params.get("page[cursor]")
    if not raw:
        return 0
    # klaviyo-api passes `links.next` through: over http it stays a whole URL, over https it keeps a leading "="
    raw = unquote(raw.split("page[cursor]=")[-1].split("page%5Bcursor%5D=")[-1].split("&")[0]).lstrip("=")
    try:
        return int(base64.urlsafe_b64decode(raw.encode() + b"==").decode().removeprefix("offset:"))
    except ValueError:
        raise invalid(f"Invalid page cursor {raw!r}.", parameter="page[cursor]") from None


def paged(request: Request, items: list, size: int, offset: int) -> tuple[list, dict]:
    """The page of items and the collection's links (self, next when more remain)."""
    page = items[offset:offset + size]
    links = {"self": str(request.url)}
    if offset + size < len(items):
        cursor = base64.urlsafe_b64encode(f"offset:{offset + size}".encode()).decode().rstrip("=")
        links["next"] = str(request.url.remove_query_params("page[cursor]").include_query_params(
            **{"page[cursor]": cursor}))
    if offset > 0:
        previous = base64.urlsafe_b64encode(f"offset:{max(0, offset - size)}".encode()).decode().rstrip("=")
        links["prev"] = str(request.url.remove_query_params("page[cursor]").include_query_params(
            **{"page[cursor]": previous}))
    return page, links


def sparse_fields(request: Request, kind: str) -> list[str] | None:
    raw = request.query_params.get(f"fields[{kind}]")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else None
