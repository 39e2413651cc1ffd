"""Segment commands: validate, compile, preview, explain, test (fixtures) and schema."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from segsync.errors import InputError

AS_OF_HELP = "Evaluate as of this date (YYYY-MM-DD, end of that UTC day) or ISO timestamp."


def _project(config_path: str | None):
    """(config or None, segments folder, warehouse path or None) for this project."""
    from segsync.config import find_config, load_config

    path = Path(config_path) if config_path else find_config()
    if not path.exists():
        return None, Path("segment_defs"), None
    config = load_config(path)
    warehouse = config.path(config.warehouse) if config.warehouse else None
    return config, config.segments_path, warehouse


def _open_warehouse(warehouse, *, read_only: bool, required: bool = False):
    """The warehouse (read-only), or None when it does not exist yet or another process holds its lock."""
    import duckdb

    from segsync import store

    target = store.warehouse_path(warehouse)
    if read_only and not target.exists():
        return None
    try:
        return store.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        err = Console(stderr=True, highlight=False)
        if required:
            err.print(f"[red]The warehouse {target} is in use by another process: {exc}[/red]", markup=True)
            raise typer.Exit(1)
        err.print(f"[yellow]The warehouse {target} is in use by another process; checking against the "
                  "documented columns instead.[/yellow]")
        return None


def _load(config, directory: Path, con):
    from segsync.segments import load_segments
    from segsync.segments.columns import account_columns, declared_account_columns, usage_columns
    from segsync.store import table_exists

    live = con is not None and table_exists(con, "accounts")
    columns = account_columns(con) if live else declared_account_columns(directory)
    return load_segments(directory, columns=columns, usage_columns=usage_columns(con), config=config)


def _as_of(text: str | None):
    if not text:
        return None
    from segsync.timeutil import parse_as_of

    try:
        return parse_as_of(text)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(2)


def _report_problems(exc: InputError, what: str = "segment files") -> None:
    err = Console(stderr=True, highlight=False)
    err.print(f"[red]{len(exc.problems)} problem(s) in the {what}; nothing was evaluated or sent:[/red]")
    for problem in exc.problems:
        err.print(f"  {problem}", markup=False, soft_wrap=True)  # one problem per line, never wrapped


def _need_accounts(con) -> None:
    from segsync.store import table_exists

    if con is None or not table_exists(con, "accounts"):
        Console(stderr=True).print("[red]No accounts table in the warehouse yet; run `segsync run` first.[/red]")
        raise typer.Exit(1)


def _with_named_segment(config: str | None, segment: str, fn):
    """Open the warehouse read-only, load the segments, check `segment` exists, return fn(con, segments)."""
    project, default_dir, warehouse = _project(config)
    con = _open_warehouse(warehouse, read_only=True, required=True)
    try:
        _need_accounts(con)
        segments = _load(project, default_dir, con)
        if segment not in segments:
            Console(stderr=True).print(f"[red]unknown segment {segment!r}; known: {', '.join(segments.names)}[/red]")
            raise typer.Exit(1)
        return fn(con, segments)
    except InputError as exc:
        _report_problems(exc)
        raise typer.Exit(1)
    finally:
        if con is not None:
            con.close()


def validate(
    directory: Path = typer.Option(None, "--dir", help="Segment folder (default: segments_dir of segsync.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="Print problems and segments as one JSON object."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Check every segment file at once: file, line, key path, bad value, what was expected."""
    project, default_dir, warehouse = _project(config)
    con = _open_warehouse(warehouse, read_only=True)
    try:
        segments = _load(project, directory or default_dir, con)
    except InputError as exc:
        if as_json:
            sys.stdout.write(json.dumps({"ok": False, "problems": [
                {"file": p.file, "line": p.line, "path": p.path, "message": p.message,
                 "value": None if p.value is None else str(p.value), "expected": p.expected}
                for p in exc.problems]}) + "\n")
        else:
            _report_problems(exc)
        raise typer.Exit(1)
    finally:
        if con is not None:
            con.close()
    if as_json:
        sys.stdout.write(json.dumps({"ok": True, "segments": segments.names}) + "\n")
    else:
        typer.echo(f"{len(segments)} segment(s) OK: {', '.join(segments.names)}")


