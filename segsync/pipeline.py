"""The pipeline's steps as plain functions (ingest, build, evaluate, sync); flows/ only wires them."""
from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime
from typing import Any

import duckdb

from segsync import store
from segsync.config import ProjectConfig


def _plain(value: Any) -> Any:
    """Dataclasses and nested containers -> JSON-friendly dicts (for summaries and task results)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def warehouse_file(config: ProjectConfig) -> Path:
    """$SEGSYNC_WAREHOUSE wins over the project file's `warehouse:` (so a dry run can redirect every step)."""
    chosen = os.environ.get("SEGSYNC_WAREHOUSE") or (config.warehouse and config.path(config.warehouse))
    return store.warehouse_path(chosen)


def connect(config: ProjectConfig):
    return store.connect(warehouse_file(config))


@contextmanager
def scratch_warehouse(config: ProjectConfig, *, enabled: bool = True) -> Iterator[Path | None]:
    """Point every step at a throwaway copy of the warehouse (for dry runs); the real file is left untouched."""
    if not enabled:
        yield None
        return
    real = warehouse_file(config)
    scratch = real.with_name(real.stem + ".dry-run.duckdb")
    for path in (scratch, Path(str(scratch) + ".wal")):
        path.unlink(missing_ok=True)
    if real.exists():
        shutil.copyfile(real, scratch)
        if Path(str(real) + ".wal").exists():
            shutil.copyfile(str(real) + ".wal", str(scratch) + ".wal")
    saved = os.environ.get("SEGSYNC_WAREHOUSE")
    os.environ["SEGSYNC_WAREHOUSE"] = str(scratch)
    try:
        yield scratch
    finally:
        if saved is None:
            os.environ.pop("SEGSYNC_WAREHOUSE", None)
        else:
            os.environ["SEGSYNC_WAREHOUSE"] = saved
        for path in (scratch, Path(str(scratch) + ".wal")):
            path.unlink(missing_ok=True)


def check_segments(config: ProjectConfig) -> None:
    """Load and check every segment file (raises InputError with every problem) before any step runs."""
    path = warehouse_file(config)
    con = None
    if path.exists():
        try:
            con = store.connect(path, read_only=True)
        except duckdb.IOException:  # another process writes the warehouse: check against the declared schema
            con = None
    try:
        load_segment_set(config, con)
    finally:
        if con is not None:
            con.close()


def enabled_sources(config: ProjectConfig) -> list[str]:
    return [name for name, settings in config.sources.items() if settings.get("enabled", True)]


def enabled_destinations(config: ProjectConfig) -> list[str]:
    return [name for name, settings in config.destinations.items() if settings.get("enabled", True)]


def ingest_source(config: ProjectConfig, source: str, *, full: bool = False,
                  env: Mapping[str, str] | None = None) -> dict:
    """Pull one source into its raw tables; returns rows per raw table and the request count."""
    import sources

    con = connect(config)
    try:
        result = sources.ingest(con, config, env if env is not None else os.environ, source=source, full=full)
    finally:
        con.close()
    return _plain(result)


def build(config: ProjectConfig, *, as_of: datetime | None, run_id: str) -> dict:
    """Rebuild accounts, contacts, usage series, match report and data issues from the raw tables."""
    from segsync.build import build_accounts

    con = connect(config)
    try:
        return _plain(build_accounts(con, config, as_of=as_of, run_id=run_id))
    finally:
        con.close()


def load_segment_set(config: ProjectConfig, con=None):
    from segsync.segments import load_segments

    columns = store.table_columns(con, "accounts") if con is not None and store.table_exists(con, "accounts") else None
    return load_segments(config.segments_path, columns=columns or None, config=config)


def evaluate(config: ProjectConfig, *, as_of: datetime | None, run_id: str) -> dict[str, int]:
    """Evaluate every segment in one pass; returns members per segment."""
    from segsync.segments import evaluate as evaluate_segments

    con = connect(config)
    try:
        segments = load_segment_set(config, con)
        return dict(evaluate_segments(con, segments, as_of=as_of, run_id=run_id))
    finally:
        con.close()


def sync_destination(config: ProjectConfig, destination: str, *, run_id: str, dry_run: bool = False,
                     force: bool = False, approved: tuple[str, ...] = (),
                     env: Mapping[str, str] | None = None, reconcile: bool = False) -> dict:
    """Plan one destination against its confirmed state, then apply (unless dry-run or blocked).

    `reconcile`: first read what the destination holds now and mark drift (segsync.sync.reconcile), so the plan
    re-sends what was lost or changed there and removes records others put in owned lists/tags."""
    from segsync.sync import apply_sync, plan_sync

    env = env if env is not None else os.environ
    con = connect(config)
    try:
        segments = load_segment_set(config, con)
        drift = None
        if reconcile:
            from segsync.sync.reconcile import reconcile as reconcile_destinations

            drift = reconcile_destinations(con, config, segments, env=env, destinations=[destination])[destination]
        plans = plan_sync(con, config, segments, env=env, run_id=run_id, destinations=[destination])
        reports = apply_sync(con, plans, env=env, force=force, dry_run=dry_run, approved=approved)
        plan = plans[destination]
        outcome = {"plan": plan.to_dict() if hasattr(plan, "to_dict") else _plain(plan),
                   "report": _plain(reports[destination])}
        if drift is not None:
            outcome["reconcile"] = drift.to_dict()
        return outcome
    finally:
        con.close()
