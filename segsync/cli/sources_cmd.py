"""Source commands: `segsync ingest`, `segsync build`, and the match-report tables for `segsync status --matches`."""
from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.table import Table

from segsync.errors import InputError, SegsyncError

STATUSES = ("matched", "unmatched", "ambiguous")


def render_matches(con) -> Table:
    """Per source: matched / unmatched / ambiguous record counts from match_report."""
    from segsync import store

    table = Table(title="Identity matches per source")
    for name in ("source", *STATUSES, "total"):
        table.add_column(name, justify="left" if name == "source" else "right")
    if not store.table_exists(con, "match_report"):
        table.caption = "no match_report yet: run `segsync build`"
        return table
    rows = con.execute("""SELECT source, count(*) FILTER (WHERE status = 'matched'),
                                 count(*) FILTER (WHERE status = 'unmatched'),
                                 count(*) FILTER (WHERE status = 'ambiguous'), count(*)
                          FROM match_report GROUP BY source ORDER BY source""").fetchall()
    for source, *counts in rows:
        table.add_row(source, *(f"{n:,}" for n in counts))
    return table


def render_match_details(con, *, status: str | None = None, limit: int = 50) -> Table:
    """Each record's match reason (unmatched and ambiguous first), so ops can fix the CRM rather than guess."""
    table = Table(title="Match reasons")
    for name in ("source", "record", "status", "account", "reason"):
        table.add_column(name)
    rows = con.execute("""SELECT source, source_record_id, status, account_id, reason FROM match_report
                          WHERE ? IS NULL OR status = ?
                          ORDER BY CASE status WHEN 'ambiguous' THEN 0 WHEN 'unmatched' THEN 1 ELSE 2 END,
                                   source, source_record_id LIMIT ?""", [status, status, limit]).fetchall()
    for row in rows:
        table.add_row(*(str(v) if v is not None else "" for v in row))
    return table


def _config(path: str | None):
    from segsync.config import load_config

    return load_config(path)


def _connect(config):
    from segsync import store

    return store.connect(config.warehouse and config.path(config.warehouse))


def _fail(exc: Exception) -> None:
    err = Console(stderr=True)
    if isinstance(exc, InputError):
        err.print("[red]Input problems:[/red]")
        for problem in exc.problems:
            err.print(f"  {problem}")
        raise typer.Exit(2)
    err.print(f"[red]{type(exc).__name__}: {exc}[/red]")
    raise typer.Exit(1)


def ingest_command(
    full: bool = typer.Option(False, "--full", help="Re-read everything instead of what changed since the cursor."),
    source: list[str] = typer.Option(None, "--source", help="Only this source (repeatable)."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Pull the enabled sources into their raw tables (incremental on stored cursors unless --full)."""
    import sources

    try:
        project = _config(config)
        chosen = list(source or sources.enabled_sources(project))
        con = _connect(project)
        try:
            results = [sources.ingest(con, project, os.environ, source=name, full=full) for name in chosen]
        finally:
            con.close()
    except SegsyncError as exc:
        _fail(exc)
        return
    table = Table(title="Ingest")
    for name in ("source", "raw table", "rows", "requests", "issues"):
        table.add_column(name, justify="left" if name in ("source", "raw table") else "right")
    for result in results:
        for position, (raw, rows) in enumerate(sorted(result.tables.items())):
            first = position == 0
            table.add_row(result.source if first else "", raw, f"{rows:,}", str(result.requests) if first else "",
                          str(result.issues) if first else "")
    Console().print(table)


def build_command(
    as_of: str = typer.Option(None, "--as-of", help="Build as of this date (YYYY-MM-DD, end of that UTC day) or ISO time."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Rebuild accounts, contacts, account_daily_usage, match_report and data_issues from the raw tables."""
    from segsync.build import build_accounts
    from segsync.timeutil import parse_as_of

    try:
        moment = parse_as_of(as_of) if as_of else None
    except ValueError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(2)
    try:
        project = _config(config)
        con = _connect(project)
        try:
            result = build_accounts(con, project, as_of=moment)
            matches = render_matches(con)
        finally:
            con.close()
    except SegsyncError as exc:
        _fail(exc)
        return
    console = Console()
    console.print(f"accounts {result.accounts:,}, contacts {result.contacts:,}, "
                  f"daily usage rows {result.account_daily_usage:,} (as of {result.as_of:%Y-%m-%d %H:%M} UTC)")
    console.print(matches)
    issues = Table(title="Data issues per rule")
    issues.add_column("rule")
    issues.add_column("records", justify="right")
    for rule, count in sorted(result.data_issues.items()):
        issues.add_row(rule, f"{count:,}")
    console.print(issues)


def register(app: typer.Typer) -> None:
    """Add `ingest` and `build` to the main app."""
    app.command("ingest")(ingest_command)
    app.command("build")(build_command)
