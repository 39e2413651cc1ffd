"""An in-memory list destination and segment stand-ins for engine unit tests (no HTTP)."""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from segsync.errors import FatalError, RetryableError
from segsync.sync.protocol import Change, Result
from segsync.sync.targets import Ownership, TargetBase, routed_segments


@dataclass
class FakeSegment:
    name: str
    destinations: dict = field(default_factory=dict)


@dataclass
class FakeSegmentSet:
    segments: list


class Killed(BaseException):
    """Simulates the process being killed between two calls (not an Exception: nothing catches it)."""


@dataclass
class FakeServer:
    """The vendor side: list members, every call made, scripted faults."""

    members: dict[str, dict[str, dict]] = field(default_factory=dict)
    calls: list[tuple[Hashable, int]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # record key -> error code (every time)
    retry_once: set[str] = field(default_factory=set)  # record keys answered 'retry' once
    call_errors: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    kill_at_call: int | None = None  # raise Killed when this 1-based call is about to be made
    redirects: dict[str, str] = field(default_factory=dict)  # merged key -> survivor
    unowned_field: bool = False  # desired() writes a field the destination does not own

    def member_keys(self, target: str) -> set[str]:
        return set(self.members.get(target, {}))


SERVERS: dict[str, FakeServer] = {}


class FakeListDestination(TargetBase):
    """One list per routed segment, named `seg:<segment>`; record key = account_id."""

    type = "fake"

    def __init__(self, name: str, server: FakeServer, batch_size: int):
        self.name = name
        self.server = server
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        return cls(name, SERVERS.setdefault(name, FakeServer()), int(settings.get("batch_size", 100)))

    def ownership(self, segments) -> Ownership:
        return Ownership(targets=frozenset(f"seg:{r.name}" for r in routed_segments(segments, self.name)),
                         fields=frozenset({"account_id"}))

    def desired(self, con, segments):
        extra = ", 'owner', 'someone'" if self.server.unowned_field else ""
        return con.sql(f"""
            SELECT 'seg:' || segment AS target, account_id AS record_key, account_id,
                   json_object('account_id', account_id{extra}) AS payload, [segment] AS segments
            FROM sync_members
        """)

    def batch_key(self, change: Change) -> Hashable:
        return (change.target, change.op == "remove")

    def max_batch(self, key: Hashable) -> int:
        return self.batch_size

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        server = self.server
        if server.kill_at_call is not None and len(server.calls) + 1 == server.kill_at_call:
            raise Killed()
        server.calls.append((key, len(batch)))
        if server.call_errors:
            raise server.call_errors.pop(0)
        results = []
        for change in batch:
            if change.key in server.redirects:
                results.append(Result(change.target, change.key, "retry", code="ENTITY_IS_DELETED",
                                      redirect_to=server.redirects[change.key]))
            elif change.key in server.reject:
                results.append(Result(change.target, change.key, "rejected", error="bad record",
                                      code=server.reject[change.key]))
            elif change.key in server.retry_once:
                server.retry_once.discard(change.key)
                results.append(Result(change.target, change.key, "retry", code="UNABLE_TO_LOCK_ROW"))
            else:
                members = server.members.setdefault(change.target, {})
                if change.op == "remove":
                    members.pop(change.key, None)
                else:
                    members[change.key] = dict(change.new or {})
                results.append(Result(change.target, change.key, "synced"))
        return results


def quota_error() -> FatalError:
    from segsync.errors import QuotaExhausted

    return QuotaExhausted("daily API allowance spent", status=403, code="REQUEST_LIMIT_EXCEEDED")


def unavailable() -> RetryableError:
    return RetryableError("service unavailable", status=503)
