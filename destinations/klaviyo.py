"""Klaviyo destination: one list per segment, profiles added/removed in bulk, missing profiles imported."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import duckdb

from destinations.audiences import (
    DEFAULT_LIST_TEMPLATE,
    batch_size,
    check_mode,
    check_template,
    chunks,
    contact_membership_sql,
    credential_key,
    layered_limiter,
    register_targets,
    segment_targets,
    target_claims,
)
from destinations.klaviyo_wire import (
    BULK_IMPORT_MAX,
    KLAVIYO_RULES,
    LIST_CREATIONS_PER_DAY,
    PROFILE_PAGE_MAX,
    READ_WINDOWS,
    RELATIONSHIP_MAX,
    WRITE_WINDOWS,
    any_filter,
    equals_filter,
    error_code,
    error_message,
    import_payload,
    import_results,
    record_errors,
)
from destinations.vendor_errors import classify_error, json_body, retry_after_seconds
from segsync.errors import QuotaExhausted, RetryableError
from segsync.retry import RetryPolicy, call_with_retry
from segsync.sync.protocol import Change, Result
from segsync.sync.targets import Ownership, TargetBase

JOB_POLL_SECONDS = 120.0  # give up waiting for an import job after this long (records stay unconfirmed)


class RecordsRefused(Exception):
    """A relationships call refused because of identified items (/data/<i> pointers)."""

    def __init__(self, details: dict[int, str], code: str | None):
        super().__init__(f"{len(details)} item(s) refused")
        self.details = details
        self.code = code


class KlaviyoDestination(TargetBase):
    """List membership through klaviyo-api: relationships calls of 1,000, bulk import for new profiles."""

    type = "klaviyo"

    def __init__(self, name: str, client: Any = None, *, client_factory: Callable[[], Any] | None = None,
                 mode: str = "membership", list_template: str = DEFAULT_LIST_TEMPLATE,
                 list_creations_per_day: int = LIST_CREATIONS_PER_DAY, credential: str = "klaviyo:default",
                 policy: RetryPolicy = RetryPolicy(), poll_interval: float = 0.2,
                 max_batch_size: int = RELATIONSHIP_MAX, timeout: float = 30.0):
        from openapi_client.api_arg_options import USE_DICTIONARY_FOR_RESPONSE_DATA

        self.name = name
        self._client = client
        self._client_factory = client_factory
        self.mode = mode
        self.list_template = list_template
        self.list_creations_per_day = list_creations_per_day
        self.limiter = layered_limiter(f"{credential}:write", WRITE_WINDOWS)
        self.read_limiter = layered_limiter(f"{credential}:read", READ_WINDOWS)
        self.policy = policy
        self.poll_interval = poll_interval
        self.max_batch_size = min(max_batch_size, RELATIONSHIP_MAX, BULK_IMPORT_MAX)
        # every client call: plain dicts back, and a per-request timeout
        self.call_options = {"options": {USE_DICTIONARY_FOR_RESPONSE_DATA: True}, "_request_timeout": timeout}
        self.list_ids: dict[str, str] = {}
        self.profile_ids: dict[str, str] = {}  # lowercased email -> profile id
        # write requests that carry changes (bulk import jobs, list relationship adds/removes), counted as each is
        # answered; creating a missing list in prepare() is setup and not counted. The report uses this count.
        self.write_requests = 0
        self._count_lock = threading.Lock()

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> "KlaviyoDestination":
        from segsync.clients.klaviyo import make_klaviyo

        mode = check_mode(name, settings)
        template = check_template(name, settings.get("list_name", DEFAULT_LIST_TEMPLATE))
        cap = int(settings.get("list_creations_per_day", LIST_CREATIONS_PER_DAY))
        env = dict(env)
        return cls(name, client_factory=lambda: make_klaviyo(env), mode=mode, list_template=template,
                   list_creations_per_day=min(cap, LIST_CREATIONS_PER_DAY),
                   credential=credential_key("klaviyo", env.get("KLAVIYO_API_KEY")),
                   max_batch_size=batch_size(name, settings, "batch_size", RELATIONSHIP_MAX),
                   timeout=float(settings.get("timeout_seconds", 30.0)))

    # -- planning ---------------------------------------------------------------------------------------
    def list_names(self, segments: Any) -> dict[str, str]:
        return segment_targets(segments, self.name, self.list_template, "list_name")

    def claims(self, segments: Any) -> dict[str, list[str]]:
        return target_claims(self.list_names(segments))

    def ownership(self, segments: Any) -> Ownership:
        return Ownership(targets=frozenset(self.list_names(segments).values()))

    def desired(self, con: duckdb.DuckDBPyConnection, segments: Any) -> duckdb.DuckDBPyRelation:
        view = register_targets(con, self.name, self.list_names(segments))
        return con.sql(contact_membership_sql(view))

    @property
    def client(self) -> Any:
        """klaviyo-api, built on first use (planning and `segsync validate` need no credentials)."""
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    # -- lists ------------------------------------------------------------------------------------------
    def prepare(self, targets: Sequence[str]) -> None:
        """Find every list by name; create the missing ones only if today's creation allowance covers them."""
        missing = [t for t in targets if self.find_list(t) is None]
        if not missing:
            return
        remaining = self.list_creations_per_day - self.lists_created_today()
        if len(missing) > remaining:
            raise QuotaExhausted(f"Klaviyo: {len(missing)} list(s) to create ({', '.join(missing)}) but only "
                                 f"{max(remaining, 0)} of the {self.list_creations_per_day} daily list creations "
                                 "are left today; run again tomorrow or reuse existing lists", status=429)
        for target in missing:
            self.create_list(target)

    def find_list(self, name: str) -> str | None:
        if name not in self.list_ids:
            page = self._read(lambda: self.client.Lists.get_lists(filter=equals_filter("name", name),
                                                                  **self.call_options))
            found = [item for item in page.get("data") or [] if (item.get("attributes") or {}).get("name") == name]
            if found:
                self.list_ids[name] = str(sorted(found, key=lambda i: i["attributes"].get("created", ""))[0]["id"])
        return self.list_ids.get(name)

    def lists_created_today(self) -> int:
        """Lists created since midnight UTC (what the daily creation limit counts)."""
        midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        condition = f"greater-than(created,{midnight.isoformat()})"
        count, cursor = 0, None
        while True:
            page = self._read(lambda c=cursor: self.client.Lists.get_lists(filter=condition, page_cursor=c,
                                                                           **self.call_options))
            count += len(page.get("data") or [])
            cursor = (page.get("links") or {}).get("next")
            if not cursor:
                return count

    def create_list(self, name: str) -> str:
        created = self._with_retry(lambda: self.client.Lists.create_list(
            {"data": {"type": "list", "attributes": {"name": name}}}, **self.call_options), self.limiter)
        self.list_ids[name] = str(created["data"]["id"])
        return self.list_ids[name]

    def list_id(self, name: str) -> str:
        found = self.find_list(name)
        if found is None:
            self.prepare([name])
            found = self.list_ids[name]
        return found

    # -- sending ----------------------------------------------------------------------------------------
    def batch_key(self, change: Change) -> Hashable:
        return (change.target, "remove" if change.op == "remove" else "add")

    def max_batch(self, key: Hashable) -> int:
        return self.max_batch_size

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        target, op = key
        list_id = self.list_id(target)
        ids = self.resolve_profiles([c.key for c in batch])
        known = [c for c in batch if c.key in ids]
        unknown = [c for c in batch if c.key not in ids]
        results: list[Result] = []
        if op == "remove":
            results += [Result(c.target, c.key, "skipped", code="NO_PROFILE",
                               error="no Klaviyo profile has this email, so it is in no list") for c in unknown]
        elif unknown:
            if known:
                self.limiter.acquire()
            results += self._import_into_list(list_id, unknown)
        if known:
            results += self._relationships(op, list_id, known, ids)
        return results

    def _relationships(self, op: str, list_id: str, batch: Sequence[Change], ids: Mapping[str, str]) -> list[Result]:
        body = {"data": [{"type": "profile", "id": ids[c.key]} for c in batch]}
        call = self.client.Lists.remove_profiles_from_list if op == "remove" else self.client.Lists.add_profiles_to_list
        try:
            self._call(lambda: call(list_id, body, **self.call_options), per_record=True, write=True)
        except RecordsRefused as refused:
            return [Result(c.target, c.key, "rejected", error=refused.details[i], code=refused.code)
                    if i in refused.details else Result(c.target, c.key, "retry", error="sent with a refused record")
                    for i, c in enumerate(batch)]
        return [Result(c.target, c.key, "synced") for c in batch]

    def _import_into_list(self, list_id: str, batch: Sequence[Change]) -> list[Result]:
        """Create the missing profiles and add them to the list in one bulk import job; wait for its verdict."""
        job = self._call(lambda: self.client.Profiles.bulk_import_profiles(
            import_payload([c.key for c in batch], list_id), **self.call_options), write=True)
        job_id = job["data"]["id"]
        deadline = time.monotonic() + JOB_POLL_SECONDS
        attributes = job["data"].get("attributes") or {}
        while attributes.get("status") not in ("complete", "cancelled"):
            if time.monotonic() > deadline:
                return [Result(c.target, c.key, "retry", error=f"import job {job_id} still {attributes.get('status')}")
                        for c in batch]
            time.sleep(self.poll_interval if attributes.get("status") == "processing" else 0)
            polled = self._with_retry(lambda: self.client.Profiles.get_bulk_import_profiles_job(
                job_id, **self.call_options), self.limiter)
            attributes = polled["data"].get("attributes") or {}
        if attributes.get("status") == "cancelled":
            return [Result(c.target, c.key, "retry", error=f"import job {job_id} was cancelled") for c in batch]
        errors = self._import_errors(job_id) if attributes.get("failed_count") else []
        if int(attributes.get("completed_count") or 0) != len(batch) or \
                int(attributes.get("failed_count") or 0) != len(errors):
            return [Result(c.target, c.key, "retry", error=f"import job {job_id} counts do not match its errors")
                    for c in batch]
        return import_results(batch, errors)

    def _import_errors(self, job_id: str) -> list[dict]:
        errors, cursor = [], None
        while True:
            page = self._with_retry(lambda c=cursor: self.client.Profiles.get_errors_for_bulk_import_profiles_job(
                job_id, page_size=100, page_cursor=c, **self.call_options), self.limiter)
            errors += page.get("data") or []
            cursor = (page.get("links") or {}).get("next")
            if not cursor:
                return errors

    def resolve_profiles(self, emails: Sequence[str]) -> dict[str, str]:
        """Profile ids by lowercased email, 100 per read (cached for the run)."""
        wanted = [e for e in dict.fromkeys(emails) if e not in self.profile_ids]
        for part in chunks(wanted, PROFILE_PAGE_MAX):
            page = self._read(lambda p=part: self.client.Profiles.get_profiles(
                filter=any_filter("email", p), page_size=PROFILE_PAGE_MAX, fields_profile=["email"],
                **self.call_options))
            for item in page.get("data") or []:
                email = str((item.get("attributes") or {}).get("email") or "").strip().lower()
                if email:
                    self.profile_ids[email] = str(item["id"])
        return {e: self.profile_ids[e] for e in emails if e in self.profile_ids}

    def observe(self, targets: Sequence[str], keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """(list, lowercased email) of every profile each owned list holds now, read calls only: the lists'
        profile ids (100 per page), the confirmed emails' profile ids (100 per read) and, for ids still unknown,
        their emails (100 per read)."""
        member_ids: dict[str, list[str]] = {}
        for name in targets:
            list_id = self.find_list(name)
            if list_id is None:
                continue
            ids, cursor = [], None
            while True:
                page = self._read(lambda c=cursor: self.client.Lists.get_profile_ids_for_list(
                    list_id, page_size=PROFILE_PAGE_MAX, page_cursor=c, **self.call_options))
                ids += [str(item["id"]) for item in page.get("data") or []]
                cursor = (page.get("links") or {}).get("next")
                if not cursor:
                    break
            member_ids[name] = ids
        self.resolve_profiles(sorted({key for target, key in keys if target in member_ids}))
        email_of = {pid: email for email, pid in self.profile_ids.items()}
        unknown = sorted({pid for ids in member_ids.values() for pid in ids if pid not in email_of})
        for part in chunks(unknown, PROFILE_PAGE_MAX):
            page = self._read(lambda p=part: self.client.Profiles.get_profiles(
                filter=any_filter("id", p), page_size=PROFILE_PAGE_MAX, fields_profile=["email"],
                **self.call_options))
            for item in page.get("data") or []:
                email = str((item.get("attributes") or {}).get("email") or "").strip().lower()
                if email:
                    email_of[str(item["id"])] = email
                    self.profile_ids.setdefault(email, str(item["id"]))
        return {(name, email_of[pid]) for name, ids in member_ids.items() for pid in ids if pid in email_of}

    # -- calls ------------------------------------------------------------------------------------------
    def _read(self, fn) -> dict:
        return self._with_retry(fn, self.read_limiter)

    def _with_retry(self, fn, limiter) -> dict:
        return call_with_retry(lambda: self._call(fn), policy=self.policy, limiter=limiter)

    def _call(self, fn, *, per_record: bool = False, write: bool = False) -> dict:
        """One client call; JSON:API errors classified by the Klaviyo rule table (per item when pointed at).

        `write`: the call sends changes; it is counted in `write_requests` once Klaviyo answered it."""
        from openapi_client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as TransportError

        try:
            answer = fn()
        except TransportError as exc:
            raise RetryableError(f"Klaviyo: transport error: {type(exc).__name__}") from exc
        except ApiException as exc:
            if not exc.status:
                raise RetryableError(f"Klaviyo: connection failed: {exc.reason}") from exc
            if write:
                self._count_write()
            body = json_body(exc.body)
            if per_record and exc.status == 400 and (details := record_errors(body)) is not None:
                raise RecordsRefused(details, error_code(body)) from exc
            raise classify_error("Klaviyo", exc.status, error_code(body), error_message(body, str(exc.reason)),
                                 rules=KLAVIYO_RULES, retry_after=retry_after_seconds(exc.headers)) from exc
        if write:
            self._count_write()
        return answer if isinstance(answer, dict) else {}

    def _count_write(self) -> None:
        with self._count_lock:
            self.write_requests += 1
