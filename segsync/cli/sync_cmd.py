"""`segsync plan [--base REV] [--json]` and the failures table behind `segsync status --failures`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from segsync.errors import InputError, Problem

FAILURE_COLUMNS = ("destination", "target", "record", "account", "status", "attempts", "code", "last error",
                   "updated (UTC)")


def failures_table(con: duckdb.DuckDBPyConnection, destination: str | None = None, limit: int = 200) -> Table:
    """Records a destination has not confirmed (rejected, retry, pending), oldest first."""
    from segsync.sync.state import failures

    rows = failures(con, destination, limit)
    table = Table(title=f"Unconfirmed records ({len(rows)}{'+' if len(rows) == limit else ''})")
    for column in FAILURE_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def plan_table(plans: dict) -> Table:
    table = Table(title="Sync plan")
    for column in ("destination", "adds", "updates", "removes", "unchanged", "write calls", "via", "guardrails",
                   "fingerprint"):
        table.add_column(column)
    for name, plan in plans.items():
        verdict = "REFUSED" if plan.refused else ("ok" if plan.guardrail.ok else "BLOCKED")
        table.add_row(name, str(plan.adds), str(plan.updates), str(plan.removes), str(plan.unchanged),
                      str(plan.api_calls_estimate), plan.channel, verdict, plan.fingerprint)
    return table


def segments_at(config, base: str):
    """The SegmentSet as it was at git revision `base` (segment files checked out into a temporary folder)."""
    from segsync.segments import load_segments

    folder = config.segments_path
    try:
        top = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, check=True,
                                  capture_output=True, text=True).stdout.strip())
        relative = folder.resolve().relative_to(top)
        listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", base, "--", str(relative)], cwd=top,
                                 check=True, capture_output=True, text=True).stdout.split()
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise InputError([Problem(str(folder), f"cannot read segment files at revision {base!r}: {detail.strip()}",
                                  expected="a git revision of this repository (e.g. HEAD~1, main)")]) from exc
    with tempfile.TemporaryDirectory() as tmp:
        for name in listing:
            text = subprocess.run(["git", "show", f"{base}:{name}"], cwd=top, check=True, capture_output=True,
                                  text=True).stdout
            target = Path(tmp) / Path(name).relative_to(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        return load_segments(Path(tmp), config=config)


def plan(
    base: str = typer.Option(None, "--base", help="Compare with the segment definitions at this git revision "
                                                   "(adds/removes the change alone would cause)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    destination: list[str] = typer.Option(None, "--destination", "-d", help="Only these destinations."),
) -> None:
    """Show what a sync would change in each destination (nothing is sent)."""
    from segsync import pipeline
    from segsync.config import load_config
    from segsync.runs import new_run_id
    from segsync.sync import plan_sync

    console = Console(stderr=as_json)
    try:
        config = load_config()
        con = pipeline.connect(config)
        try:
            segments = pipeline.load_segment_set(config, con)
            run_id = "plan-" + new_run_id()
            plans = plan_sync(con, config, segments, env=os.environ, run_id=run_id,
                              destinations=destination or None)
            base_plans = None
            if base:
                base_plans = plan_sync(con, config, segments_at(config, base), env=os.environ,
                                       run_id=run_id + "-base", destinations=destination or None)
        finally:
            con.close()
    except InputError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        out = {"run_id": run_id, "destinations": {n: p.to_dict() for n, p in plans.items()}}
        if base_plans is not None:
            out["base"] = {"revision": base, "destinations": {n: p.to_dict() for n, p in base_plans.items()}}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    console.print(plan_table(plans))
    for item in plans.values():
        console.print(str(item), highlight=False, markup=False, soft_wrap=True)
    if base_plans is not None:
        console.print(f"\nAt revision {base}:")
        console.print(plan_table(base_plans))


def register(app: typer.Typer) -> None:
    """Add `segsync plan` to the main app."""
    app.command()(plan)
