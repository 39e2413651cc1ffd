"""Mailchimp audience state and the documented member, tag and static-segment rules (no HTTP here)."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
LISTED_STATUSES = STATUSES + ("archived",)
COMPLIANCE_STATUSES = ("unsubscribed", "cleaned")
BATCH_MAX = 500
SEGMENT_BATCH_MAX = 500
PAGE_MAX = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Per-record fault hook: lowercased email -> (code, message) when a scripted failure should hit that address.
RecordFaultHook = Callable[[str], "tuple[str, str] | None"]


def _no_fault(_email: str) -> None:
    return None


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lowercased email address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def member_key(hash_or_email: str) -> str:
    """Paths accept the subscriber hash or the email address itself."""
    return hash_or_email.lower() if "@" not in hash_or_email else subscriber_hash(hash_or_email)


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class MailchimpError(Exception):
    """A request Mailchimp refuses: becomes a problem-detail document (type, title, status, detail, instance)."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors


def invalid(detail: str, errors: list[dict] | None = None) -> MailchimpError:
    return MailchimpError(400, "Invalid Resource", detail, errors)


def not_found() -> MailchimpError:
    return MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")


@dataclass(slots=True)
class Member:
    email_address: str
    status: str
    merge_fields: dict
    timestamp_signup: str
    last_changed: str
    email_type: str = "html"
    language: str = ""
    vip: bool = False
    source: str = "API - Generic"
    status_before_archive: str | None = None

    @property
    def id(self) -> str:
        return subscriber_hash(self.email_address)


@dataclass
class Segment:
    id: int
    name: str
    created_at: str
    updated_at: str
    type: str = "static"
    members: dict[str, str] = field(default_factory=dict)  # subscriber hash -> date added


