"""Mailchimp destination: one tag (static segment) per segment on the member accounts' contacts."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import duckdb

from destinations.audiences import (
    batch_size,
    check_mode,
    check_template,
    connection_slots,
    contact_membership_sql,
    credential_key,
    register_targets,
    name_length_problems,
    segment_targets,
    target_claims,
)
from destinations.mailchimp_wire import (
    MAILCHIMP_RULES,
    MAX_CONNECTIONS,
    MEMBER_BATCH_MAX,
    PAGE_MAX,
    SEGMENT_BATCH_MAX,
    SUBSCRIBE_STATUSES,
    error_code,
    error_message,
    segment_results,
    subscribe_outcomes,
)
from destinations.vendor_errors import classify_error, json_body, retry_after_seconds
from segsync.errors import FatalError, InputError, Problem, RateLimited, RetryableError
from segsync.retry import RetryPolicy, call_with_retry, limiter_for
from segsync.sync.protocol import Change, Result
from segsync.sync.targets import Ownership, TargetBase

DEFAULT_TAG_TEMPLATE = "segsync: {segment}"
DEFAULT_RATE = (10, 1.0)  # calls per second; Mailchimp's documented cap is 10 simultaneous connections
TAG_NAME_MAX = 100  # Mailchimp's documented maximum tag (static segment) name length
MEMBER_FIELDS = ["members.email_address", "members.status", "total_items"]


class MailchimpDestination(TargetBase):
    """Tags via static-segment batch calls; missing members created with status_if_new, nobody re-subscribed."""

    type = "mailchimp"

    def __init__(self, name: str, client: Any = None, *, client_factory: Callable[[], Any] | None = None,
                 audience: str | None = None, mode: str = "membership",
                 tag_template: str = DEFAULT_TAG_TEMPLATE, status_if_new: str = "transactional", limiter=None,
                 slots=None, policy: RetryPolicy = RetryPolicy(), max_batch_size: int = SEGMENT_BATCH_MAX):
        self.name = name
        self._client = client
        self._client_factory = client_factory
        self.audience = audience
        self.mode = mode
        self.tag_template = tag_template
        self.status_if_new = status_if_new
        self.limiter = limiter
        self.slots = slots or connection_slots(f"mailchimp:{id(self)}", MAX_CONNECTIONS)
        self.policy = policy
        self.max_batch_size = min(max_batch_size, SEGMENT_BATCH_MAX, MEMBER_BATCH_MAX)
        self.list_id: str | None = None
        self.segment_ids: dict[str, int] = {}
        self.member_status: dict[str, str] | None = None  # lowercased email -> status, read once when adding
        self.last_headers: threading.local | None = None  # set when the client is first used
        # write requests that carry changes (batch subscribes, tag member adds/removes), counted as each is
        # answered; creating a missing tag in prepare() is setup and not counted. The report uses this count.
        self.write_requests = 0
        self._count_lock = threading.Lock()

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> "MailchimpDestination":
        from segsync.clients.mailchimp import make_mailchimp

        mode = check_mode(name, settings)
        template = check_template(name, settings.get("tag_name", DEFAULT_TAG_TEMPLATE), "tag_name")
        status_if_new = settings.get("status_if_new", "transactional")
        if status_if_new not in SUBSCRIBE_STATUSES:
            raise InputError([Problem("segsync.yaml", "unknown status for new members",
                                      path=f"destinations.{name}.status_if_new", value=status_if_new,
                                      expected=" / ".join(SUBSCRIBE_STATUSES))])
        rate = settings.get("rate_limit") or {}
        key = credential_key("mailchimp", env.get("MAILCHIMP_API_KEY"))
        limiter = limiter_for(key, int(rate.get("calls", DEFAULT_RATE[0])), float(rate.get("per_seconds",
                                                                                         DEFAULT_RATE[1])))
        connections = min(int(settings.get("max_connections", MAX_CONNECTIONS)), MAX_CONNECTIONS)
        env, timeout = dict(env), float(settings.get("timeout_seconds", 60))
        return cls(name, client_factory=lambda: make_mailchimp(env, timeout=timeout), audience=settings.get("audience"),
                   mode=mode, tag_template=template,
                   status_if_new=status_if_new, limiter=limiter, slots=connection_slots(key, connections),
                   max_batch_size=batch_size(name, settings, "batch_size", SEGMENT_BATCH_MAX))

    # -- planning ---------------------------------------------------------------------------------------
    def tag_names(self, segments: Any) -> dict[str, str]:
        return segment_targets(segments, self.name, self.tag_template, "tag_name")

    def claims(self, segments: Any) -> dict[str, list[str]]:
        return target_claims(self.tag_names(segments))

    def check(self, segments: Any) -> list[Problem]:
        return name_length_problems(self.name, self.tag_names(segments), TAG_NAME_MAX, "tag")

    def ownership(self, segments: Any) -> Ownership:
        return Ownership(targets=frozenset(self.tag_names(segments).values()))

    def desired(self, con: duckdb.DuckDBPyConnection, segments: Any) -> duckdb.DuckDBPyRelation:
        view = register_targets(con, self.name, self.tag_names(segments))
        return con.sql(contact_membership_sql(view))

    # -- sending ----------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """mailchimp-marketing, built on first use (planning and `segsync validate` need no credentials)."""
        if self._client is None:
            self._client = self._client_factory()
        if self.last_headers is None:
            self.last_headers = capture_headers(self._client)
        return self._client

    def prepare(self, targets: Sequence[str]) -> None:
        self.audience_id()
        for target in targets:
            self.segment_id(target)

    def batch_key(self, change: Change) -> Hashable:
        return (change.target, "remove" if change.op == "remove" else "add")

    def max_batch(self, key: Hashable) -> int:
        return self.max_batch_size

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        target, op = key
        list_id = self.audience_id()
        segment_id = self.segment_id(target)
        results: list[Result] = []
        taggable = list(batch)
        if op == "add":
            results, taggable = self._ensure_members(list_id, batch)
            if not taggable:
                return results
        body_key = "members_to_remove" if op == "remove" else "members_to_add"
        body = self._request(lambda: self.client.lists.batch_segment_members(
            {body_key: [c.key for c in taggable]}, list_id, segment_id), write=True)
        return results + segment_results(taggable, body, op)

    def _ensure_members(self, list_id: str, batch: Sequence[Change]) -> tuple[list[Result], list[Change]]:
        """Create the members a tag add needs (status_if_new, update_existing false); skip who must not be touched."""
        known = self.members()
        results: list[Result] = []
        missing = [c for c in batch if c.key.lower() not in known]
        for change in batch:
            if known.get(change.key.lower()) == "archived":
                results.append(Result(change.target, change.key, "skipped", code="ARCHIVED",
                                      error="the contact is archived in Mailchimp; segsync does not restore it"))
        if missing:
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                body = self._request(lambda: self.client.lists.batch_list_members(list_id, {
                    "members": [{"email_address": c.key, "status": self.status_if_new} for c in missing],
                    "update_existing": False}), write=True)
            except RetryableError as exc:  # only the new addresses wait; existing members are still tagged
                if isinstance(exc, RateLimited) and self.limiter is not None:
                    self.limiter.penalise(self.policy.delay(1, exc.retry_after))
                body = {"errors": [{"email_address": c.key, "error_code": "RETRY", "error": str(exc)}
                                   for c in missing]}
            outcomes = subscribe_outcomes(body)
            for change in missing:
                outcome, code, error = outcomes.get(change.key.lower(), ("retry", None, "no answer for address"))
                if outcome == "exists":
                    known[change.key.lower()] = self.status_if_new if code is None else "existing"
                else:
                    results.append(Result(change.target, change.key, outcome, error=error, code=code))
        done = {(r.target, r.key) for r in results}
        return results, [c for c in batch if (c.target, c.key) not in done]

    def members(self) -> dict[str, str]:
        """Every audience member's status by lowercased email (read once per run, 1,000 per page)."""
        if self.member_status is None:
            list_id = self.audience_id()
            statuses: dict[str, str] = {}
            offset = 0
            while True:
                page = self._request_with_retry(lambda o=offset: self.client.lists.get_list_members_info(
                    list_id, count=PAGE_MAX, offset=o, fields=MEMBER_FIELDS))
                members = page.get("members") or []
                for member in members:
                    statuses[str(member["email_address"]).strip().lower()] = member.get("status", "")
                offset += len(members)
                if not members or offset >= int(page.get("total_items") or 0):
                    break
            self.member_status = statuses
        return self.member_status

    def audience_id(self) -> str:
        """The audience named (or with the id) in segsync.yaml; the only audience when none is named."""
        if self.list_id is None:
            page = self._request_with_retry(lambda: self.client.lists.get_all_lists(
                count=PAGE_MAX, fields=["lists.id", "lists.name", "total_items"]))
            audiences = page.get("lists") or []
            if self.audience:
                found = [a for a in audiences if self.audience in (a.get("id"), a.get("name"))]
            else:
                found = audiences if len(audiences) == 1 else []
            if len(found) != 1:
                names = sorted(a.get("name", "") for a in audiences)
                raise FatalError(f"Mailchimp audience {self.audience or '(not set)'!r} not found; set "
                                 f"destinations.{self.name}.audience to one of {names}")
            self.list_id = str(found[0]["id"])
        return self.list_id

    def segment_id(self, tag: str) -> int:
        """The static segment (tag) named `tag`: found by name, created (empty) only when absent."""
        if self.find_segment_id(tag) is None:
            list_id = self.audience_id()
            created = self._request_with_retry(lambda: self.client.lists.create_segment(
                list_id, {"name": tag, "static_segment": []}))
            self.segment_ids[tag] = int(created["id"])
        return self.segment_ids[tag]

    def find_segment_id(self, tag: str) -> int | None:
        """The static segment (tag) named `tag`, or None; read calls only."""
        if tag not in self.segment_ids:
            list_id = self.audience_id()
            offset = 0
            while True:
                page = self._request_with_retry(lambda o=offset: self.client.lists.list_segments(
                    list_id, type="static", count=PAGE_MAX, offset=o))
                segments = page.get("segments") or []
                for segment in segments:
                    self.segment_ids.setdefault(str(segment["name"]), int(segment["id"]))
                offset += len(segments)
                if not segments or offset >= int(page.get("total_items") or 0):
                    break
        return self.segment_ids.get(tag)

    def observe(self, targets: Sequence[str], keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """(tag, lowercased email) of every member each owned tag holds now, any status (read calls only:
        the tags are found by name, never created; one page of up to 1,000 members per call)."""
        list_id = self.audience_id()
        held: set[tuple[str, str]] = set()
        for tag in targets:
            segment_id = self.find_segment_id(tag)
            if segment_id is None:
                continue
            offset = 0
            while True:
                page = self._request_with_retry(lambda o=offset: self.client.lists.get_segment_members_list(
                    list_id, str(segment_id), count=PAGE_MAX, offset=o, include_cleaned=True,
                    include_transactional=True, include_unsubscribed=True, fields=MEMBER_FIELDS))
                members = page.get("members") or []
                held.update((tag, str(m["email_address"]).strip().lower()) for m in members)
                offset += len(members)
                if not members or offset >= int(page.get("total_items") or 0):
                    break
        return held

    def _request_with_retry(self, fn) -> dict:
        return call_with_retry(lambda: self._request(fn), policy=self.policy, limiter=self.limiter)

    def _request(self, fn, *, write: bool = False) -> dict:
        """One client call inside a connection slot; errors classified by the Mailchimp rule table.

        `write`: the call sends changes; it is counted in `write_requests` once Mailchimp answered it."""
        from mailchimp_marketing.api_client import ApiClientError

        with self.slots:
            try:
                answer = fn()
            except ApiClientError as exc:
                if exc.status_code is None:  # the client wraps transport failures (timeouts, resets)
                    raise RetryableError(f"Mailchimp: transport error: {type(exc.text).__name__}") from exc
                if write:
                    self._count_write()
                body = json_body(exc.text)
                raise classify_error("Mailchimp", exc.status_code, error_code(body),
                                     error_message(body, "request failed"), rules=MAILCHIMP_RULES,
                                     retry_after=retry_after_seconds(getattr(self.last_headers, "headers", None))
                                     ) from exc
        if write:
            self._count_write()
        return answer if isinstance(answer, dict) else {}

    def _count_write(self) -> None:
        with self._count_lock:
            self.write_requests += 1


def capture_headers(client: Any) -> threading.local:
    """Keep each thread's last response headers: mailchimp-marketing's errors carry no headers (Retry-After)."""
    local = threading.local()
    api_client = getattr(client, "api_client", None)
    original = getattr(api_client, "request", None)
    if original is None or getattr(original, "segsync_captures", False):
        return getattr(original, "segsync_local", local)

    def request(*args, **kwargs):
        local.headers = None
        response = original(*args, **kwargs)
        local.headers = dict(getattr(response, "headers", {}) or {})
        return response

    request.segsync_captures = True
    request.segsync_local = local
    api_client.request = request
    return local
