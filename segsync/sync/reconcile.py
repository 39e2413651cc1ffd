"""Drift reconciliation: compare what each destination holds now with what segsync last confirmed there.

The planner diffs desired state against *confirmed* state, so a list member removed by hand, a field cleared in
the vendor's UI or data the vendor lost would never be re-sent. `reconcile` reads the destination's current
state of segsync's owned targets (`observe`, read calls only) and:

- marks confirmed (`synced`) rows whose record is missing or whose payload differs as `drifted` with the
  confirmed hash cleared, so the next plan re-sends them (a missing record no longer desired is forgotten:
  nothing segsync wrote is left there);
- reports records in an owned list/tag that segsync never confirmed (`foreign`). In `membership` mode segsync
  owns the whole list: foreign records not desired are recorded (status `foreign`) so the next plan removes
  them, desired ones are adopted as confirmed (nothing to send). In `mirror` mode they are only reported.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from segsync.config import ProjectConfig
from segsync.sync.planner import MEMBERSHIP_TABLE, build_desired, chosen_destinations, create_members_view
from segsync.sync.state import now_utc
from segsync.sync.targets import routed_segments

SAMPLE_SIZE = 10
DRIFTED = "drifted"  # confirmed once, no longer held as confirmed: re-sent by the next plan
FOREIGN = "foreign"  # in an owned list/tag, never confirmed by segsync, not desired: removed by the next plan


@dataclass(frozen=True)
class ReconcileReport:
    """One destination: confirmed records checked, missing or changed there, and records others put in owned
    lists/tags (`foreign`; `foreign_removing` of them are planned for removal)."""

    destination: str
    checked: int = 0
    missing: int = 0
    changed: int = 0
    foreign: int = 0
    foreign_removing: int = 0
    missing_sample: tuple[tuple[str, str], ...] = ()
    changed_sample: tuple[tuple[str, str], ...] = ()
    foreign_sample: tuple[tuple[str, str], ...] = ()
    unsupported: bool = False  # the destination cannot observe its state (nothing was checked)
    unobserved_targets: tuple[str, ...] = field(default=())  # owned targets observe() does not read

    def to_dict(self) -> dict:
        return {"destination": self.destination, "checked": self.checked, "missing": self.missing,
                "changed": self.changed, "foreign": self.foreign, "foreign_removing": self.foreign_removing,
                "missing_sample": [list(s) for s in self.missing_sample],
                "changed_sample": [list(s) for s in self.changed_sample],
                "foreign_sample": [list(s) for s in self.foreign_sample], "unsupported": self.unsupported,
                "unobserved_targets": list(self.unobserved_targets)}

    def __str__(self) -> str:
        if self.unsupported:
            return f"{self.destination}: cannot observe its state; nothing checked"
        line = (f"{self.destination}: {self.checked} confirmed record(s) checked, {self.missing} missing, "
                f"{self.changed} changed, {self.foreign} foreign")
        if self.foreign:
            line += f" ({self.foreign_removing} to remove)"
        lines = [line]
        for label, sample in (("missing", self.missing_sample), ("changed", self.changed_sample),
                              ("foreign", self.foreign_sample)):
            if sample:
                lines.append(f"  {label} e.g. " + ", ".join(f"{t}/{k}" for t, k in sample))
        if self.unobserved_targets:
            lines.append("  not observed: " + ", ".join(self.unobserved_targets))
        return "\n".join(lines)


def reconcile(con: duckdb.DuckDBPyConnection, config: ProjectConfig, segments: Any, *,
              env: Mapping[str, str] | None = None, destinations: Sequence[str] | None = None,
              membership_table: str = MEMBERSHIP_TABLE) -> dict[str, ReconcileReport]:
    """Observe every enabled destination (or the named ones) and mark drift in `sync_state`; no writes to
    any destination. The next `plan_sync` re-sends drifted records and removes foreign ones."""
    from destinations import create_destination

    env = os.environ if env is None else env
    names = chosen_destinations(con, config, destinations, membership_table)
    reports = {}
    for name in names:
        target = create_destination(name, dict(config.destinations[name]), env)
        try:
            reports[name] = reconcile_destination(con, target, segments, membership_table=membership_table)
        finally:
            target.close()
    return reports


def reconcile_destination(con: duckdb.DuckDBPyConnection, target, segments: Any, *,
                          membership_table: str = MEMBERSHIP_TABLE) -> ReconcileReport:
    """Observe one destination and mark its drift (see the module docstring)."""
    observe = getattr(target, "observe", None)
    if observe is None:
        return ReconcileReport(target.name, unsupported=True)
    owned = sorted(target.ownership(segments).targets)
    observable = getattr(target, "observable_targets", None)
    targets = list(observable(owned)) if observable is not None else owned
    create_members_view(con, [r.name for r in routed_segments(segments, target.name)], membership_table)
    build_desired(con, target, segments)
    confirmed = con.execute("""
        SELECT target, record_key, payload_hash FROM sync_state
        WHERE destination = ? AND status = 'synced' AND payload_hash IS NOT NULL AND list_contains(?, target)
          AND last_code IS NULL  -- confirmed as skipped (e.g. a forgotten contact): deliberately not held there
        ORDER BY target, record_key
    """, [target.name, targets]).fetchall()
    observed = observe(targets, [(t, k) for t, k, _h in confirmed])
    memberships = not isinstance(observed, Mapping)
    held: Mapping[tuple[str, str], str | None] = (
        dict.fromkeys(observed) if memberships else observed)
    missing = [(t, k) for t, k, _h in confirmed if (t, k) not in held]
    changed = [] if memberships else [(t, k) for t, k, h in confirmed if (t, k) in held and held[(t, k)] != h]
    foreign: list[tuple[str, str]] = []
    if memberships:
        known = {(t, k) for t, k in con.execute("SELECT target, record_key FROM sync_state WHERE destination = ?",
                                                [target.name]).fetchall()}
        foreign = sorted(key for key in held if key not in known and key[0] in set(targets))
    removing = _mark(con, target.name, missing, changed, foreign, adopt=target.mode != "mirror")
    return ReconcileReport(
        destination=target.name, checked=len(confirmed), missing=len(missing), changed=len(changed),
        foreign=len(foreign), foreign_removing=removing, missing_sample=tuple(missing[:SAMPLE_SIZE]),
        changed_sample=tuple(changed[:SAMPLE_SIZE]), foreign_sample=tuple(foreign[:SAMPLE_SIZE]),
        unobserved_targets=tuple(t for t in owned if t not in targets))


def _keys_table(keys: Sequence[tuple[str, str]], code: str) -> pa.Table:
    return pa.table({"target": pa.array([t for t, _k in keys], pa.string()),
                     "record_key": pa.array([k for _t, k in keys], pa.string()),
                     "code": pa.array([code] * len(keys), pa.string())})


def _mark(con: duckdb.DuckDBPyConnection, destination: str, missing, changed, foreign, *, adopt: bool) -> int:
    """Write the drift into sync_state in one transaction; returns foreign records planned for removal."""
    now = now_utc()
    drift = pa.concat_tables([_keys_table(missing, "DRIFT_MISSING"), _keys_table(changed, "DRIFT_CHANGED")])
    con.register("_reconcile_drift", drift)
    con.register("_reconcile_foreign", _keys_table(foreign, "FOREIGN"))
    try:
        con.execute("BEGIN")
        # missing and no longer desired: nothing segsync wrote is left there, forget the row
        con.execute("""
            DELETE FROM sync_state s USING _reconcile_drift r
            WHERE s.destination = ? AND s.target = r.target AND s.record_key = r.record_key
              AND r.code = 'DRIFT_MISSING'
              AND NOT EXISTS (SELECT 1 FROM sync_desired d WHERE d.target = r.target AND d.record_key = r.record_key)
        """, [destination])
        con.execute("""
            UPDATE sync_state s SET status = ?, payload_hash = NULL, last_code = r.code,
                   last_error = CASE r.code WHEN 'DRIFT_MISSING' THEN 'not found in the destination'
                                ELSE 'the destination holds other values' END, updated_at = ?
            FROM _reconcile_drift r
            WHERE s.destination = ? AND s.target = r.target AND s.record_key = r.record_key
        """, [DRIFTED, now, destination])
        removing = 0
        if adopt:
            # desired anyway: the destination already holds what segsync would send, confirm it as is
            con.execute("""
                INSERT INTO sync_state (destination, target, record_key, account_id, payload_hash, payload, segments,
                                        status, attempts, acked_at, updated_at)
                SELECT ?, d.target, d.record_key, d.account_id, d.payload_hash, d.payload, d.segments, 'synced', 0,
                       ?, ?
                FROM _reconcile_foreign f JOIN sync_desired d ON d.target = f.target AND d.record_key = f.record_key
            """, [destination, now, now])
            removing = con.execute("""
                SELECT count(*) FROM _reconcile_foreign f
                WHERE NOT EXISTS (SELECT 1 FROM sync_desired d WHERE d.target = f.target AND d.record_key = f.record_key)
            """).fetchone()[0]
            con.execute("""
                INSERT INTO sync_state (destination, target, record_key, payload, status, attempts, last_code,
                                        last_error, updated_at)
                SELECT ?, f.target, f.record_key, '{}'::JSON, ?, 0, 'FOREIGN',
                       'in a list/tag segsync owns, not added by segsync, not in the segment', ?
                FROM _reconcile_foreign f
                WHERE NOT EXISTS (SELECT 1 FROM sync_desired d WHERE d.target = f.target AND d.record_key = f.record_key)
            """, [destination, FOREIGN, now])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_reconcile_drift")
        con.unregister("_reconcile_foreign")
    return removing
