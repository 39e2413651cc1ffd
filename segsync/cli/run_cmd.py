"""`segsync run` (the whole job as a Prefect flow) and `segsync status` (runs, sync state, matches, failures)."""
from __future__ import annotations

import json
import os
import sys

import typer
from rich.console import Console
from rich.table import Table

from segsync.errors import InputError, SegsyncError


def _quiet_prefect(verbose: bool) -> None:
    """Prefect's run logs go to its API (the UI) at INFO; the terminal shows only segsync's own output."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


SANDBOX_HINT = ("If you use the local sandboxes: `segsync sandbox status` tells whether they run; "
                "start them with `segsync sandbox up` then `segsync sandbox seed`.")


def describe_failure(exc: BaseException) -> tuple[str, dict]:
    """A one-paragraph message a user can act on, and the same as JSON fields (never a traceback)."""
    import duckdb
    import requests

    from segsync.errors import RemoteError
    from segsync.redact import redact

    text = redact(str(exc)).strip()
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        message = (f"The warehouse is in use by another process ({text.splitlines()[0]}). DuckDB allows one "
                   "writer: wait for the other segsync run to finish, or set SEGSYNC_WAREHOUSE to another file.")
        return message, {"error": "warehouse_locked", "message": message}
    if isinstance(exc, (requests.ConnectionError, ConnectionError)) or (
            isinstance(exc, RemoteError) and exc.status is None):
        message = f"A vendor API could not be reached: {text[:400]}\n{SANDBOX_HINT}"
        return message, {"error": "unreachable", "message": message}
    if isinstance(exc, SegsyncError):
        message = f"{type(exc).__name__}: {text[:1000]}"
        return message, {"error": type(exc).__name__, "message": message}
    message = f"{type(exc).__name__}: {text[:1000]}\nRun again with --verbose for Prefect's logs and the traceback."
    return message, {"error": type(exc).__name__, "message": message}


def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and explain every destination; send nothing."),
    as_of: str = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD) or ISO timestamp, UTC."),
    as_json: bool = typer.Option(False, "--json", help="Print one machine-readable summary object on stdout."),
    force: bool = typer.Option(False, "--force", help="Apply plans that a guardrail would stop."),
    approve: list[str] = typer.Option(None, "--approve",
                                      help="Let exactly this plan (fingerprint from `segsync plan`) past its guardrail."),
    full: bool = typer.Option(False, "--full", help="Full re-extract of every source instead of incremental."),
    skip_ingest: bool = typer.Option(False, "--skip-ingest", help="Reuse the raw tables already in the warehouse."),
    reconcile: bool = typer.Option(False, "--reconcile",
                                   help="Before planning, read each destination's current state (read calls only): "
                                        "re-send what was lost or changed there, remove what others added to "
                                        "owned lists/tags (not in mirror mode)."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's run logs and tracebacks in the terminal."),
) -> None:
    """Run the main job: ingest -> build -> evaluate segments -> sync, as one Prefect flow."""
    _quiet_prefect(verbose)
    err = Console(stderr=True)

    def fail(code: int, message: str, fields: dict) -> None:
        if as_json:
            sys.stdout.write(json.dumps({"status": "failed" if code != 2 else "invalid", **fields}) + "\n")
        err.print(message, markup=False, highlight=False)
        raise typer.Exit(code)

    if as_of is not None:
        from segsync.timeutil import parse_as_of

        try:
            parse_as_of(as_of)
        except ValueError as exc:
            fail(2, str(exc), {"error": "bad_as_of", "message": str(exc)})
    from flows.pipeline import segsync_pipeline

    try:
        summary = segsync_pipeline(config_path=config, as_of=as_of, dry_run=dry_run, force=force, full=full,
                                   skip_ingest=skip_ingest, approved=list(approve or []), reconcile=reconcile)
    except InputError as exc:
        lines = [str(p) for p in exc.problems]
        fail(2, "Input problems (nothing was read or sent):\n  " + "\n  ".join(lines),
             {"error": "input", "problems": lines})
    except Exception as exc:  # noqa: BLE001 - every failure becomes one actionable message, not a traceback
        if verbose:
            raise
        message, fields = describe_failure(exc)
        fail(1, message, fields)
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        from segsync.summary import print_summary

        print_summary(summary)
    if summary.get("status") == "blocked":
        raise typer.Exit(3)


def status(
    matches: bool = typer.Option(False, "--matches", help="Identity matching per source, with each record's reason."),
    failures: bool = typer.Option(False, "--failures", help="Records not yet confirmed by a destination."),
    limit: int = typer.Option(10, help="How many recent runs (or rows) to show."),
) -> None:
    """Show recent runs and the sync state per destination."""
    from segsync import runs, store

    from segsync.summary import wide_console

    console = wide_console()
    con = store.connect()
    try:
        if matches:
            from segsync.cli.sources_cmd import render_matches

            console.print(render_matches(con))
            return
        if failures:
            from segsync.cli.sync_cmd import failures_table

            console.print(failures_table(con))
            return
        table = Table(title="Recent runs")
        for col in ("run", "started (UTC)", "finished (UTC)", "status", "as of"):
            table.add_column(col)
        for row in runs.recent_runs(con, limit):
            table.add_row(*(str(v) if v is not None else "" for v in row))
        console.print(table)
        if store.table_exists(con, "sync_state"):
            state = Table(title="Sync state (confirmed records per destination)")
            for col in ("destination", "status", "records"):
                state.add_column(col)
            for row in con.execute("SELECT destination, status, count(*) FROM sync_state GROUP BY ALL ORDER BY ALL").fetchall():
                state.add_row(*(str(v) for v in row))
            console.print(state)
    finally:
        con.close()


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(status)
