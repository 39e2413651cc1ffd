"""The one Destination protocol and the shared batch runner (chunking, retries, bisection, per-record results)."""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from segsync.errors import RemoteError, RetryableError
from segsync.retry import RateLimiter, RetryPolicy, call_with_retry

Op = Literal["add", "update", "remove"]
Outcome = Literal["synced", "rejected", "retry", "skipped"]


@dataclass(frozen=True)
class Change:
    """One record's move from what the destination confirmed (old) to what it should have (new)."""

    target: str  # what inside the destination: an object ("Account"), a list or tag name
    key: str  # the destination's record key: an Account Id, a company id, an email
    op: Op
    new: Mapping | None = None  # desired payload (None for remove)
    old: Mapping | None = None  # last confirmed payload (None for add)
    account_id: str | None = None


@dataclass(frozen=True)
class Result:
    """What the destination said about one record of a call."""

    target: str
    key: str
    outcome: Outcome
    error: str | None = None
    code: str | None = None
    redirect_to: str | None = None  # merged/deleted record: the survivor to write instead

    @property
    def ok(self) -> bool:
        return self.outcome in ("synced", "skipped")


class BatchRejected(RemoteError):
    """The whole call was refused because of (at least) one bad record: bisect to isolate it."""


@runtime_checkable
class Destination(Protocol):
    """A destination maps one batch of changes to one API call and the response back to per-record results."""

    name: str

    def batch_key(self, change: Change) -> Hashable:
        """Changes with the same key may travel in one call (e.g. same list and op)."""

    def max_batch(self, key: Hashable) -> int:
        """The vendor's documented maximum number of records for one call of this key."""

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        """Make exactly one write call; return one Result per change, in any order.

        Raise RetryableError/RateLimited/SessionExpired for whole-call transient failures, BatchRejected
        when the vendor refused the whole call because of an invalid record, FatalError to stop.
        """

    def reauthenticate(self) -> None:
        """Refresh the session (called at most once per failing call)."""


@dataclass
class ApplyStats:
    calls: int = 0
    retries: int = 0
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def plan_batches(destination: Destination, changes: Iterable[Change]) -> list[tuple[Hashable, list[Change]]]:
    """Group by batch key and cut each group at the vendor maximum: the minimum number of calls."""
    groups: dict[Hashable, list[Change]] = defaultdict(list)
    for change in changes:
        groups[destination.batch_key(change)].append(change)
    batches = []
    for key, group in groups.items():
        size = destination.max_batch(key)
        batches.extend((key, group[i : i + size]) for i in range(0, len(group), size))
    return batches


def apply_changes(
    destination: Destination,
    changes: Sequence[Change],
    *,
    policy: RetryPolicy = RetryPolicy(),
    limiter: RateLimiter | None = None,
    record_retries: int = 2,
    on_batch: Callable[[list[tuple[Result, Change]]], None] | None = None,
    workers: int = 1,
) -> ApplyStats:
    """Send every change in maximal batches; per-record 'retry' outcomes are re-sent up to record_retries times.

    Every change gets exactly one final Result. Whole-call retryable errors that outlive the policy become
    'retry' results for that batch (so the records stay unconfirmed and are planned again next run).
    on_batch receives each call's final (result, change) pairs as soon as they are known, so a caller can
    record confirmations batch by batch (a crash later loses nothing already confirmed); it always runs in
    the calling thread. workers > 1 sends that many batches at once (the destination's send must be
    thread-safe; the shared limiter still paces every call). A destination with `begin(count)` is told the
    size of each retry round, so a handful of retried records need not take a bulk job.
    """
    stats = ApplyStats()
    pending = list(changes)
    for round_no in range(record_retries + 1):
        again: list[Change] = []
        rechoose = getattr(destination, "begin", None)
        if round_no and rechoose is not None:  # a few records retried: let the destination pick its channel again
            rechoose(len(pending))
        for paired in _send_all(destination, plan_batches(destination, pending), policy, limiter, stats, workers):
            final: list[tuple[Result, Change]] = []
            for result, change in paired:
                if result.outcome == "retry" and result.redirect_to is None and round_no < record_retries:
                    again.append(change)
                else:
                    stats.results.append(result)
                    final.append((result, change))
            if on_batch is not None and final:
                on_batch(final)
        if not again:
            break
        pending = again
    return stats


def _send_all(destination, batches, policy, limiter, stats, workers):
    """Yield each batch's (result, change) pairs: in order when workers == 1, else as calls complete."""
    if workers <= 1 or len(batches) <= 1:
        for key, batch in batches:
            yield _send_resolving(destination, key, batch, policy, limiter, stats)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"send-{destination.name}") as pool:
        futures = [pool.submit(_send_resolving, destination, key, batch, policy, limiter, stats)
                   for key, batch in batches]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _send_resolving(destination, key, batch, policy, limiter, stats):
    """Send one batch; bisect on BatchRejected; pair each result with its change."""
    by_key = {(c.target, c.key): c for c in batch}

    def once():
        with stats.lock:
            stats.calls += 1
        return destination.send(key, batch)

    def count_retry(_attempt, _exc):
        with stats.lock:
            stats.retries += 1

    try:
        results = call_with_retry(once, policy=policy, reauth=destination.reauthenticate, limiter=limiter,
                                  on_retry=count_retry)
    except BatchRejected as exc:
        if len(batch) == 1:
            only = batch[0]
            return [(Result(only.target, only.key, "rejected", error=str(exc), code=exc.code), only)]
        mid = len(batch) // 2
        return (_send_resolving(destination, key, batch[:mid], policy, limiter, stats)
                + _send_resolving(destination, key, batch[mid:], policy, limiter, stats))
    except RetryableError as exc:
        return [(Result(c.target, c.key, "retry", error=str(exc), code=exc.code), c) for c in batch]
    paired = []
    seen = set()
    for result in results:
        change = by_key.get((result.target, result.key))
        if change is not None:
            paired.append((result, change))
            seen.add((result.target, result.key))
    for ident, change in by_key.items():
        if ident not in seen:  # the vendor did not confirm it: never assume success
            paired.append((Result(change.target, change.key, "retry", error="no result returned for record"),
                           change))
    return paired
