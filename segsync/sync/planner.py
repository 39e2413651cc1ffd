"""Plan: desired state per destination diffed against confirmed `sync_state` in SQL → a frozen SyncPlan."""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from segsync import store
from segsync.config import ProjectConfig
from segsync.errors import InputError, Problem
from segsync.redact import redact
from segsync.sync.guardrails import GuardrailVerdict, effective_limits, evaluate_guardrails
from segsync.sync.ownership import ownership_problems
from segsync.sync.state import ensure_sync_tables, now_utc, settle_unchanged
from segsync.sync.targets import DESIRED_COLUMNS, MEMBERS_VIEW, routed_segments

SAMPLE_SIZE = 10
SEGMENT_SAMPLE_SIZE = 5
MEMBERSHIP_TABLE = "segment_membership"


@dataclass(frozen=True)
class SegmentCounts:
    """One segment in one destination: accounts the plan would make members there (entering) or take out
    (leaving), relative to what the destination confirmed; a few account ids of each, sorted."""

    segment: str
    entering: int
    leaving: int
    entering_sample: tuple[str, ...] = ()
    leaving_sample: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"segment": self.segment, "entering": self.entering, "leaving": self.leaving,
                "entering_sample": list(self.entering_sample), "leaving_sample": list(self.leaving_sample)}


@dataclass(frozen=True)
class TargetCounts:
    target: str
    adds: int
    updates: int
    removes: int


