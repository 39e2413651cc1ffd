"""Guardrails evaluated at plan time: remove share per segment (list/field), max records, empty loads."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from segsync.config import Guardrails


@dataclass(frozen=True)
class ScopeCheck:
    """One segment's members in one destination: confirmed (status synced) now, and how many of them the plan
    would remove."""

    segment: str
    confirmed: int
    removing: int

    @property
    def share(self) -> float:
        return self.removing / self.confirmed if self.confirmed else 0.0


@dataclass(frozen=True)
class GuardrailVerdict:
    ok: bool
    reasons: tuple[str, ...] = ()
    scopes: tuple[ScopeCheck, ...] = ()

    def to_dict(self) -> dict:
        return {"ok": self.ok, "reasons": list(self.reasons),
                "scopes": [{"segment": s.segment, "confirmed": s.confirmed, "removing": s.removing,
                            "share": round(s.share, 4)} for s in self.scopes]}


def effective_limits(defaults: Guardrails, overrides: Mapping[str, Any] | None) -> Guardrails:
    """Project guardrails with a destination's `guardrails:` overrides applied (validated the same way)."""
    if not overrides:
        return defaults
    return Guardrails(**{**defaults.model_dump(), **dict(overrides)})


def evaluate_guardrails(con: duckdb.DuckDBPyConnection, destination: str, limits: Guardrails, *,
                        total_changes: int, desired_table: str = "sync_desired") -> GuardrailVerdict:
    """Check the plan in SQL against the confirmed state; every tripped rule adds one reason.

    Shares are over the members the destination confirmed and still holds as confirmed (`status = 'synced'`):
    rejected, retry and pending rows are left out of both the members and the removals counted.
    """
    scopes = tuple(ScopeCheck(seg, confirmed, removing) for seg, confirmed, removing in con.execute(f"""
        WITH confirmed AS (
            SELECT s.target, s.record_key, unnest(s.segments) AS segment
            FROM sync_state s WHERE s.destination = ? AND s.payload_hash IS NOT NULL AND s.status = 'synced'
        )
        SELECT c.segment, count(*) AS confirmed,
               count(*) FILTER (WHERE d.record_key IS NULL OR NOT list_contains(d.segments, c.segment)) AS removing
        FROM confirmed c LEFT JOIN {desired_table} d ON d.target = c.target AND d.record_key = c.record_key
        GROUP BY c.segment ORDER BY c.segment
    """, [destination]).fetchall())
    reasons = []
    confirmed_total, desired_total = con.execute(f"""
        SELECT (SELECT count(*) FROM sync_state
                WHERE destination = ? AND payload_hash IS NOT NULL AND status = 'synced'),
               (SELECT count(*) FROM {desired_table})
    """, [destination]).fetchone()
    if desired_total == 0 and confirmed_total > limits.min_remove_floor:
        reasons.append(f"{destination}: the desired state is empty but {confirmed_total} records are synced — "
                       f"an empty or failed source load would remove every member; refusing without --force")
    for scope in scopes:
        if scope.removing > limits.min_remove_floor and scope.share > limits.max_remove_share:
            reasons.append(f"{destination}: segment {scope.segment!r} would lose {scope.removing} of "
                           f"{scope.confirmed} synced members ({scope.share:.0%}), above the "
                           f"{limits.max_remove_share:.0%} limit (guardrails.max_remove_share)")
    if total_changes > limits.max_records:
        reasons.append(f"{destination}: the plan touches {total_changes} records, above the limit of "
                       f"{limits.max_records} (guardrails.max_records)")
    return GuardrailVerdict(ok=not reasons, reasons=tuple(reasons), scopes=scopes)
