"""Apply plans: mark attempts, send in maximal batches, confirm per record from the destination's own results."""
from __future__ import annotations

import json
import os
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from segsync.errors import FatalError, InputError, RemoteError, RetryableError
from segsync.redact import redact
from segsync.retry import RetryPolicy, call_with_retry
from segsync.sync.planner import SyncPlan
from segsync.sync.protocol import Change, Result, apply_changes
from segsync.sync.state import (
    RESULT_SCHEMA,
    ensure_sync_tables,
    mark_pending,
    now_utc,
    record_redirect,
    record_results,
    release_pending,
)


@dataclass(frozen=True)
class SyncReport:
    """What happened to one destination's plan in this run."""

    destination: str
    adds: int = 0
    updates: int = 0
    removes: int = 0
    synced: int = 0
    rejected: int = 0
    retry: int = 0
    write_calls: int = 0
    redirected: int = 0
    blocked_reason: str | None = None
    dry_run: bool = False


class CountingDestination:
    """Wraps a destination to count the write calls its sends make (calls_per_batch per send)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.write_calls = 0
        self.start = getattr(inner, "write_requests", None) or 0

    def batch_key(self, change: Change) -> Hashable:
        return self.inner.batch_key(change)

    def max_batch(self, key: Hashable) -> int:
        return self.inner.max_batch(key)

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        try:
            results = self.inner.send(key, batch)
        except RemoteError as exc:
            if exc.status is not None:  # the vendor answered, so the call was made; local refusals made none
                self.write_calls += self.inner.calls_per_batch(key)
            raise
        self.write_calls += self.inner.calls_per_batch(key)
        return results

    def made(self) -> int:
        """Write calls made: the destination's own count when it keeps one, else the per-batch estimate."""
        counted = getattr(self.inner, "write_requests", None)
        return counted - self.start if counted is not None else self.write_calls

    def reauthenticate(self) -> None:
        self.inner.reauthenticate()

    def begin(self, change_count: int) -> str:
        return self.inner.begin(change_count)


def load_changes(con: duckdb.DuckDBPyConnection, target, run_id: str) -> list[Change]:
    """The plan rows of this run as Changes, in a stable order (target, op, key)."""
    rows = con.execute("""
        SELECT target, record_key, op, new_payload::VARCHAR, old_payload::VARCHAR, account_id
        FROM sync_plan WHERE destination = ? AND run_id = ? ORDER BY target, op, record_key
    """, [target.name, run_id]).fetchall()
    return [target.change_for(op, t, key, json.loads(new) if new else None, json.loads(old) if old else None,
                              account)
            for t, key, op, new, old, account in rows]


def results_table(pairs: Sequence[tuple[Result, Change]]) -> pa.Table:
    """Per-record verdicts keyed by the planned (target, key) (a redirected result keeps the planned key)."""
    return pa.table({
        "target": [c.target for _r, c in pairs], "record_key": [c.key for _r, c in pairs],
        "outcome": [r.outcome for r, _c in pairs],
        "error": [redact(r.error) if r.error else None for r, _c in pairs],
        "code": [r.code for r, _c in pairs],
    }, schema=RESULT_SCHEMA)


def redirect_changes(con: duckdb.DuckDBPyConnection, destination: str, run_id: str,
                     pairs: Sequence[tuple[Result, Change]]) -> list[Change]:
    """Record each merged record's survivor, re-plan its row under the survivor's key; return the new Changes."""
    moved = []
    for result, change in pairs:
        record_redirect(con, destination, change.target, change.key, result.redirect_to)
        already = con.execute("""SELECT count(*) FROM sync_plan WHERE destination = ? AND run_id = ? AND target = ?
                                 AND record_key = ?""",
                              [destination, run_id, change.target, result.redirect_to]).fetchone()[0]
        if already:  # the survivor is planned in this run anyway: drop the loser's row, send nothing twice
            con.execute("DELETE FROM sync_plan WHERE destination = ? AND run_id = ? AND target = ? AND record_key = ?",
                        [destination, run_id, change.target, change.key])
            continue
        con.execute("""
            UPDATE sync_plan SET record_key = ? WHERE destination = ? AND run_id = ? AND target = ? AND record_key = ?
        """, [result.redirect_to, destination, run_id, change.target, change.key])
        con.execute("""
            INSERT INTO sync_state (destination, target, record_key, account_id, status, attempts, run_id,
                                    pending_op, pending_hash, updated_at)
            SELECT p.destination, p.target, p.record_key, p.account_id, 'pending', 1, p.run_id, p.op, p.new_hash, ?
            FROM sync_plan p WHERE p.destination = ? AND p.run_id = ? AND p.target = ? AND p.record_key = ?
              AND NOT EXISTS (SELECT 1 FROM sync_state s WHERE s.destination = p.destination AND s.target = p.target
                              AND s.record_key = p.record_key)
        """, [now_utc(), destination, run_id, change.target, result.redirect_to])
        moved.append(Change(change.target, result.redirect_to, change.op, change.new, change.old, change.account_id))
    return moved


