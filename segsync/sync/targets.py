"""What a destination implements beyond `send`: construction, ownership, desired state in SQL, changes, prepare."""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import duckdb

from segsync.errors import Problem
from segsync.retry import RateLimiter
from segsync.sync.protocol import Change, Destination, Op

# The columns every destination's desired-state relation must have, in this order.
DESIRED_COLUMNS = ("target", "record_key", "account_id", "payload", "segments")
# Engine-provided temp view a destination reads its members from (holdouts already excluded).
MEMBERS_VIEW = "sync_members"
MODES = ("upsert", "update_only", "membership", "mirror")


@dataclass(frozen=True)
class Ownership:
    """What segsync may write in one destination; the planner refuses desired rows outside it.

    targets: objects, lists or tags written (a desired row's `target` must be one of them);
    fields: payload keys that may be written (a desired payload key outside them is refused);
    clearable: owned fields that may be sent as null/false when an account leaves (null policy).
    """

    targets: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    clearable: frozenset[str] = frozenset()

    def to_dict(self) -> dict:
        return {"targets": sorted(self.targets), "fields": sorted(self.fields),
                "clearable": sorted(self.clearable)}


@runtime_checkable
class SyncTarget(Destination, Protocol):
    """A Destination the engine can plan for. Construct with `create_destination(name, settings, env)`.

    Life of one run: ownership(segments) and desired(con, segments) at plan time; the engine diffs the
    desired rows against `sync_state` in SQL and asks change_for(...) to turn each add/update/remove
    into a Change; begin(n) fixes per-run choices (e.g. REST vs Bulk) and labels them in the plan;
    prepare(targets) runs once before the first send (not in dry runs); then the shared
    `apply_changes` calls batch_key/max_batch/send.
    """

    type: ClassVar[str]  # the `type:` value in segsync.yaml that selects this class
    name: str  # the key under `destinations:` in segsync.yaml
    mode: str  # one of MODES
    limiter: RateLimiter | None  # shared per credential (segsync.retry.limiter_for); None: no pacing

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> "SyncTarget":
        """Build from the destination's segsync.yaml section and the environment (credentials stay inside).

        Must not contact the vendor or require credentials yet (`segsync validate` builds destinations
        without a sandbox): open sessions lazily on first use.
        """

    def ownership(self, segments: Any) -> Ownership:
        """The fields / lists / tags this destination writes for this SegmentSet."""

    def desired(self, con: duckdb.DuckDBPyConnection, segments: Any) -> duckdb.DuckDBPyRelation:
        """Rows (target VARCHAR, record_key VARCHAR, account_id VARCHAR, payload JSON, segments VARCHAR[]).

        Built in SQL from the temp view `sync_members(segment, account_id)` (this destination's segments,
        holdouts excluded) joined with `accounts` / `contacts`. One row per (target, record_key). The
        payload carries every owned field of that record (null/false for the ones that do not apply);
        `segments` lists the segments this row represents (used by the remove-share guardrail).
        """

    def change_for(self, op: Op, target: str, key: str, new: Mapping | None, old: Mapping | None,
                   account_id: str | None) -> Change:
        """The Change to send for one planned row (e.g. a Salesforce remove becomes an update clearing fields)."""

    def begin(self, change_count: int) -> str:
        """Fix per-run choices that depend on the size of the change set; return a label for the plan."""

    def calls_per_batch(self, key: Hashable) -> int:
        """Write calls one send() of this batch key makes (1 for most; 3 for a Bulk API 2.0 job)."""

    def prepare(self, targets: Sequence[str]) -> None:
        """Create what must exist before sending (e.g. missing lists, found by name afterwards); idempotent."""

    def claims(self, segments: Any) -> dict[str, list[str]]:
        """Owned name (field / list / tag) -> the segments writing it; two segments on one name is an error."""

    def check(self, segments: Any) -> list[Problem]:
        """Problems with this destination's settings for these segments (names too long, values that cannot fit)."""

    def close(self) -> None:
        """Release sessions."""


@runtime_checkable
class ObservingTarget(Protocol):
    """Optional SyncTarget capability used by drift reconciliation (`segsync.sync.reconcile`)."""

    def observe(self, targets: Sequence[str],
                keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]] | dict[tuple[str, str], str]:
        """What the destination holds now for segsync's owned `targets`, using read calls only, in the fewest calls.

        List/tag destinations return every `(target, record_key)` member of each owned list/tag (members segsync
        never confirmed included); field destinations return `(target, record_key) -> payload hash` for the
        confirmed `keys` they still find, hashed exactly as the planner hashes desired payloads (md5 of the
        compact JSON text) so equal values compare equal. Never creates anything (a missing list holds nothing).
        """


class TargetBase:
    """Defaults for the optional parts of SyncTarget; destinations subclass it and override what differs."""

    type: ClassVar[str] = ""
    mode: str = "membership"
    limiter: RateLimiter | None = None
    write_requests: int | None = None  # a destination that counts its own write HTTP requests sets an int here
    concurrency: int = 1  # batches sent at once (send() must then be thread-safe); the limiter still paces calls

    def change_for(self, op: Op, target: str, key: str, new: Mapping | None, old: Mapping | None,
                   account_id: str | None) -> Change:
        return Change(target=target, key=key, op=op, new=new, old=old, account_id=account_id)

    def begin(self, change_count: int) -> str:
        return "batch"

    def calls_per_batch(self, key: Hashable) -> int:
        return 1

    def prepare(self, targets: Sequence[str]) -> None:
        return None

    def claims(self, segments: Any) -> dict[str, list[str]]:
        return {}

    def check(self, segments: Any) -> list[Problem]:
        return []

    def reauthenticate(self) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class RoutedSegment:
    """One segment that syncs to a destination, with its per-segment overrides for that destination."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


def iter_segment_defs(segments: Any) -> Iterable[Any]:
    """The SegmentDef objects of a SegmentSet (a `.segments` mapping/list, a mapping, or an iterable)."""
    items = getattr(segments, "segments", segments)
    if isinstance(items, Mapping):
        return list(items.values())
    return list(items or [])


def routed_segments(segments: Any, destination: str) -> list[RoutedSegment]:
    """Segments routed to `destination`, sorted by name.

    A segment with no `destinations:` goes to every enabled destination; otherwise only to the ones it
    names with `true` or a mapping of overrides (`false` excludes it).
    """
    routed = []
    for seg in iter_segment_defs(segments):
        wanted = getattr(seg, "destinations", None) or {}
        if not wanted:
            routed.append(RoutedSegment(seg.name, {}))
            continue
        value = wanted.get(destination)
        if value is None or value is False:
            continue
        routed.append(RoutedSegment(seg.name, dict(value) if isinstance(value, Mapping) else {}))
    return sorted(routed, key=lambda r: r.name)
