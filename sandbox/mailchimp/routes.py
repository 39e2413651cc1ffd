"""FastAPI routes of the Mailchimp Marketing API v3 emulator (audiences, members, batch, tags, static segments)."""
from __future__ import annotations

import json
from itertools import islice

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.mailchimp.render import audience_json, member_json, problem, segment_json, select_fields
from sandbox.mailchimp.store import LISTED_STATUSES, PAGE_MAX, Audience, MailchimpError, invalid, not_found


def add_mailchimp_routes(app: FastAPI, emulator) -> None:
    """Register every /3.0 route on the app; `emulator` holds the audiences, lock and settings."""

    @app.exception_handler(MailchimpError)
    async def mailchimp_error(request: Request, exc: MailchimpError):
        return problem(exc.status, exc.title, exc.detail, exc.errors)

    router = APIRouter(prefix="/3.0", dependencies=[Depends(emulator.authenticate)])

    def audience(list_id: str) -> Audience:
        found = emulator.audiences.get(list_id)
        if found is None:
            raise not_found()
        return found

    def respond(request: Request, body: dict, status: int = 200) -> JSONResponse:
        params = request.query_params
        return JSONResponse(select_fields(body, params.get("fields"), params.get("exclude_fields")),
                            status_code=status)

    @router.get("/ping")
    async def ping():
        return {"health_status": "Everything's Chimpy!"}

    @router.get("/lists")
    async def get_all_lists(request: Request):
        count, offset = page_params(request)
        with emulator.lock:
            items = list(emulator.audiences.values())
            body = {"lists": [audience_json(a) for a in items[offset:offset + count]], "total_items": len(items),
                    "constraints": {"may_create": False, "max_instances": len(items), "current_total_instances":
                                    len(items)}}
        request.state.records = len(body["lists"])
        return respond(request, body)

    @router.get("/lists/{list_id}")
    async def get_list(list_id: str, request: Request):
        with emulator.lock:
            return respond(request, audience_json(audience(list_id)))

    @router.post("/lists/{list_id}")
    async def batch_list_members(list_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            outcome = target.batch_subscribe(body, emulator.record_fault)
            request.state.records = len(body.get("members") or [])
            result = {"new_members": [member_json(target, m) for m in outcome["created"]],
                      "updated_members": [member_json(target, m) for m in outcome["updated"]],
                      "errors": outcome["errors"], "total_created": len(outcome["created"]),
                      "total_updated": len(outcome["updated"]), "error_count": len(outcome["errors"])}
        return respond(request, result)

    @router.get("/lists/{list_id}/members")
    async def get_list_members_info(list_id: str, request: Request):
        count, offset = page_params(request)
        status = request.query_params.get("status")
        if status is not None and status not in LISTED_STATUSES:
            raise invalid(f"status must be one of {', '.join(LISTED_STATUSES)}; got {status!r}.")
        with emulator.lock:
            target = audience(list_id)
            if status is None:  # no filter: slice the insertion-ordered store without copying it
                total = len(target.members)
                chosen = list(islice(target.members.values(), offset, offset + count))
            else:
                matching = [m for m in target.members.values() if m.status == status]
                total, chosen = len(matching), matching[offset:offset + count]
            page = [member_json(target, m) for m in chosen]
        request.state.records = len(page)
        return respond(request, {"members": page, "list_id": list_id, "total_items": total})

    @router.post("/lists/{list_id}/members")
    async def add_list_member(list_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            request.state.records = 1
            return respond(request, member_json(target, target.add(body)))

    @router.get("/lists/{list_id}/members/{subscriber_hash}")
    async def get_list_member(list_id: str, subscriber_hash: str, request: Request):
        with emulator.lock:
            target = audience(list_id)
            return respond(request, member_json(target, target.member(subscriber_hash)))

    @router.put("/lists/{list_id}/members/{subscriber_hash}")
    async def set_list_member(list_id: str, subscriber_hash: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            member, _created = target.upsert(subscriber_hash, body)
            request.state.records = 1
            return respond(request, member_json(target, member))

    @router.patch("/lists/{list_id}/members/{subscriber_hash}")
    async def update_list_member(list_id: str, subscriber_hash: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            request.state.records = 1
            return respond(request, member_json(target, target.patch(subscriber_hash, body)))

    @router.delete("/lists/{list_id}/members/{subscriber_hash}")
    async def delete_list_member(list_id: str, subscriber_hash: str, request: Request):
        with emulator.lock:
            audience(list_id).archive(subscriber_hash)
        request.state.records = 1
        return Response(status_code=204)

    @router.post("/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent")
    async def delete_list_member_permanent(list_id: str, subscriber_hash: str, request: Request):
        with emulator.lock:
            audience(list_id).delete_permanent(subscriber_hash)
        request.state.records = 1
        return Response(status_code=204)

    @router.get("/lists/{list_id}/members/{subscriber_hash}/tags")
    async def get_list_member_tags(list_id: str, subscriber_hash: str, request: Request):
        count, offset = page_params(request)
        with emulator.lock:
            target = audience(list_id)
            member = target.member(subscriber_hash)
            tags = [{"id": s.id, "name": s.name, "date_added": added} for s, added in target.member_tags(member.id)]
        return respond(request, {"tags": tags[offset:offset + count], "total_items": len(tags)})

    @router.post("/lists/{list_id}/members/{subscriber_hash}/tags")
    async def update_list_member_tags(list_id: str, subscriber_hash: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            audience(list_id).set_member_tags(subscriber_hash, body)
        request.state.records = len(body.get("tags") or [])
        return Response(status_code=204)

    @router.get("/lists/{list_id}/segments")
    async def list_segments(list_id: str, request: Request):
        count, offset = page_params(request)
        kind = request.query_params.get("type")
        if kind is not None and kind not in ("saved", "static", "fuzzy"):
            raise invalid(f"type must be one of saved, static, fuzzy; got {kind!r}.")
        flags = include_flags(request)
        with emulator.lock:
            target = audience(list_id)
            segments = [s for s in target.segments.values() if kind is None or s.type == kind]
            page = [segment_json(target, s, len(visible_members(target, s, flags)))
                    for s in segments[offset:offset + count]]
        return respond(request, {"segments": page, "list_id": list_id, "total_items": len(segments)})

    @router.post("/lists/{list_id}/segments")
    async def create_segment(list_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            segment = target.create_segment(body)
            request.state.records = len(body.get("static_segment") or [])
            return respond(request, segment_json(target, segment, len(visible_members(target, segment, include_flags(request)))))

    @router.get("/lists/{list_id}/segments/{segment_id}")
    async def get_segment(list_id: str, segment_id: str, request: Request):
        flags = include_flags(request)
        with emulator.lock:
            target = audience(list_id)
            segment = target.segment(segment_id)
            return respond(request, segment_json(target, segment, len(visible_members(target, segment, flags))))

    @router.delete("/lists/{list_id}/segments/{segment_id}")
    async def delete_segment(list_id: str, segment_id: str):
        with emulator.lock:
            target = audience(list_id)
            del target.segments[target.segment(segment_id).id]
        return Response(status_code=204)

    @router.post("/lists/{list_id}/segments/{segment_id}")
    async def batch_segment_members(list_id: str, segment_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            outcome = target.batch_segment(segment_id, body, emulator.record_fault)
            request.state.records = len(body.get("members_to_add") or []) + len(body.get("members_to_remove") or [])
            result = {"members_added": [member_json(target, m) for m in outcome["added"]],
                      "members_removed": [member_json(target, m) for m in outcome["removed"]],
                      "errors": outcome["errors"], "total_added": len(outcome["added"]),
                      "total_removed": len(outcome["removed"]),
                      "error_count": sum(len(e["email_addresses"]) for e in outcome["errors"])}
        return respond(request, result)

    @router.get("/lists/{list_id}/segments/{segment_id}/members")
    async def get_segment_members_list(list_id: str, segment_id: str, request: Request):
        count, offset = page_params(request)
        flags = include_flags(request)
        with emulator.lock:
            target = audience(list_id)
            members = visible_members(target, target.segment(segment_id), flags)
            page = [member_json(target, m) for m in members[offset:offset + count]]
        request.state.records = len(page)
        return respond(request, {"members": page, "total_items": len(members)})

    @router.post("/lists/{list_id}/segments/{segment_id}/members")
    async def create_segment_member(list_id: str, segment_id: str, request: Request):
        body = await json_body(request)
        with emulator.lock:
            target = audience(list_id)
            email = str(body.get("email_address") or "")
            outcome = target.batch_segment(segment_id, {"members_to_add": [email]}, emulator.record_fault)
            request.state.records = 1
            if outcome["errors"]:
                raise invalid(f"{email}: {outcome['errors'][0]['error']}")
            return respond(request, member_json(target, outcome["added"][0]))

    @router.delete("/lists/{list_id}/segments/{segment_id}/members/{subscriber_hash}")
    async def remove_segment_member(list_id: str, segment_id: str, subscriber_hash: str, request: Request):
        with emulator.lock:
            target = audience(list_id)
            segment = target.segment(segment_id)
            member = target.member(subscriber_hash)
            if segment.members.pop(member.id, None) is None:
                raise not_found()
        request.state.records = 1
        return Response(status_code=204)

    @router.get("/lists/{list_id}/tag-search")
    async def tag_search(list_id: str, request: Request):
        prefix = (request.query_params.get("name") or "").lower()
        with emulator.lock:
            tags = [{"id": s.id, "name": s.name} for s in audience(list_id).segments.values()
                    if s.type == "static" and s.name.lower().startswith(prefix)]
        return respond(request, {"tags": tags, "total_items": len(tags)})

    app.include_router(router)


def page_params(request: Request) -> tuple[int, int]:
    """`count` (default 10, at most 1000) and `offset` (default 0), validated."""
    values = {}
    for name, default in (("count", 10), ("offset", 0)):
        raw = request.query_params.get(name)
        try:
            values[name] = default if raw is None else int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer; got {raw!r}.") from None
        if values[name] < 0:
            raise invalid(f"{name} must not be negative; got {raw!r}.")
    if values["count"] > PAGE_MAX:
        raise invalid(f"count may be at most {PAGE_MAX}; got {values['count']}.")
    return values["count"], values["offset"]


def include_flags(request: Request) -> set[str]:
    """Statuses the segment endpoints show: cleaned/transactional/unsubscribed only when asked for."""
    shown = {"subscribed", "pending"}
    for status in ("cleaned", "transactional", "unsubscribed"):
        if request.query_params.get(f"include_{status}", "false").lower() == "true":
            shown.add(status)
    return shown


def visible_members(target: Audience, segment, shown: set[str]) -> list:
    members = (target.members.get(key) for key in segment.members)
    return [m for m in members if m is not None and m.status in shown]


async def json_body(request: Request) -> dict:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise MailchimpError(400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.") from None
    if not isinstance(body, dict):
        raise MailchimpError(400, "JSON Parse Error", "The request body must be a JSON object.")
    return body
