"""Klaviyo account state: profiles, lists with members, bulk profile import jobs, and their documented rules."""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

RELATIONSHIP_MAX = 1000
BULK_IMPORT_MAX = 10_000
IDENTIFIERS = ("email", "phone_number", "external_id")
PROFILE_ATTRIBUTES = ("email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale",
                      "title", "image", "location", "properties")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def profile_id_for(seed: str) -> str:
    """A deterministic 26-character ULID-looking id (hex digits are valid Crockford base32)."""
    return "01" + hashlib.sha256(seed.encode()).hexdigest()[:24].upper()


def list_id_for(seed: str) -> str:
    number = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    chars = []
    for _ in range(6):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


class KlaviyoError(Exception):
    """One JSON:API error object; the handler wraps it in {"errors": [...]}."""

    def __init__(self, status: int, code: str, title: str, detail: str, *, pointer: str | None = None,
                 parameter: str | None = None, meta: dict | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.pointer, self.parameter, self.meta, self.headers = pointer, parameter, meta or {}, headers

    def as_error(self) -> dict:
        source = {"pointer": self.pointer} if self.pointer else {}
        if self.parameter:
            source["parameter"] = self.parameter
        return {"id": str(uuid.uuid4()), "status": self.status, "code": self.code, "title": self.title,
                "detail": self.detail, "source": source or {"pointer": "/data/"}, "links": {}, "meta": self.meta}


def invalid(detail: str, *, pointer: str | None = None, parameter: str | None = None) -> KlaviyoError:
    return KlaviyoError(400, "invalid", "Invalid input.", detail, pointer=pointer, parameter=parameter)


def not_found(kind: str, identifier: str) -> KlaviyoError:
    return KlaviyoError(404, "not_found", "Not found.", f"A {kind} with id {identifier} does not exist.")


@dataclass
class KlaviyoList:
    id: str
    name: str
    created: str
    updated: str
    opt_in_process: str = "single_opt_in"
    members: dict[str, str] = field(default_factory=dict)  # profile id -> joined_group_at


@dataclass
class ImportJob:
    id: str
    created_at: str
    profiles: list[dict]
    list_ids: list[str]
    status: str = "queued"
    polls: int = 0
    started_at: str | None = None
    completed_at: str | None = None
    profile_ids: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


class KlaviyoState:
    def __init__(self) -> None:
        self.profiles: dict[str, dict] = {}  # id -> attributes (incl. created/updated)
        self.by_identifier: dict[tuple[str, str], str] = {}  # ("email", lowercased) -> id
        self.lists: dict[str, KlaviyoList] = {}
        self.jobs: dict[str, ImportJob] = {}
        self._counter = 0

    # -- profiles -----------------------------------------------------------------------------------
    def find_profile(self, attributes: dict) -> str | None:
        for key in IDENTIFIERS:
            value = attributes.get(key)
            if value:
                found = self.by_identifier.get((key, _norm(key, value)))
                if found:
                    return found
        return None

    def profile(self, profile_id: str) -> dict:
        found = self.profiles.get(profile_id)
        if found is None:
            raise not_found("profile", profile_id)
        return found

    def create_profile(self, body: dict) -> str:
        data = _resource(body, "profile")
        attributes = _profile_attributes(data.get("attributes"), "/data/attributes")
        existing = self.find_profile(attributes)
        if existing is not None:
            raise KlaviyoError(409, "duplicate_profile", "Conflict.",
                               "A profile already exists with one of these identifiers.",
                               pointer="/data/attributes", meta={"duplicate_profile_id": existing})
        return self.store_profile(None, attributes)

    def store_profile(self, profile_id: str | None, attributes: dict) -> str:
        """Create (profile_id None) or merge attributes into an existing profile; index its identifiers."""
        stamp = now_iso()
        if profile_id is None:
            self._counter += 1
            seed_key = next((f"{k}:{_norm(k, attributes[k])}" for k in IDENTIFIERS if attributes.get(k)),
                            f"n:{self._counter}")
            profile_id = profile_id_for(seed_key)
            while profile_id in self.profiles:
                self._counter += 1
                profile_id = profile_id_for(f"{seed_key}:{self._counter}")
            self.profiles[profile_id] = {"created": stamp}
        record = self.profiles[profile_id]
        for key, value in attributes.items():
            if key == "properties" and isinstance(value, dict):
                record.setdefault("properties", {}).update(value)
            else:
                record[key] = value
        record["updated"] = stamp
        for key in IDENTIFIERS:
            if record.get(key):
                self.by_identifier[(key, _norm(key, record[key]))] = profile_id
        return profile_id

    # -- lists --------------------------------------------------------------------------------------
    def klaviyo_list(self, list_id: str) -> KlaviyoList:
        found = self.lists.get(list_id)
        if found is None:
            raise not_found("list", list_id)
        return found

    def create_list(self, body: dict) -> KlaviyoList:
        data = _resource(body, "list")
        attributes = data.get("attributes")
        name = attributes.get("name") if isinstance(attributes, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise invalid("'name' is a required field and must be a non-empty string.",
                          pointer="/data/attributes/name")
        opt_in = attributes.get("opt_in_process") or "single_opt_in"
        if opt_in not in ("single_opt_in", "double_opt_in"):
            raise invalid(f"opt_in_process must be single_opt_in or double_opt_in; got {opt_in!r}.",
                          pointer="/data/attributes/opt_in_process")
        self._counter += 1
        list_id = list_id_for(f"list:{name}:{self._counter}")
        stamp = now_iso()
        created = KlaviyoList(id=list_id, name=name, created=stamp, updated=stamp, opt_in_process=opt_in)
        self.lists[list_id] = created
        return created

    def change_members(self, list_id: str, body: dict, add: bool, record_fault=lambda _id: None) -> int:
        """POST/DELETE /api/lists/{id}/relationships/profiles: at most 1000 existing profile ids."""
        target = self.klaviyo_list(list_id)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise invalid("'data' must be an array of {\"type\": \"profile\", \"id\": ...} objects.",
                          pointer="/data")
        if len(data) > RELATIONSHIP_MAX:
            raise invalid(f"This endpoint accepts a maximum of {RELATIONSHIP_MAX} profiles per call; "
                          f"got {len(data)}.", pointer="/data")
        ids = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type") != "profile" or not isinstance(item.get("id"), str):
                raise invalid(f"Item {index} must be {{\"type\": \"profile\", \"id\": \"...\"}}; got {item!r}.",
                              pointer=f"/data/{index}")
            ids.append(item["id"])
        unknown = [i for i in ids if i not in self.profiles]
        if unknown:
            raise invalid(f"Invalid profile ids (no such profile): {', '.join(unknown[:20])}"
                          + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""), pointer="/data")
        for profile_id in ids:
            fault = record_fault(profile_id)
            if fault is not None:
                raise KlaviyoError(fault[0], fault[1], "Injected fault.", fault[2], pointer="/data")
        stamp = now_iso()
        for profile_id in ids:
            if add:
                target.members.setdefault(profile_id, stamp)
            else:
                target.members.pop(profile_id, None)
        target.updated = stamp
        return len(ids)

    # -- bulk import jobs ---------------------------------------------------------------------------
    def create_import_job(self, body: dict) -> ImportJob:
        data = _resource(body, "profile-bulk-import-job")
        attributes = data.get("attributes") or {}
        profiles = ((attributes.get("profiles") or {}) if isinstance(attributes, dict) else {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            raise invalid("'profiles.data' must be a non-empty array of profile objects.",
                          pointer="/data/attributes/profiles/data")
        if len(profiles) > BULK_IMPORT_MAX:
            raise invalid(f"A bulk import job accepts up to {BULK_IMPORT_MAX} profiles; got {len(profiles)}.",
                          pointer="/data/attributes/profiles/data")
        list_refs = (((data.get("relationships") or {}).get("lists") or {}).get("data")) or []
        list_ids = []
        for index, ref in enumerate(list_refs):
            if not isinstance(ref, dict) or ref.get("type") != "list" or ref.get("id") not in self.lists:
                raise invalid(f"List relationship {index} must name an existing list; got {ref!r}.",
                              pointer=f"/data/relationships/lists/data/{index}")
            list_ids.append(ref["id"])
        self._counter += 1
        job = ImportJob(id=profile_id_for(f"job:{self._counter}"), created_at=now_iso(), profiles=profiles,
                        list_ids=list_ids)
        self.jobs[job.id] = job
        return job

    def poll_job(self, job_id: str, polls_to_complete: int, record_fault=lambda _id: None) -> ImportJob:
        """Each status read advances the job; it completes (and applies) at the configured poll."""
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found("profile-bulk-import-job", job_id)
        if job.status in ("complete", "cancelled"):
            return job
        job.polls += 1
        job.started_at = job.started_at or now_iso()
        if job.polls >= polls_to_complete:
            self.run_job(job, record_fault)
        else:
            job.status = "processing"
        return job

    def run_job(self, job: ImportJob, record_fault=lambda _id: None) -> None:
        """Apply every profile; a profile whose email (lowercased) has a scripted fault becomes an import error."""
        for index, item in enumerate(job.profiles):
            pointer = f"/data/attributes/profiles/data/{index}"
            try:
                email = ((item or {}).get("attributes") or {}).get("email") if isinstance(item, dict) else None
                fault = record_fault(str(email).strip().lower()) if email else None
                if fault is not None:
                    raise KlaviyoError(400, fault[1], "Injected fault.", fault[2], pointer=pointer)
                if not isinstance(item, dict) or item.get("type") != "profile":
                    raise invalid("Each profile must be a {\"type\": \"profile\", \"attributes\": {...}} object.",
                                  pointer=pointer)
                attributes = _profile_attributes(item.get("attributes"), pointer + "/attributes")
                profile_id = item.get("id") or self.find_profile(attributes)
                if profile_id is not None and profile_id not in self.profiles:
                    raise invalid(f"Profile id {profile_id} does not exist.", pointer=pointer + "/id")
                profile_id = self.store_profile(profile_id, attributes)
            except KlaviyoError as exc:
                job.errors.append({"id": str(uuid.uuid4()), "code": exc.code, "title": exc.title,
                                   "detail": exc.detail, "source": {"pointer": exc.pointer or pointer},
                                   "original_payload": item if isinstance(item, dict) else None})
                continue
            job.profile_ids.append(profile_id)
            for list_id in job.list_ids:
                self.lists[list_id].members.setdefault(profile_id, now_iso())
        job.status = "complete"
        job.completed_at = now_iso()

    def job_expires_at(self, job: ImportJob) -> str:
        created = datetime.fromisoformat(job.created_at)
        return (created + timedelta(days=30)).isoformat(timespec="seconds")


def _norm(key: str, value: str) -> str:
    return value.strip().lower() if key == "email" else str(value).strip()


def _resource(body: dict, kind: str) -> dict:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON:API document with a 'data' object.", pointer="/data")
    if data.get("type") != kind:
        raise invalid(f"'type' must be '{kind}'; got {data.get('type')!r}.", pointer="/data/type")
    return data


def _profile_attributes(attributes, pointer: str) -> dict:
    if not isinstance(attributes, dict):
        raise invalid("'attributes' must be an object.", pointer=pointer)
    unknown = sorted(set(attributes) - set(PROFILE_ATTRIBUTES) - {"_kx"})
    if unknown:
        raise invalid(f"'{unknown[0]}' is not a valid field for the resource 'profile'.",
                      pointer=f"{pointer}/{unknown[0]}")
    cleaned = {k: v for k, v in attributes.items() if v is not None and k != "_kx"}
    if not any(cleaned.get(k) for k in IDENTIFIERS):
        raise invalid("A profile needs at least one identifier: email, phone_number or external_id.",
                      pointer=pointer)
    email = cleaned.get("email")
    if email is not None and (not isinstance(email, str) or not _EMAIL.match(email.strip())):
        raise invalid(f"Invalid email address: {email!r}.", pointer=f"{pointer}/email")
    phone = cleaned.get("phone_number")
    if phone is not None and (not isinstance(phone, str) or not _PHONE.match(phone)):
        raise invalid(f"Invalid phone number format (E.164 expected, e.g. +15005550006): {phone!r}.",
                      pointer=f"{pointer}/phone_number")
    return cleaned
