"""Product database source: any SQLAlchemy URL; tables, queries and column types come from segsync.yaml."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from segsync.errors import FatalError, InputError, Problem
from segsync.redact import redact, register_secret
from sources.common import BatchWriter, Cursor, RawTable, arrow_type, duck_type, record_issues, reset_issues

SOURCE = "product_db"
DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ProductTable:
    """One configured product table: where it is read from and its declared raw columns."""

    name: str
    raw: RawTable
    table: str | None
    query: str | None


def _problem(path: str, message: str, value=None, expected: str | None = None) -> Problem:
    return Problem("segsync.yaml", message, path=path, value=value, expected=expected)


def parse_tables(section: Mapping[str, Any]) -> list[ProductTable]:
    """Validate `sources.product_db.tables`; every problem is reported at once."""
    problems: list[Problem] = []
    tables: list[ProductTable] = []
    specs = section.get("tables") or {}
    if not isinstance(specs, Mapping) or not specs:
        raise InputError([_problem("sources.product_db.tables", "no product tables configured", specs,
                                   "a mapping of name -> {table or query, columns: {name: TYPE}}")])
    for name, spec in specs.items():
        path = f"sources.product_db.tables.{name}"
        if not isinstance(spec, Mapping):
            problems.append(_problem(path, "must be a mapping", spec))
            continue
        columns = spec.get("columns")
        if not isinstance(columns, Mapping) or not columns:
            problems.append(_problem(f"{path}.columns", "missing column declarations", columns,
                                     "column name -> DuckDB type (VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMPTZ)"))
            continue
        if bool(spec.get("table")) == bool(spec.get("query")):
            problems.append(_problem(path, "needs exactly one of `table` and `query`",
                                     {k: spec.get(k) for k in ("table", "query")}))
            continue
        key = spec.get("key") or []
        key = [key] if isinstance(key, str) else list(key)
        try:
            raw = RawTable(f"raw_product_{name}", {str(c): str(t).upper() for c, t in columns.items()},
                           key=tuple(key), updated=spec.get("updated"))
            for declared in raw.columns.values():
                arrow_type(declared)
        except ValueError as exc:
            problems.append(_problem(path, str(exc)))
            continue
        tables.append(ProductTable(name, raw, spec.get("table"), spec.get("query")))
    if problems:
        raise InputError(problems)
    return tables


def _select(spec: ProductTable) -> sa.TextClause | sa.Select:
    if spec.query:
        return sa.text(spec.query)
    return sa.select(*[sa.column(c) for c in spec.raw.columns]).select_from(sa.table(spec.table))


def _typed_batch(con: duckdb.DuckDBPyConnection, spec: ProductTable, columns: list[str], rows: list) -> tuple[pa.Table, list]:
    """Rows from the driver -> Arrow of the declared types (cast in DuckDB); values that do not cast are reported."""
    transposed = list(zip(*rows)) if rows else [[] for _ in columns]
    arrays = []
    for values in transposed:
        try:
            arrays.append(pa.array(list(values)))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    incoming = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(columns))])
    position = {c: i for i, c in enumerate(columns)}
    casts, bad_checks = [], []
    for name, declared in spec.raw.columns.items():
        src = f"c{position[name]}"
        casts.append(f'TRY_CAST({src} AS {duck_type(declared)}) AS "{name}"')
        bad_checks.append(f"CASE WHEN {src} IS NOT NULL AND TRY_CAST({src} AS {duck_type(declared)}) IS NULL "
                          f"THEN '{name}=' || CAST({src} AS VARCHAR) END")
    con.register("_segsync_product_in", incoming)
    try:
        typed = con.sql(f"SELECT {', '.join(casts)} FROM _segsync_product_in").to_arrow_table()
        key_expr = " || '/' || ".join(f"CAST(c{position[k]} AS VARCHAR)" for k in spec.raw.key) or "NULL"
        bad = con.execute(f"""SELECT key, bad FROM (SELECT {key_expr} AS key,
                concat_ws('; ', {', '.join(bad_checks)}) AS bad FROM _segsync_product_in) WHERE bad <> ''""").fetchall()
    finally:
        con.unregister("_segsync_product_in")
    issues = [("malformed_value", key, f"{spec.raw.name}: {detail} does not cast to the declared type; stored NULL",
               "nulled") for key, detail in bad]
    return typed, issues


def engine_for(url: str) -> sa.Engine:
    """An engine for the configured URL (the password, if any, is registered for redaction)."""
    parsed = sa.engine.make_url(url)
    register_secret(parsed.password)
    return sa.create_engine(parsed)


def ingest_product_db(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], run_id: str) -> tuple[dict[str, int], int, Cursor]:
    """Stream every configured table into raw_product_<name>; returns rows per table, queries run, final cursor."""
    tables = parse_tables(section)
    url = section.get("url")
    if not url:
        raise InputError([_problem("sources.product_db.url", "missing database URL", url,
                                   "an SQLAlchemy URL, e.g. sqlite:///.segsync/product.db")])
    batch_rows = int(section.get("batch_rows") or DEFAULT_BATCH_ROWS)
    engine = engine_for(str(url))
    written: dict[str, int] = {}
    queries = 0
    reset_issues(con, SOURCE)
    finished = Cursor(None)
    try:
        try:
            conn = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise FatalError(f"cannot open the product database {redact(repr(engine.url))}: "
                             f"{redact(str(getattr(exc, 'orig', None) or exc))}") from exc
        with conn:
            for spec in tables:
                writer = BatchWriter(con, spec.raw, SOURCE, run_id, upsert=False)
                try:
                    result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(_select(spec))
                except sa.exc.SQLAlchemyError as exc:
                    raise InputError([_problem(f"sources.product_db.tables.{spec.name}",
                                               f"the product database refused the read: {redact(str(exc.orig or exc))[:300]}",
                                               spec.table or spec.query)]) from exc
                queries += 1
                columns = list(result.keys())
                missing = [c for c in spec.raw.columns if c not in columns]
                if missing:
                    result.close()
                    raise InputError([_problem(f"sources.product_db.tables.{spec.name}.columns",
                                               f"declared columns not returned by the product database: {missing}",
                                               columns, "the table/query to return every declared column")])
                for part in result.partitions(batch_rows):
                    typed, issues = _typed_batch(con, spec, columns, part)
                    record_issues(con, run_id, SOURCE, issues)
                    writer.write(typed)
                finished = Cursor(datetime.now(timezone.utc).isoformat())
                writer.sweep(cursor=finished, cursor_object=spec.raw.name)
                written[spec.raw.name] = writer.written
    finally:
        engine.dispose()
    return written, queries, finished


def run(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], env: Mapping[str, str], *, run_id: str,
        full: bool = False):
    """Ingest entry point: every product table is re-read (streamed) and swept on each run."""
    from sources import IngestResult

    settings = dict(section)
    settings["url"] = env.get("PRODUCT_DB_URL") or settings.get("url") or "sqlite:///.segsync/product.db"
    tables, queries, cursor = ingest_product_db(con, settings, run_id)
    issues = con.execute("SELECT count(*) FROM ingest_issues WHERE source = ? AND run_id = ?",
                         [SOURCE, run_id]).fetchone()[0]
    return IngestResult(SOURCE, tables, queries, cursor.value, issues, run_id)
