"""The run summary: one JSON-friendly object (for --json and sync_runs) and its table/markdown renderings."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

REPORT_COLUMNS = ("adds", "updates", "removes", "synced", "rejected", "retry", "write_calls")


def make_summary(*, run_id: str, as_of: str | None, dry_run: bool, ingested: dict, built: dict,
                 synced: dict) -> dict:
    """Fold the steps' handles into the summary; status is 'ok', 'partial' (some records failed) or 'blocked'."""
    destinations = {}
    for name, outcome in synced.items():
        report = dict(outcome.get("report") or {})
        plan = outcome.get("plan") or {}
        report.setdefault("api_calls_estimate", plan.get("api_calls_estimate"))
        report.setdefault("plan_fingerprint", plan.get("fingerprint"))
        if outcome.get("reconcile"):  # `segsync run --reconcile`: the drift found before planning
            report["reconcile"] = outcome["reconcile"]
        destinations[name] = report
    failures = sum(int(r.get("rejected") or 0) + int(r.get("retry") or 0) for r in destinations.values())
    blocked = [n for n, r in destinations.items() if r.get("blocked_reason")]
    status = "blocked" if blocked else ("partial" if failures else "ok")
    build = built.get("build", {})
    return {
        "run_id": run_id,
        "status": status,
        "as_of": as_of,
        "dry_run": dry_run,
        "sources": {name: {"rows": r.get("tables", {}), "requests": r.get("requests")} for name, r in ingested.items()},
        "accounts": build.get("accounts", build.get("rows")),
        "data_issues": build.get("data_issues", build.get("issues", {})),
        "matches": build.get("matches", build.get("match_report", {})),
        "segments": built.get("segments", {}),
        "destinations": destinations,
    }


def summary_tables(summary: dict) -> list[Table]:
    tables = []
    sources = Table(title="Rows read per source this run (incremental reads only what changed)")
    for col in ("source", "raw table", "rows", "requests"):
        sources.add_column(col, justify="right" if col in ("rows", "requests") else "left")
    for name, info in summary.get("sources", {}).items():
        first = True
        for table, rows in (info.get("rows") or {}).items():
            sources.add_row(name if first else "", table, str(rows), str(info.get("requests")) if first else "")
            first = False
    tables.append(sources)

    if summary.get("data_issues"):
        issues = Table(title="Data issues (counted, never dropped silently)")
        issues.add_column("rule")
        issues.add_column("records", justify="right")
        for rule, count in sorted(summary["data_issues"].items()):
            issues.add_row(rule, str(count))
        tables.append(issues)

    segments = Table(title=f"Members per segment ({summary.get('accounts')} accounts)")
    segments.add_column("segment")
    segments.add_column("members", justify="right")
    for name, count in sorted(summary.get("segments", {}).items()):
        segments.add_row(name, str(count))
    tables.append(segments)

    dests = Table(title="Destinations" + (" (dry run: nothing sent)" if summary.get("dry_run") else ""))
    dests.add_column("destination")
    for col in REPORT_COLUMNS:
        dests.add_column(col.replace("_", " "), justify="right")
    dests.add_column("note")
    for name, report in summary.get("destinations", {}).items():
        dests.add_row(name, *(str(report.get(c, "")) for c in REPORT_COLUMNS), str(report.get("blocked_reason") or ""))
    tables.append(dests)
    return tables


def wide_console() -> Console:
    """A console that does not squeeze tables into 80 columns when output is piped or run under make."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def print_summary(summary: dict, console: Console | None = None) -> None:
    console = console or wide_console()
    for table in summary_tables(summary):
        console.print(table)
    console.print(f"run {summary.get('run_id')}: [bold]{summary.get('status')}[/bold]")


def _markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(summary: dict) -> str:
    parts = [f"# segsync run {summary.get('run_id')} — {summary.get('status')}"]
    parts.append("## Segments\n" + _markdown_table(["segment", "members"],
                                                     sorted(summary.get("segments", {}).items())))
    parts.append("## Destinations\n" + _markdown_table(
        ["destination", *REPORT_COLUMNS, "note"],
        [[n, *(r.get(c, "") for c in REPORT_COLUMNS), r.get("blocked_reason") or ""]
         for n, r in summary.get("destinations", {}).items()]))
    if summary.get("data_issues"):
        parts.append("## Data issues\n" + _markdown_table(["rule", "records"], sorted(summary["data_issues"].items())))
    return "\n\n".join(parts)


def plan_markdown(destination: str, outcome: dict) -> str:
    plan = outcome.get("plan") or {}
    report = outcome.get("report") or {}
    rows = [[k, v] for k, v in plan.items() if not isinstance(v, (list, dict))]
    text = f"# Plan for {destination}\n\n" + _markdown_table(["item", "value"], rows)
    text += "\n\n## Result\n\n" + _markdown_table(["item", "value"],
                                                   [[k, v] for k, v in report.items() if not isinstance(v, (list, dict))])
    return text
