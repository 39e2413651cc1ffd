"""What the list/tag destinations share: one named list per segment, membership desired state in SQL, pacing."""
from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from segsync.errors import InputError, Problem
from segsync.retry import RateLimiter, limiter_for
from segsync.sync.targets import routed_segments

DEFAULT_LIST_TEMPLATE = "segsync: {segment}"
MEMBERSHIP_MODES = ("membership", "mirror")


def check_mode(name: str, settings: Mapping[str, Any]) -> str:
    """The sync mode of a list destination: membership (default) or mirror; anything else is an input error."""
    mode = settings.get("mode", "membership")
    if mode not in MEMBERSHIP_MODES:
        raise InputError([Problem("segsync.yaml", "this destination only syncs list membership",
                                  path=f"destinations.{name}.mode", value=mode,
                                  expected=" or ".join(MEMBERSHIP_MODES))])
    return mode


def check_template(name: str, template: object, key: str = "list_name") -> str:
    """A list/tag name template must be a string containing `{segment}` (one list per segment)."""
    if not isinstance(template, str) or "{segment}" not in template:
        raise InputError([Problem("segsync.yaml", "the name template must contain {segment}",
                                  path=f"destinations.{name}.{key}", value=template,
                                  expected='a string such as "segsync: {segment}"')])
    return template


def batch_size(name: str, settings: Mapping[str, Any], key: str, maximum: int) -> int:
    """An optional smaller batch (e.g. to keep payloads small); never above the vendor's documented maximum."""
    value = settings.get(key, maximum)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InputError([Problem("segsync.yaml", "batch size out of range", path=f"destinations.{name}.{key}",
                                  value=value, expected=f"an integer from 1 to {maximum} (the documented maximum)")])
    return value


def segment_targets(segments: Any, destination: str, template: str, override_key: str) -> dict[str, str]:
    """Segment name -> list/tag name for every segment routed to `destination` (per-segment override wins)."""
    mapping: dict[str, str] = {}
    for routed in routed_segments(segments, destination):
        override = routed.overrides.get(override_key)
        mapping[routed.name] = str(override) if override else template.replace("{segment}", routed.name)
    return mapping


def target_claims(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    """List/tag name -> the segments writing it (two segments on one name is a validation error)."""
    claims: dict[str, list[str]] = {}
    for segment, target in mapping.items():
        claims.setdefault(target, []).append(segment)
    return claims


def name_length_problems(name: str, mapping: Mapping[str, str], limit: int, what: str) -> list[Problem]:
    """Names the vendor would refuse for being too long, one problem each."""
    return [Problem("segsync.yaml", f"{what} name is longer than {limit} characters",
                    path=f"destinations.{name}", value=target, expected=f"at most {limit} characters")
            for target in mapping.values() if len(target) > limit]


def register_targets(con: duckdb.DuckDBPyConnection, destination: str, mapping: Mapping[str, str]) -> str:
    """Write (segment, target) to a temp table for the desired-state SQL; returns the table's (safe) name."""
    table = "segsync_targets_" + re.sub(r"[^a-z0-9_]", "_", destination.lower())
    return temp_table(con, table, pa.table({"segment": pa.array(list(mapping), pa.string()),
                                            "target": pa.array(list(mapping.values()), pa.string())}))


def temp_table(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> str:
    """Copy an Arrow table into TEMP table `name` (a code-built identifier), so views may read it."""
    staging = f"{name}_arrow"
    con.register(staging, data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {staging}").fetchall()
    finally:
        con.unregister(staging)
    return name


def company_membership_sql(view: str, key_column: str) -> str:
    """Desired rows: one per (list, company) keyed by an `accounts` id column (view/column are code constants)."""
    return f"""
        SELECT t.target AS target, CAST(a.{key_column} AS VARCHAR) AS record_key,
               min(m.account_id) AS account_id, CAST('{{}}' AS JSON) AS payload,
               list_sort(list(DISTINCT m.segment)) AS segments
        FROM sync_members m
        JOIN {view} t ON t.segment = m.segment
        JOIN accounts a ON a.account_id = m.account_id
        WHERE a.{key_column} IS NOT NULL AND CAST(a.{key_column} AS VARCHAR) <> ''
        GROUP BY t.target, a.{key_column}
    """


def contact_membership_sql(view: str) -> str:
    """Desired rows: one per (list/tag, lowercased contact email) of every member account's contacts."""
    return f"""
        SELECT t.target AS target, lower(trim(c.email)) AS record_key,
               min(m.account_id) AS account_id, CAST('{{}}' AS JSON) AS payload,
               list_sort(list(DISTINCT m.segment)) AS segments
        FROM sync_members m
        JOIN {view} t ON t.segment = m.segment
        JOIN contacts c ON c.account_id = m.account_id
        WHERE c.email IS NOT NULL AND position('@' IN c.email) > 1
        GROUP BY t.target, lower(trim(c.email))
    """


def credential_key(vendor: str, secret: str | None) -> str:
    """The limiter key for one credential: vendor plus a short hash (the secret itself is never a key)."""
    digest = hashlib.sha256((secret or "").encode()).hexdigest()[:12]
    return f"{vendor}:{digest}"


class LayeredLimiter:
    """Several windows at once (e.g. a per-second burst and a per-minute steady limit) behind one limiter."""

    def __init__(self, limiters: Sequence[RateLimiter]):
        self.limiters = list(limiters)

    def acquire(self) -> None:
        for limiter in self.limiters:
            limiter.acquire()

    def penalise(self, seconds: float) -> None:
        for limiter in self.limiters:
            limiter.penalise(seconds)


def layered_limiter(key: str, windows: Sequence[tuple[int, float]]) -> LayeredLimiter:
    """One shared limiter per (credential, window); windows are (calls, per_seconds) pairs."""
    return LayeredLimiter([limiter_for(f"{key}:{calls}/{per}", calls, per) for calls, per in windows])


_semaphores: dict[str, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def connection_slots(key: str, size: int) -> threading.BoundedSemaphore:
    """At most `size` simultaneous calls per credential, shared by every task in this process."""
    with _semaphores_lock:
        slot = _semaphores.get(key)
        if slot is None:
            slot = _semaphores[key] = threading.BoundedSemaphore(size)
        return slot


def chunks(items: Sequence, size: int) -> list:
    """Consecutive slices of at most `size` items."""
    return [items[i:i + size] for i in range(0, len(items), size)]