@dataclass
class Audience:
    id: str
    web_id: int
    name: str
    date_created: str
    members: dict[str, Member] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    segments: dict[int, Segment] = field(default_factory=dict)
    next_segment_id: int = 1000

    # -- reading ------------------------------------------------------------------------------------
    def member(self, hash_or_email: str) -> Member:
        found = self.members.get(member_key(hash_or_email))
        if found is None:
            raise not_found()
        return found

    def member_tags(self, key: str) -> list[tuple[Segment, str]]:
        return [(s, s.members[key]) for s in self.segments.values() if key in s.members]

    def segment(self, segment_id: int | str) -> Segment:
        try:
            found = self.segments.get(int(segment_id))
        except ValueError:
            found = None
        if found is None:
            raise not_found()
        return found

    def segment_by_name(self, name: str) -> Segment | None:
        return next((s for s in self.segments.values() if s.name == name), None)

    def stats(self) -> dict:
        counts = {s: 0 for s in LISTED_STATUSES}
        for member in self.members.values():
            counts[member.status] += 1
        return {"member_count": counts["subscribed"], "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"], "total_contacts": len(self.members)}

    # -- members ------------------------------------------------------------------------------------
    def upsert(self, subscriber: str, body: dict) -> tuple[Member, bool]:
        """PUT /lists/{id}/members/{hash}: create with status_if_new, or update (status only if given)."""
        email = _require_email(body)
        if member_key(subscriber) != subscriber_hash(email):
            raise invalid(f"The subscriber hash {subscriber} in the URL does not match the email_address "
                          f"{email} (expected {subscriber_hash(email)}).")
        status = _optional_status(body, "status")
        status_if_new = _optional_status(body, "status_if_new")
        existing = self.members.get(subscriber_hash(email))
        if existing is None or existing.status == "archived":
            new_status = status_if_new  # documented as required when the address is not on the list yet
            if new_status is None:
                raise invalid("The resource submitted could not be validated.",
                              [{"field": "status_if_new", "message": "Schema describes string, NULL found instead"}])
            return self._create(email, new_status, body, restoring=existing), True
        if status is not None:
            self._change_status(existing, status)
        _apply_fields(existing, body)
        return existing, False

    def add(self, body: dict) -> Member:
        """POST /lists/{id}/members: create only."""
        email = _require_email(body)
        status = _optional_status(body, "status")
        if status is None:
            raise invalid("The resource submitted could not be validated.",
                          [{"field": "status", "message": "Schema describes string, NULL found instead"}])
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise invalid(f"tags must be an array of tag names; got {tags!r}.")
        existing = self.members.get(subscriber_hash(email))
        if existing is not None and existing.status != "archived":
            raise MailchimpError(400, "Member Exists",
                                 f"{email} is already a list member. Use PUT to insert or update list members.")
        member = self._create(email, status, body, restoring=existing)
        stamp = now_iso()
        for name in tags:
            (self.segment_by_name(name) or self._new_segment(name)).members.setdefault(member.id, stamp)
        return member

    def patch(self, subscriber: str, body: dict) -> Member:
        member = self.member(subscriber)
        if "email_address" in body and subscriber_hash(str(body["email_address"])) != member.id:
            raise invalid("Changing the email address of a member is not supported by this sandbox.")
        status = _optional_status(body, "status")
        if status is not None:
            self._change_status(member, status)
        _apply_fields(member, body)
        return member

    def archive(self, subscriber: str) -> None:
        """DELETE /lists/{id}/members/{hash}: archive (the contact stays, can be re-added)."""
        member = self.member(subscriber)
        if member.status == "archived":
            raise not_found()
        member.status_before_archive = member.status
        member.status = "archived"
        member.last_changed = now_iso()

    def delete_permanent(self, subscriber: str) -> None:
        """POST .../actions/delete-permanent: forget the address; it can never be re-imported."""
        member = self.member(subscriber)
        del self.members[member.id]
        self.forgotten.add(member.id)
        for segment in self.segments.values():
            segment.members.pop(member.id, None)

    def _create(self, email: str, status: str, body: dict, restoring: Member | None) -> Member:
        key = subscriber_hash(email)
        if key in self.forgotten:
            raise MailchimpError(400, "Forgotten Email Not Subscribed",
                                 f"{email} was permanently deleted and cannot be re-imported. "
                                 "The contact must re-subscribe to get back on the list.")
        if restoring is not None and restoring.status_before_archive in COMPLIANCE_STATUSES \
                and status in ("subscribed", "pending", "transactional"):
            raise _compliance(email)
        stamp = now_iso()
        member = Member(email_address=email.strip(), status=status, merge_fields={}, timestamp_signup=stamp,
                        last_changed=stamp)
        _apply_fields(member, body)
        self.members[key] = member
        return member

    def _change_status(self, member: Member, status: str) -> None:
        if status == member.status:
            return
        reopt_in = status in ("subscribed", "pending", "transactional")
        if (member.status == "cleaned" and reopt_in) or (member.status == "unsubscribed" and status != "pending"):
            raise _compliance(member.email_address)
        member.status = status
        member.last_changed = now_iso()

    def batch_subscribe(self, body: dict, record_fault: RecordFaultHook = _no_fault) -> dict:
        """POST /lists/{id}: up to 500 members; HTTP 200 with per-address errors."""
        members = body.get("members")
        if not isinstance(members, list):
            raise invalid("The resource submitted could not be validated.",
                          [{"field": "members", "message": "Schema describes array, " + _json_type(members)
                            + " found instead"}])
        if len(members) > BATCH_MAX:
            raise invalid(f"You can only add or update up to {BATCH_MAX} members in a single request; "
                          f"got {len(members)}.")
        update_existing = bool(body.get("update_existing", False))
        created, updated, errors = [], [], []
        for item in members:
            email = str((item or {}).get("email_address") or "")
            fault = record_fault(email.strip().lower())
            if fault is not None:
                errors.append({"email_address": email, "error_code": fault[0], "error": fault[1], "field": "",
                               "field_message": ""})
                continue
            try:
                if not _EMAIL.match(email.strip()):
                    raise invalid(f"{email or '(empty)'} looks fake or invalid, please enter a real email address.")
                status = _optional_status(item, "status")
                if status is None:
                    raise invalid("status is required for every member of a batch (one of "
                                  + ", ".join(STATUSES) + ").")
                existing = self.members.get(subscriber_hash(email))
                if existing is not None and existing.status != "archived":
                    if not update_existing:
                        errors.append({"email_address": email, "error_code": "ERROR_CONTACT_EXISTS",
                                       "error": f"{email} is already a list member. Use PUT to insert or update "
                                                "list members.", "field": "", "field_message": ""})
                        continue
                    self._change_status(existing, status)
                    _apply_fields(existing, item)
                    updated.append(existing)
                else:
                    created.append(self._create(email, status, item, restoring=existing))
            except MailchimpError as exc:
                errors.append({"email_address": email, "error_code": "ERROR_GENERIC",
                               "error": f"{exc.title}: {exc.detail}", "field": "", "field_message": ""})
        return {"created": created, "updated": updated, "errors": errors}

    # -- tags and static segments (one store) -------------------------------------------------------
    def create_segment(self, body: dict) -> Segment:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("The resource submitted could not be validated.",
                          [{"field": "name", "message": "This value should not be blank."}])
        if "static_segment" not in body:
            raise invalid("This sandbox supports static segments (tags) only: send static_segment, an array "
                          "of email addresses (may be empty).")
        emails = body["static_segment"]
        if not isinstance(emails, list):
            raise invalid("static_segment must be an array of email addresses.")
        if self.segment_by_name(name) is not None:
            raise invalid(f'A segment or tag named "{name}" already exists in this audience.')
        segment = self._new_segment(name)
        stamp = now_iso()
        for email in emails:  # addresses not on the list are ignored, as documented
            key = subscriber_hash(str(email))
            if key in self.members and self.members[key].status != "archived":
                segment.members[key] = stamp
        return segment

    def _new_segment(self, name: str) -> Segment:
        stamp = now_iso()
        segment = Segment(id=self.next_segment_id, name=name, created_at=stamp, updated_at=stamp)
        self.segments[segment.id] = segment
        self.next_segment_id += 1
        return segment

    def batch_segment(self, segment_id: str, body: dict, record_fault: RecordFaultHook = _no_fault) -> dict:
        """POST /lists/{id}/segments/{segment_id}: members_to_add / members_to_remove, 500 each."""
        segment = self.segment(segment_id)
        to_add = body.get("members_to_add") or []
        to_remove = body.get("members_to_remove") or []
        if not isinstance(to_add, list) or not isinstance(to_remove, list):
            raise invalid("members_to_add and members_to_remove must be arrays of email addresses.")
        if len(to_add) > SEGMENT_BATCH_MAX or len(to_remove) > SEGMENT_BATCH_MAX:
            raise invalid("Maximum allowed member items exceeded, please provide at most 500 items in "
                          "members_to_add field or members_to_remove field")
        added, removed, missing, faulted = [], [], [], {}
        stamp = now_iso()
        to_add = self._without_faults(to_add, record_fault, faulted)
        to_remove = self._without_faults(to_remove, record_fault, faulted)
        for email in to_add:
            member = self.members.get(subscriber_hash(str(email)))
            if member is None or member.status == "archived":
                missing.append(str(email))
                continue
            segment.members.setdefault(member.id, stamp)
            added.append(member)
        not_in_segment = []
        for email in to_remove:
            member = self.members.get(subscriber_hash(str(email)))
            if member is None or member.status == "archived":
                missing.append(str(email))
            elif segment.members.pop(member.id, None) is None:
                not_in_segment.append(str(email))
            else:
                removed.append(member)
        errors = []
        if missing:
            errors.append({"email_addresses": missing, "error": "Email addresses do not belong to this list"})
        if not_in_segment:
            errors.append({"email_addresses": not_in_segment, "error": "Email addresses are not in this segment"})
        errors.extend({"email_addresses": emails, "error": message} for message, emails in faulted.items())
        if added or removed:
            segment.updated_at = stamp
        return {"added": added, "removed": removed, "errors": errors}

    @staticmethod
    def _without_faults(emails: list, record_fault: RecordFaultHook, faulted: dict[str, list[str]]) -> list:
        kept = []
        for email in emails:
            fault = record_fault(str(email).strip().lower())
            if fault is None:
                kept.append(email)
            else:
                faulted.setdefault(fault[1], []).append(str(email))
        return kept

    def set_member_tags(self, subscriber: str, body: dict) -> None:
        """POST /lists/{id}/members/{hash}/tags: active adds (creating the tag), inactive removes."""
        member = self.member(subscriber)
        tags = body.get("tags")
        if not isinstance(tags, list):
            raise invalid("The resource submitted could not be validated.",
                          [{"field": "tags", "message": "Schema describes array, " + _json_type(tags)
                            + " found instead"}])
        stamp = now_iso()
        for tag in tags:
            name = (tag or {}).get("name")
            status = (tag or {}).get("status")
            if not isinstance(name, str) or not name or status not in ("active", "inactive"):
                raise invalid(f"Each tag needs a name and a status of active or inactive; got {tag!r}.")
            segment = self.segment_by_name(name)
            if status == "active":
                segment = segment or self._new_segment(name)
                segment.members.setdefault(member.id, stamp)
            elif segment is not None:
                segment.members.pop(member.id, None)