@dataclass(frozen=True)
class SyncPlan:
    """What one destination would receive in this run; apply_sync sends exactly the rows in `sync_plan`."""

    destination: str
    type: str
    mode: str
    run_id: str
    created_at: datetime
    adds: int
    updates: int
    removes: int
    unchanged: int
    channel: str
    api_calls_estimate: int
    fingerprint: str  # md5 of the planned rows: `--approve <fingerprint>` lets exactly this plan past a guardrail
    targets: tuple[TargetCounts, ...]
    guardrail: GuardrailVerdict
    ownership_problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sample: tuple[Mapping, ...] = ()
    segments: tuple[SegmentCounts, ...] = ()  # per routed segment: accounts entering / leaving this destination
    membership_table: str = MEMBERSHIP_TABLE  # the membership the plan was built from
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total(self) -> int:
        return self.adds + self.updates + self.removes

    @property
    def refused(self) -> bool:
        """Writes outside what segsync owns: never sent, not even with --force."""
        return bool(self.ownership_problems)

    def to_dict(self) -> dict:
        return {
            "destination": self.destination, "type": self.type, "mode": self.mode, "run_id": self.run_id,
            "created_at": self.created_at.isoformat(), "adds": self.adds, "updates": self.updates,
            "removes": self.removes, "unchanged": self.unchanged, "total": self.total, "channel": self.channel,
            "api_calls_estimate": self.api_calls_estimate, "fingerprint": self.fingerprint,
            "targets": [t.__dict__ for t in self.targets], "guardrail": self.guardrail.to_dict(),
            "ownership_problems": list(self.ownership_problems), "warnings": list(self.warnings),
            "sample": [dict(s) for s in self.sample], "segments": [c.to_dict() for c in self.segments],
            "membership_table": self.membership_table,
        }

    def __str__(self) -> str:
        lines = [f"{self.destination} ({self.type}, {self.mode}): +{self.adds} add, ~{self.updates} update, "
                 f"-{self.removes} remove, {self.unchanged} unchanged; {self.api_calls_estimate} write call(s) "
                 f"via {self.channel}"]
        lines += [f"  {t.target}: +{t.adds} ~{t.updates} -{t.removes}" for t in self.targets]
        for c in self.segments:
            line = f"  segment {c.segment}: {c.entering} entering, {c.leaving} leaving"
            if c.entering_sample:
                line += f"; entering e.g. {', '.join(c.entering_sample)}"
            if c.leaving_sample:
                line += f"; leaving e.g. {', '.join(c.leaving_sample)}"
            lines.append(line)
        verdict = "ok" if self.guardrail.ok else f"BLOCKED (--force, or approve this plan: {self.fingerprint})"
        lines.append(f"  guardrails: {verdict}")
        lines += [f"    {r}" for r in self.guardrail.reasons]
        lines += [f"  REFUSED: {p}" for p in self.ownership_problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def chosen_destinations(con: duckdb.DuckDBPyConnection, config: ProjectConfig,
                        destinations: Sequence[str] | None, membership_table: str) -> list[str]:
    """The named destinations (default: every enabled one), checked against segsync.yaml; sync tables ready."""
    names = list(destinations) if destinations is not None else [
        n for n, s in config.destinations.items() if s.get("enabled", True)]
    unknown = [n for n in names if n not in config.destinations]
    if unknown:
        raise InputError([Problem("segsync.yaml", "destination not configured", path="destinations",
                                  value=n, expected=" / ".join(sorted(config.destinations))) for n in unknown])
    if names:
        require_tables(con, [membership_table])
    ensure_sync_tables(con)
    return names


def plan_sync(con: duckdb.DuckDBPyConnection, config: ProjectConfig, segments: Any, *,
              env: Mapping[str, str] | None = None, run_id: str,
              destinations: Sequence[str] | None = None,
              membership_table: str = MEMBERSHIP_TABLE) -> dict[str, SyncPlan]:
    """One SyncPlan per enabled destination (or the named ones), each stored in `sync_plan` for apply_sync.

    `membership_table` is the membership to sync (shaped like `segment_membership`): `segsync run` uses the
    evaluated `segment_membership`; `segsync plan` passes a temporary table evaluated from the current segment
    files, so the plan reflects edits that have not been run yet.
    """
    from destinations import create_destination

    env = os.environ if env is None else env
    names = chosen_destinations(con, config, destinations, membership_table)
    plans = {}
    for name in names:
        settings = dict(config.destinations[name])
        target = create_destination(name, settings, env)
        try:
            plans[name] = plan_destination(con, target, segments, settings=settings, run_id=run_id,
                                           limits=effective_limits(config.guardrails, settings.get("guardrails")),
                                           membership_table=membership_table)
        finally:
            target.close()
    return plans


def require_tables(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    """InputError naming every warehouse table a plan needs that has not been built yet."""
    missing = [t for t in tables if not store.table_exists(con, t)]
    if missing:
        raise InputError([Problem("warehouse", f"table {t} does not exist yet", path=t,
                                  expected="a built warehouse: run `segsync run` (ingest, build, evaluate) first")
                          for t in missing])


def create_members_view(con: duckdb.DuckDBPyConnection, segment_names: Sequence[str],
                        membership_table: str = MEMBERSHIP_TABLE) -> None:
    """Temp table `sync_members(segment, account_id)`: non-holdout members of the routed segments, read from
    `membership_table` (segment_membership, or a temporary evaluation of the current segment files)."""
    if not membership_table or not membership_table.replace("_", "").isalnum():
        raise ValueError(f"membership table {membership_table!r} must contain only letters, digits and _")
    con.register("_sync_routed", pa.table({"segment": pa.array(list(segment_names), pa.string())}))
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {MEMBERS_VIEW} AS
            SELECT DISTINCT m.segment, m.account_id FROM "{membership_table}" m
            WHERE NOT coalesce(m.is_holdout, false) AND m.segment IN (SELECT segment FROM _sync_routed)
        """)
    finally:
        con.unregister("_sync_routed")


def build_desired(con: duckdb.DuckDBPyConnection, target, segments: Any) -> list[str]:
    """Materialise temp table `sync_desired` (+ payload_hash, redirects applied); returns warnings."""
    relation = target.desired(con, segments)
    missing = [c for c in DESIRED_COLUMNS if c not in relation.columns]
    if missing:
        raise TypeError(f"{target.name}.desired() must return columns {DESIRED_COLUMNS}; missing {missing}")
    relation.create_view("_sync_desired_raw", replace=True)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _sync_desired_all AS
        SELECT d.target, coalesce(r.to_key, d.record_key::VARCHAR) AS record_key, d.account_id::VARCHAR AS account_id,
               d.payload::JSON AS payload, d.segments::VARCHAR[] AS segments,
               md5(d.payload::JSON::VARCHAR) AS payload_hash
        FROM _sync_desired_raw d
        LEFT JOIN sync_redirects r ON r.destination = ? AND r.target = d.target AND r.from_key = d.record_key
    """, [target.name])
    duplicates = con.execute("""
        SELECT count(*), count(DISTINCT (target, record_key)) FROM _sync_desired_all
    """).fetchone()
    con.execute("""
        CREATE OR REPLACE TEMP TABLE sync_desired AS
        SELECT * FROM _sync_desired_all
        QUALIFY row_number() OVER (PARTITION BY target, record_key ORDER BY account_id, payload_hash) = 1
    """)
    con.execute("DROP TABLE _sync_desired_all")
    con.execute("DROP VIEW _sync_desired_raw")
    warnings = []
    if duplicates[0] != duplicates[1]:
        warnings.append(f"{duplicates[0] - duplicates[1]} desired row(s) share a record key with another account "
                        f"(several accounts map to one {target.name} record); the lowest account_id wins")
    return warnings


# "old" = what the record may hold from segsync: the confirmed payload, plus the keys of an attempt that was
# sent but never confirmed (it may have arrived), so clearing on removal covers both.
OLD_PAYLOAD = ("CASE WHEN s.pending_payload IS NULL THEN s.payload "
               "ELSE json_merge_patch(s.pending_payload, coalesce(s.payload, '{}'::JSON)) END")


def diff_into_plan(con: duckdb.DuckDBPyConnection, destination: str, run_id: str) -> None:
    """Replace this destination's rows in `sync_plan` with the diff of sync_desired vs sync_state."""
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM sync_plan WHERE destination = ?", [destination])
        con.execute(f"""
            INSERT INTO sync_plan
            SELECT ?, ?, d.target, d.record_key, d.account_id,
                   CASE WHEN s.payload_hash IS NULL THEN 'add' ELSE 'update' END,
                   d.payload, {OLD_PAYLOAD}, d.payload_hash, d.segments
            FROM sync_desired d
            LEFT JOIN sync_state s ON s.destination = ? AND s.target = d.target AND s.record_key = d.record_key
            WHERE s.payload_hash IS DISTINCT FROM d.payload_hash
        """, [run_id, destination, destination])
        con.execute(f"""
            INSERT INTO sync_plan
            SELECT ?, ?, s.target, s.record_key, s.account_id, 'remove', NULL, {OLD_PAYLOAD}, NULL, s.segments
            FROM sync_state s
            WHERE s.destination = ?
              AND (s.payload_hash IS NOT NULL OR s.status IN ('pending', 'retry', 'drifted', 'foreign'))
              AND NOT EXISTS (SELECT 1 FROM sync_desired d WHERE d.target = s.target AND d.record_key = s.record_key)
        """, [run_id, destination, destination])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def estimate_calls(target, group_counts: Sequence[tuple[str, str, int]], total: int) -> tuple[int, str]:
    """Write calls for the planned change set (grouped as apply_changes will batch it) and the channel label."""
    channel = target.begin(total)
    per_key: dict = defaultdict(int)
    for target_name, op, count in group_counts:
        sample = target.change_for(op, target_name, "", {} if op != "remove" else None, {}, None)
        per_key[target.batch_key(sample)] += count
    calls = sum(math.ceil(n / target.max_batch(k)) * target.calls_per_batch(k) for k, n in per_key.items())
    return calls, channel


def segment_counts(con: duckdb.DuckDBPyConnection, destination: str, segment_names: Sequence[str],
                   sample: int = SEGMENT_SAMPLE_SIZE) -> tuple[SegmentCounts, ...]:
    """Per routed segment: accounts desired in it here but not confirmed in it (entering), and accounts confirmed
    in it (rows the destination acknowledged, status synced) but no longer desired in it (leaving)."""
    rows = con.execute("""
        WITH desired AS (
            SELECT DISTINCT segment, account_id FROM (
                SELECT unnest(segments) AS segment, account_id FROM sync_desired)
            WHERE account_id IS NOT NULL
        ), confirmed AS (
            SELECT DISTINCT segment, account_id FROM (
                SELECT unnest(segments) AS segment, account_id FROM sync_state
                WHERE destination = $destination AND payload_hash IS NOT NULL AND status = 'synced')
            WHERE account_id IS NOT NULL
        ), moves AS (
            SELECT segment, account_id, 'entering' AS direction FROM (
                SELECT segment, account_id FROM desired EXCEPT SELECT segment, account_id FROM confirmed)
            UNION ALL
            SELECT segment, account_id, 'leaving' FROM (
                SELECT segment, account_id FROM confirmed EXCEPT SELECT segment, account_id FROM desired)
        )
        SELECT r.segment,
               count(m.account_id) FILTER (WHERE m.direction = 'entering'),
               count(m.account_id) FILTER (WHERE m.direction = 'leaving'),
               list_slice(coalesce(list(m.account_id ORDER BY m.account_id)
                                   FILTER (WHERE m.direction = 'entering'), []), 1, $sample),
               list_slice(coalesce(list(m.account_id ORDER BY m.account_id)
                                   FILTER (WHERE m.direction = 'leaving'), []), 1, $sample)
        FROM (SELECT unnest($segments::VARCHAR[]) AS segment UNION SELECT DISTINCT segment FROM moves) r
        LEFT JOIN moves m ON m.segment = r.segment
        GROUP BY r.segment ORDER BY r.segment
    """, {"destination": destination, "segments": list(segment_names), "sample": sample}).fetchall()
    return tuple(SegmentCounts(seg, int(entering), int(leaving), tuple(ins), tuple(outs))
                 for seg, entering, leaving, ins, outs in rows)


def plan_destination(con: duckdb.DuckDBPyConnection, target, segments: Any, *, settings: Mapping[str, Any],
                     run_id: str, limits, membership_table: str = MEMBERSHIP_TABLE) -> SyncPlan:
    """Build, diff, check and count one destination's plan."""
    routed = routed_segments(segments, target.name)
    create_members_view(con, [r.name for r in routed], membership_table)
    warnings = build_desired(con, target, segments)
    problems = tuple(redact(p) for p in ownership_problems(con, target.name, target.ownership(segments)))
    settle_unchanged(con, target.name, "sync_desired")
    diff_into_plan(con, target.name, run_id)
    rows = con.execute("""
        SELECT target, op, count(*) FROM sync_plan WHERE destination = ? AND run_id = ?
        GROUP BY ALL ORDER BY ALL
    """, [target.name, run_id]).fetchall()
    by_target: dict[str, dict[str, int]] = defaultdict(lambda: {"add": 0, "update": 0, "remove": 0})
    for name, op, n in rows:
        by_target[name][op] = n
    adds = sum(t["add"] for t in by_target.values())
    updates = sum(t["update"] for t in by_target.values())
    removes = sum(t["remove"] for t in by_target.values())
    total = adds + updates + removes
    unchanged = con.execute("SELECT count(*) FROM sync_desired").fetchone()[0] - adds - updates
    calls, channel = estimate_calls(target, rows, total)
    fingerprint = con.execute("""
        SELECT md5(coalesce(string_agg(op || '|' || target || '|' || record_key || '|' || coalesce(new_hash, ''),
                                       '\n' ORDER BY target, record_key, op), ''))
        FROM sync_plan WHERE destination = ? AND run_id = ?
    """, [target.name, run_id]).fetchone()[0][:16]
    verdict = evaluate_guardrails(con, target.name, limits, total_changes=total)
    per_segment = segment_counts(con, target.name, [r.name for r in routed])
    sample = tuple({"target": t, "record_key": k, "op": op, "new": json.loads(n) if n else None}
                   for t, k, op, n in con.execute("""
        SELECT target, record_key, op, new_payload::VARCHAR FROM sync_plan WHERE destination = ? AND run_id = ?
        ORDER BY op, target, record_key LIMIT ?""", [target.name, run_id, SAMPLE_SIZE]).fetchall())
    return SyncPlan(
        destination=target.name, type=target.type, mode=target.mode, run_id=run_id, created_at=now_utc(),
        adds=adds, updates=updates, removes=removes, unchanged=unchanged, channel=channel,
        api_calls_estimate=calls, fingerprint=fingerprint,
        targets=tuple(TargetCounts(n, c["add"], c["update"], c["remove"]) for n, c in sorted(by_target.items())),
        guardrail=verdict, ownership_problems=problems, warnings=tuple(warnings), sample=sample,
        segments=per_segment, membership_table=membership_table, settings=dict(settings))