def compile_cmd(
    out: Path = typer.Option(Path("target/segments"), "--out", help="Folder for the compiled SQL."),
    as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
    directory: Path = typer.Option(None, "--dir", help="Segment folder (default: segments_dir of segsync.yaml)."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Write each segment's DuckDB SQL (and the one-pass query of all of them) for review."""
    from segsync.segments import Compiler, compile_segments

    project, default_dir, warehouse = _project(config)
    con = _open_warehouse(warehouse, read_only=True)
    try:
        segments = _load(project, directory or default_dir, con)
    except InputError as exc:
        _report_problems(exc)
        raise typer.Exit(1)
    finally:
        if con is not None:
            con.close()
    moment = _as_of(as_of)
    out.mkdir(parents=True, exist_ok=True)
    for name, sql in compile_segments(segments, moment).items():
        (out / f"{name}.sql").write_text(f"-- segment {name} ({segments[name].source_file})\n{sql};\n")
    if len(segments):
        compiler = Compiler(segments, moment)
        query = compiler.membership_query().sql("duckdb", pretty=True)
        (out / "_all_segments.sql").write_text(f"-- every segment in one pass over accounts\n{query};\n")
    typer.echo(f"wrote {len(segments)} segment(s) and _all_segments.sql to {out}")


def preview_cmd(
    segment: str = typer.Argument(..., help="Segment name."),
    as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
    sample: int = typer.Option(10, "--sample", min=0, help="How many member account ids to show."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Size, split sizes, a sample of members and the change since the last run (writes nothing)."""
    from segsync.segments import preview

    result = _with_named_segment(config, segment, lambda con, segments: preview(
        con, segments, segment, as_of=_as_of(as_of), sample=sample))
    console = Console(highlight=False)
    console.print(f"[bold]{segment}[/bold]: {result.size} member(s)"
                  + (f" — splits: {', '.join(f'{k} {v}' for k, v in result.by_split.items())}" if result.by_split else ""))
    if result.last_run_id is None:
        console.print("no earlier run recorded")
    else:
        console.print(f"since run {result.last_run_id}: +{result.entered_count} entered, -{result.exited_count} exited")
        if result.entered:
            console.print("  entering: " + ", ".join(result.entered))
        if result.exited:
            console.print("  leaving:  " + ", ".join(result.exited))
    if result.sample:
        table = Table(title="sample of members")
        for column in result.sample[0]:
            table.add_column(column)
        for row in result.sample:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)


def explain_cmd(
    segment: str = typer.Argument(..., help="Segment name."),
    account: str = typer.Argument(..., help="account_id of the account."),
    as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Why an account is (or is not) in a segment: each condition with the account's value and true/false."""
    from segsync.segments import explain, render_explain

    result = _with_named_segment(config, segment, lambda con, segments: explain(
        con, segments, segment, account, as_of=_as_of(as_of)))
    typer.echo(render_explain(result))
    if not result.found:
        raise typer.Exit(1)


def test_cmd(
    tests_dir: Path = typer.Option(None, "--dir", help="Fixture folder (default: <segments_dir>/tests)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print passing expectations too."),
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Run the segment fixture tests: small account rows and the segments each must or must not be in."""
    from segsync.segments import run_fixture_tests

    _config, default_dir, _warehouse = _project(config)
    try:
        segments = _load(None, default_dir, None)  # segment logic only: no destination checks, no warehouse
        outcomes = run_fixture_tests(tests_dir or default_dir / "tests", segments)
    except InputError as exc:
        _report_problems(exc, "segment files or fixtures")
        raise typer.Exit(1)
    failed = [o for o in outcomes if not o.passed]
    for outcome in outcomes:
        if verbose or not outcome.passed:
            typer.echo(str(outcome))
    typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed or not outcomes:
        raise typer.Exit(1)


def schema_cmd(
    config: str = typer.Option(None, "--config", help="Project file (default: segsync.yaml here or above)."),
) -> None:
    """Print the JSON Schema of segment files (for editor validation and completion)."""
    from segsync.segments import segment_json_schema
    from segsync.segments.columns import declared_account_columns

    _project_config, default_dir, _warehouse = _project(config)
    schema = segment_json_schema(declared_account_columns(default_dir))
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("validate")(validate)
    app.command("compile")(compile_cmd)
    app.command("preview")(preview_cmd)
    app.command("explain")(explain_cmd)
    app.command("test")(test_cmd)
    app.command("schema")(schema_cmd)