def _compliance(email: str) -> MailchimpError:
    return MailchimpError(400, "Member In Compliance State",
                          f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
                          "and cannot be subscribed.")


def _require_email(body: dict) -> str:
    email = body.get("email_address")
    if not isinstance(email, str) or not email.strip():
        raise invalid("The resource submitted could not be validated.",
                      [{"field": "email_address", "message": "This value should not be blank."}])
    if not _EMAIL.match(email.strip()):
        raise invalid(f"{email} looks fake or invalid, please enter a real email address.")
    return email.strip()


def _optional_status(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if value not in STATUSES:
        raise invalid("The resource submitted could not be validated.",
                      [{"field": key, "message": f"Data presented is not one of the accepted values: "
                                                 f"{', '.join(STATUSES)}; got {value!r}."}])
    return value


def _apply_fields(member: Member, body: dict) -> None:
    merge = body.get("merge_fields")
    if merge is not None:
        if not isinstance(merge, dict):
            raise invalid("merge_fields must be an object of merge tag -> value.")
        member.merge_fields.update(merge)
    for key in ("email_type", "language", "vip"):
        if key in body and body[key] is not None:
            setattr(member, key, body[key])
    member.last_changed = now_iso()


def _json_type(value) -> str:
    return {type(None): "NULL", dict: "object", str: "string", int: "integer", bool: "boolean"}.get(
        type(value), type(value).__name__)
