"""FastAPI routes of the Klaviyo emulator: lists, list-profile relationships, profiles, bulk import jobs."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from sandbox.klaviyo.filters import FilterError, matches, parse_filter
from sandbox.klaviyo.render import (base_url, document, error_document, job_resource, list_resource, page_offset,
                                    page_size, paged, profile_resource, sparse_fields)
from sandbox.klaviyo.state import KlaviyoError, invalid, not_found

LIST_FILTERS = {"name": {"any", "equals"}, "id": {"any", "equals"}, "created": {"greater-than"},
                "updated": {"greater-than"}}
PROFILE_FILTERS = {"id": {"any", "equals"}, "email": {"any", "equals"}, "phone_number": {"any", "equals"},
                   "external_id": {"any", "equals"}, "created": {"greater-than", "less-than"},
                   "updated": {"greater-than", "less-than"}}
MEMBER_FILTERS = {"email": {"any", "equals"}, "phone_number": {"any", "equals"},
                  "joined_group_at": {"greater-than", "less-than"}}
LIST_SORTS = {"created", "id", "name", "updated"}
PROFILE_SORTS = {"created", "email", "id", "updated"}
MAX_BODY_BYTES = 5 * 1024 * 1024


def add_klaviyo_routes(app: FastAPI, emulator) -> None:
    """Register every /api route; `emulator` holds state, lock, settings and the request guard."""

    @app.exception_handler(KlaviyoError)
    async def klaviyo_error(request: Request, exc: KlaviyoError):
        return error_document(exc)

    router = APIRouter(prefix="/api", dependencies=[Depends(emulator.guard)])

    @router.get("/lists")
    async def get_lists(request: Request):
        conditions = filters(request, LIST_FILTERS)
        size, offset = page_size(request, 10, 10), page_offset(request)
        fields = sparse_fields(request, "list")
        with emulator.lock:
            items = [item for item in emulator.state.lists.values()
                     if matches(conditions, {"name": item.name, "id": item.id, "created": item.created,
                                             "updated": item.updated})]
            items = sort_items(request, items, LIST_SORTS, lambda item, key: getattr(item, key))
            page, links = paged(request, items, size, offset)
            data = [list_resource(base_url(request), item, fields) for item in page]
        request.state.records = len(data)
        return document({"data": data, "links": links})

    @router.post("/lists")
    async def create_list(request: Request):
        body = await json_body(request)
        with emulator.lock:
            created = emulator.state.create_list(body)
            request.state.records = 1
            return document({"data": list_resource(base_url(request), created),
                             "links": {"self": f"{base_url(request)}/api/lists/{created.id}/"}}, 201)

    @router.get("/lists/{list_id}")
    async def get_list(list_id: str, request: Request):
        extra = request.query_params.get("additional-fields[list]", "")
        with emulator.lock:
            found = emulator.state.klaviyo_list(list_id)
            resource = list_resource(base_url(request), found, sparse_fields(request, "list"),
                                     profile_count="profile_count" in extra.split(","))
        return document({"data": resource, "links": {"self": str(request.url)}})

    @router.get("/lists/{list_id}/relationships/profiles")
    async def get_profile_ids_for_list(list_id: str, request: Request):
        conditions = filters(request, MEMBER_FILTERS)
        size, offset = page_size(request, 20, 100), page_offset(request)
        with emulator.lock:
            found = emulator.state.klaviyo_list(list_id)
            members = list(found.members)
            if conditions:
                members = [pid for pid, joined in found.members.items() if matches(
                    conditions, {**emulator.state.profiles.get(pid, {}), "joined_group_at": joined})]
            if request.query_params.get("sort") == "-joined_group_at":
                members.reverse()
            page, links = paged(request, members, size, offset)
        request.state.records = len(page)
        return document({"data": [{"type": "profile", "id": pid} for pid in page], "links": links})

    @router.post("/lists/{list_id}/relationships/profiles")
    async def add_profiles_to_list(list_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            request.state.records = emulator.state.change_members(list_id, body, add=True,
                                                                  record_fault=emulator.record_fault)
        return Response(status_code=204)

    @router.delete("/lists/{list_id}/relationships/profiles")
    async def remove_profiles_from_list(list_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            request.state.records = emulator.state.change_members(list_id, body, add=False,
                                                                  record_fault=emulator.record_fault)
        return Response(status_code=204)

    @router.get("/profiles")
    async def get_profiles(request: Request):
        conditions = filters(request, PROFILE_FILTERS)
        size, offset = page_size(request, 20, 100), page_offset(request)
        fields = sparse_fields(request, "profile")
        with emulator.lock:
            ids = candidate_profiles(emulator.state, conditions)
            if conditions:
                ids = [pid for pid in ids if matches(conditions, {**emulator.state.profiles[pid], "id": pid})]
            ids = sort_items(request, ids, PROFILE_SORTS,
                             lambda pid, key: pid if key == "id" else (emulator.state.profiles[pid].get(key) or ""))
            page, links = paged(request, ids, size, offset)
            data = [profile_resource(base_url(request), pid, emulator.state.profiles[pid], fields) for pid in page]
        request.state.records = len(data)
        return document({"data": data, "links": links})

    @router.post("/profiles")
    async def create_profile(request: Request):
        body = await json_body(request)
        with emulator.lock:
            profile_id = emulator.state.create_profile(body)
            request.state.records = 1
            resource = profile_resource(base_url(request), profile_id, emulator.state.profiles[profile_id])
        return document({"data": resource, "links": {"self": resource["links"]["self"]}}, 201)

    @router.get("/profiles/{profile_id}")
    async def get_profile(profile_id: str, request: Request):
        with emulator.lock:
            resource = profile_resource(base_url(request), profile_id, emulator.state.profile(profile_id),
                                        sparse_fields(request, "profile"))
        return document({"data": resource, "links": {"self": str(request.url)}})

    @router.post("/profile-bulk-import-jobs")
    async def bulk_import_profiles(request: Request):
        body = await json_body(request)
        with emulator.lock:
            job = emulator.state.create_import_job(body)
            if int(emulator.settings.get("bulk_import_polls", 1)) <= 0:
                emulator.state.run_job(job, emulator.record_fault)
            request.state.records = len(job.profiles)
            resource = job_resource(base_url(request), job, emulator.state.job_expires_at(job))
        return document({"data": resource, "links": {"self": resource["links"]["self"]}}, 202)

    @router.get("/profile-bulk-import-jobs/{job_id}")
    async def get_bulk_import_profiles_job(job_id: str, request: Request):
        with emulator.lock:
            job = emulator.state.poll_job(job_id, int(emulator.settings.get("bulk_import_polls", 1)),
                                          emulator.record_fault)
            resource = job_resource(base_url(request), job, emulator.state.job_expires_at(job))
        return document({"data": resource, "links": {"self": str(request.url)}})

    @router.get("/profile-bulk-import-jobs/{job_id}/import-errors")
    async def get_errors_for_bulk_import_profiles_job(job_id: str, request: Request):
        size, offset = page_size(request, 20, 100), page_offset(request)
        with emulator.lock:
            job = emulator.state.jobs.get(job_id)
            if job is None:
                raise not_found("profile-bulk-import-job", job_id)
            page, links = paged(request, job.errors, size, offset)
            data = [{"type": "import-error", "id": e["id"],
                     "attributes": {k: v for k, v in e.items() if k != "id"}} for e in page]
        return document({"data": data, "links": links})

    @router.get("/profile-bulk-import-jobs/{job_id}/relationships/profiles")
    async def get_profile_ids_for_bulk_import_profiles_job(job_id: str, request: Request):
        size, offset = page_size(request, 20, 100), page_offset(request)
        with emulator.lock:
            job = emulator.state.jobs.get(job_id)
            if job is None:
                raise not_found("profile-bulk-import-job", job_id)
            page, links = paged(request, job.profile_ids, size, offset)
        return document({"data": [{"type": "profile", "id": pid} for pid in page], "links": links})

    app.include_router(router)


def candidate_profiles(state, conditions) -> list[str]:
    """Use the identifier index when a condition pins identifiers; otherwise every profile, in creation order."""
    for condition in conditions:
        values = condition.value if condition.operator == "any" else [condition.value]
        if condition.field == "id" and condition.operator in ("equals", "any"):
            return [v for v in dict.fromkeys(values) if v in state.profiles]
        if condition.field in ("email", "phone_number", "external_id") and condition.operator in ("equals", "any"):
            found = (state.by_identifier.get((condition.field, str(v).strip().lower() if condition.field == "email"
                                              else str(v).strip())) for v in values)
            return [pid for pid in dict.fromkeys(found) if pid is not None]
    return list(state.profiles)


def filters(request: Request, allowed: dict[str, set[str]]):
    raw = request.query_params.get("filter")
    if not raw:
        return []
    try:
        return parse_filter(raw, allowed)
    except FilterError as exc:
        raise invalid(str(exc), parameter="filter") from None


def sort_items(request: Request, items: list, allowed: set[str], key_of) -> list:
    raw = request.query_params.get("sort")
    if not raw:
        return items
    key = raw.removeprefix("-")
    if key not in allowed:
        raise invalid(f"'{raw}' is not a valid sort for this resource; allowed: "
                      f"{', '.join(sorted(allowed))} (prefix - for descending).", parameter="sort")
    return sorted(items, key=lambda item: key_of(item, key), reverse=raw.startswith("-"))


async def json_body(request: Request) -> dict:
    raw = await request.body()
    request.state.raw_body = raw
    if len(raw) > MAX_BODY_BYTES:
        raise KlaviyoError(413, "payload_too_large", "Payload too large.",
                           f"The maximum allowed payload size is 5MB; got {len(raw)} bytes.")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise invalid("The request body is not valid JSON.", pointer="/") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON:API document (an object with 'data').", pointer="/")
    return body