def apply_plan(con: duckdb.DuckDBPyConnection, plan: SyncPlan, target, *, policy: RetryPolicy = RetryPolicy(),
               record_retries: int = 2) -> SyncReport:
    """Send one plan's rows; every record is confirmed (or left failing) from the destination's own results."""
    counts = {"synced": 0, "rejected": 0, "retry": 0, "skipped": 0}
    redirected = 0
    sender = CountingDestination(target)

    def on_batch(pairs):
        nonlocal redirected
        final = [(r, c) for r, c in pairs if r.redirect_to is None or r.redirect_to == c.key]
        moves = [(r, c) for r, c in pairs if r.redirect_to is not None and r.redirect_to != c.key]
        if final:
            record_results(con, plan.destination, plan.run_id, results_table(final))
            for result, _change in final:
                counts[result.outcome] += 1
        if moves:
            redirected += len(moves)
            changes = redirect_changes(con, plan.destination, plan.run_id, moves)
            apply_changes(sender, changes, policy=policy, limiter=target.limiter, record_retries=record_retries,
                          on_batch=on_batch)

    ensure_sync_tables(con)
    blocked = None
    changes = load_changes(con, target, plan.run_id)
    if changes:
        target.begin(len(changes))
        mark_pending(con, plan.destination, plan.run_id)
        try:
            targets = sorted({c.target for c in changes})
            call_with_retry(lambda: target.prepare(targets), policy=policy, reauth=target.reauthenticate,
                            limiter=target.limiter)
            apply_changes(sender, changes, policy=policy, limiter=target.limiter, record_retries=record_retries,
                          on_batch=on_batch, workers=getattr(target, "concurrency", 1))
        except (FatalError, InputError, RetryableError) as exc:  # retryable here: prepare() outlived its retries
            blocked = redact(f"{plan.destination} stopped: {exc}")
            counts["retry"] += release_pending(con, plan.destination, plan.run_id, blocked,
                                               getattr(exc, "code", None))
    return SyncReport(destination=plan.destination, adds=plan.adds, updates=plan.updates, removes=plan.removes,
                      synced=counts["synced"] + counts["skipped"], rejected=counts["rejected"],
                      retry=counts["retry"], write_calls=sender.made(), redirected=redirected,
                      blocked_reason=blocked)


def apply_sync(con: duckdb.DuckDBPyConnection, plans: Mapping[str, SyncPlan], *,
               env: Mapping[str, str] | None = None, force: bool = False, dry_run: bool = False,
               policy: RetryPolicy = RetryPolicy(), approved: Collection[str] = ()) -> dict[str, SyncReport]:
    """Apply every plan unless refused (ownership), blocked by a guardrail (without force, or without its
    fingerprint in `approved`) or a dry run."""
    from destinations import create_destination

    env = os.environ if env is None else env
    reports = {}
    for name, plan in plans.items():
        base = dict(destination=name, adds=plan.adds, updates=plan.updates, removes=plan.removes)
        if plan.refused:
            reports[name] = SyncReport(**base, blocked_reason="; ".join(plan.ownership_problems), dry_run=dry_run)
            continue
        if not plan.guardrail.ok and not force and plan.fingerprint not in approved:
            reports[name] = SyncReport(**base, blocked_reason="; ".join(plan.guardrail.reasons), dry_run=dry_run)
            continue
        if dry_run:
            reports[name] = SyncReport(**base, dry_run=True)
            continue
        target = create_destination(name, plan.settings, env)
        try:
            reports[name] = apply_plan(con, plan, target, policy=policy)
        finally:
            target.close()
    return reports
