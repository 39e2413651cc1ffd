"""`segsync plan [--base REV] [--json]` (current segment files, evaluated into a temporary table), `segsync reconcile`
(drift between destinations and confirmed state) and the failures table behind `segsync status --failures`."""
from __future__ import annotations

import json
import os
import sys

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


CURRENT_MEMBERS = "_segsync_plan_members"  # temporary: the current segment files evaluated for `segsync plan`


def plan_table(plans: dict) -> Table:
    table = Table(title="Sync plan")
    for column in ("destination", "adds", "updates", "removes", "unchanged", "write calls", "via", "guardrails",
                   "fingerprint"):
        table.add_column(column)
    for name, plan in plans.items():
        table.add_row(name, str(plan.adds), str(plan.updates), str(plan.removes), str(plan.unchanged),
                      str(plan.api_calls_estimate), plan.channel, verdict_of(plan), plan.fingerprint)
    return table


def verdict_of(plan) -> str:
    return "REFUSED" if plan.refused else ("ok" if plan.guardrail.ok else "BLOCKED")


def segment_table(plans: dict) -> Table:
    """Per destination and segment: accounts entering and leaving (a few ids of each)."""
    table = Table(title="Who enters and leaves, per destination and segment")
    for column in ("destination", "segment", "entering", "leaving", "entering (e.g.)", "leaving (e.g.)",
                   "write calls", "guardrails"):
        table.add_column(column, overflow="fold")
    for name, plan in plans.items():
        for counts in plan.segments:
            table.add_row(name, counts.segment, str(counts.entering), str(counts.leaving),
                          ", ".join(counts.entering_sample), ", ".join(counts.leaving_sample),
                          str(plan.api_calls_estimate), verdict_of(plan))
    return table


def changes_table(revision: str, changes) -> Table:
    """Per segment: who the segment-file changes since `revision` would move in or out."""
    table = Table(title=f"Segment changes since {revision} (same accounts, definitions at {revision} vs now)")
    for column in ("segment", "status", f"members at {revision}", "members now", "entering", "leaving",
                   "entering (e.g.)", "leaving (e.g.)"):
        table.add_column(column, overflow="fold")
    for change in changes:
        table.add_row(change.segment, change.status, str(change.base_members), str(change.members),
                      str(change.entered), str(change.exited), ", ".join(change.entering), ", ".join(change.leaving))
    return table


def change_dict(change) -> dict:
    return {"segment": change.segment, "status": change.status, "base_members": change.base_members,
            "members": change.members, "entering": change.entered, "leaving": change.exited,
            "entering_sample": list(change.entering), "leaving_sample": list(change.leaving)}


def plan_current(con: duckdb.DuckDBPyConnection, config, segments, *, run_id: str, env=None,
                 destinations=None, as_of=None) -> dict:
    """Plans for the *current* segment definitions: evaluated over the current `accounts` into a temporary
    membership table (segment_membership and segment_history are not touched), diffed against confirmed state."""
    from segsync.segments import evaluate_into
    from segsync.sync import plan_sync

    evaluate_into(con, segments, CURRENT_MEMBERS, as_of=as_of, run_id=run_id, temporary=True)
    try:
        return plan_sync(con, config, segments, env=os.environ if env is None else env, run_id=run_id,
                         destinations=destinations, membership_table=CURRENT_MEMBERS)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {CURRENT_MEMBERS}")


def segment_changes_since(con: duckdb.DuckDBPyConnection, config, segments, base: str, *, as_of=None) -> list:
    """Per segment, who enters and leaves between the definitions at git revision `base` and the current ones
    (both evaluated over the same current accounts into temporary tables)."""
    from segsync.segments import load_segments_at, membership_diff

    base_segments = load_segments_at(base, config.segments_path, columns=segments.columns or None,
                                     usage_columns=segments.usage_columns or None)
    return membership_diff(con, base_segments, segments, as_of=as_of)


def plan(
    base: str = typer.Option(None, "--base", help="Also show who the segment-file changes since this git revision "
                                                   "would move in or out of each segment."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    destination: list[str] = typer.Option(None, "--destination", "-d", help="Only these destinations."),
) -> None:
    """Show what a sync of the current segment files would change in each destination (nothing is sent)."""
    from segsync import pipeline
    from segsync.config import load_config
    from segsync.runs import new_run_id

    console = Console(stderr=as_json)
    try:
        config = load_config()
        con = pipeline.connect(config)
        try:
            segments = pipeline.load_segment_set(config, con)
            run_id = "plan-" + new_run_id()
            changes = segment_changes_since(con, config, segments, base) if base else None
            plans = plan_current(con, config, segments, run_id=run_id, destinations=destination or None)
        finally:
            con.close()
    except InputError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        out = {"run_id": run_id, "destinations": {n: p.to_dict() for n, p in plans.items()}}
        if changes is not None:
            out["base"] = {"revision": base, "segments": [change_dict(c) for c in changes]}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    if changes is not None:
        console.print(changes_table(base, changes))
    console.print(plan_table(plans))
    console.print(segment_table(plans))
    for item in plans.values():
        console.print(str(item), highlight=False, markup=False, soft_wrap=True)


def reconcile_table(reports: dict) -> Table:
    table = Table(title="Drift: what each destination holds vs what segsync confirmed")
    for column in ("destination", "checked", "missing", "changed", "foreign", "to remove", "e.g."):
        table.add_column(column, overflow="fold")
    for name, report in reports.items():
        sample = report.missing_sample + report.changed_sample + report.foreign_sample
        table.add_row(name, str(report.checked), str(report.missing), str(report.changed), str(report.foreign),
                      str(report.foreign_removing), ", ".join(f"{t}/{k}" for t, k in sample[:5]))
    return table


def reconcile(
    destination: list[str] = typer.Option(None, "--destination", "-d", help="Only these destinations."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Compare what each destination holds now with what segsync confirmed (read calls only, nothing is sent):
    report missing, changed and foreign records and mark them so the next `segsync run` repairs them."""
    from segsync import pipeline
    from segsync.cli.run_cmd import describe_failure
    from segsync.config import load_config
    from segsync.sync.reconcile import reconcile as reconcile_destinations

    console = Console(stderr=as_json)
    try:
        config = load_config()
        con = pipeline.connect(config)
        try:
            segments = pipeline.load_segment_set(config, con)
            reports = reconcile_destinations(con, config, segments, destinations=destination or None)
        finally:
            con.close()
    except InputError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - a vendor or warehouse failure becomes one actionable message
        message, fields = describe_failure(exc)
        if as_json:
            sys.stdout.write(json.dumps({"status": "failed", **fields}) + "\n")
        console.print(message, markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"destinations": {n: r.to_dict() for n, r in reports.items()}}) + "\n")
        return
    console.print(reconcile_table(reports))
    for report in reports.values():
        console.print(str(report), highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `segsync plan` and `segsync reconcile` to the main app."""
    app.command()(plan)
    app.command()(reconcile)
