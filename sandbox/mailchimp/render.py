"""Mailchimp JSON shapes: members, audiences, segments, problem documents, and the `fields`/`exclude_fields` filter."""
from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse

from sandbox.mailchimp.store import Audience, Member, Segment

ERROR_DOC_URL = "https://mailchimp.com/developer/marketing/docs/errors/"
STATUS_TITLES = {400: "Invalid Resource", 401: "API Key Invalid", 403: "Forbidden", 404: "Resource Not Found",
                 405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
                 503: "Service Unavailable"}


def problem(status: int, title: str | None, detail: str, errors: list[dict] | None = None,
            headers: dict | None = None) -> JSONResponse:
    """Mailchimp's problem-detail error document (application/problem+json)."""
    body = {"type": ERROR_DOC_URL, "title": title or STATUS_TITLES.get(status, "Error"), "status": status,
            "detail": detail, "instance": str(uuid.uuid4())}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def member_json(audience: Audience, member: Member) -> dict:
    key = member.id
    tags = [{"id": segment.id, "name": segment.name} for segment, _ in audience.member_tags(key)]
    first, last = member.merge_fields.get("FNAME", ""), member.merge_fields.get("LNAME", "")
    return {
        "id": key, "email_address": member.email_address, "unique_email_id": key[:10], "contact_id": key,
        "full_name": f"{first} {last}".strip(), "web_id": int(key[:7], 16), "email_type": member.email_type,
        "status": member.status, "merge_fields": dict(member.merge_fields),
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0}, "ip_signup": "",
        "timestamp_signup": member.timestamp_signup, "ip_opt": "", "timestamp_opt": member.timestamp_signup,
        "member_rating": 2, "last_changed": member.last_changed, "language": member.language, "vip": member.vip,
        "email_client": "", "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0,
                                         "country_code": "", "timezone": ""},
        "source": member.source, "tags_count": len(tags), "tags": tags, "list_id": audience.id,
    }


def audience_json(audience: Audience) -> dict:
    stats = audience.stats()
    return {
        "id": audience.id, "web_id": audience.web_id, "name": audience.name,
        "contact": {"company": "RavenStack", "address1": "1 Sandbox Way", "city": "Springfield", "state": "",
                    "zip": "00000", "country": "US"},
        "permission_reminder": "You signed up for RavenStack product news.",
        "campaign_defaults": {"from_name": "RavenStack", "from_email": "news@ravenstack.example.com",
                              "subject": "", "language": "en"},
        "date_created": audience.date_created, "list_rating": 0, "email_type_option": False,
        "visibility": "prv", "double_optin": False, "marketing_permissions": False,
        "stats": {"member_count": stats["member_count"], "total_contacts": stats["total_contacts"],
                  "unsubscribe_count": stats["unsubscribe_count"], "cleaned_count": stats["cleaned_count"],
                  "campaign_count": 0},
    }


def segment_json(audience: Audience, segment: Segment, visible_count: int) -> dict:
    return {"id": segment.id, "name": segment.name, "member_count": visible_count, "type": segment.type,
            "created_at": segment.created_at, "updated_at": segment.updated_at,
            "options": {"match": "any", "conditions": []}, "list_id": audience.id}


def _paths(spec: str | None) -> list[list[str]]:
    return [p.strip().split(".") for p in (spec or "").split(",") if p.strip()]


def _keep(value, paths: list[list[str]]):
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict) or any(not p for p in paths):
        return value
    result = {}
    for key, item in value.items():
        sub = [p[1:] for p in paths if p[0] == key]
        if sub:
            result[key] = _keep(item, sub)
    return result


def _drop(value, paths: list[list[str]]):
    if isinstance(value, list):
        return [_drop(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        sub = [p[1:] for p in paths if p[0] == key]
        if any(not p for p in sub):
            continue
        result[key] = _drop(item, sub) if sub else item
    return result


def select_fields(body: dict, fields: str | None, exclude_fields: str | None) -> dict:
    """Apply Mailchimp's partial-response parameters (comma-separated dot paths)."""
    if fields:
        body = _keep(body, _paths(fields))
    if exclude_fields:
        body = _drop(body, _paths(exclude_fields))
    return body
