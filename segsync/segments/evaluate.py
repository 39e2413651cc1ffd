"""Evaluates every segment in one pass over `accounts` and writes membership (with splits) and history."""
from __future__ import annotations

from datetime import date, datetime

import duckdb
from sqlglot import exp

from segsync.segments.compiler import Compiler, utc_as_of
from segsync.segments.history import (
    create_membership_table, ensure_tables, identifier, quoted, record_flag_changes,
)
from segsync.errors import InputError, Problem
from segsync.segments.model import SegmentSet, Trend, walk
from segsync.store import table_exists
from segsync.segments.splits import split_columns

WIDE_TABLE = "_segsync_flags_new"


def require_inputs(con: duckdb.DuckDBPyConnection, segments: SegmentSet, compiler: Compiler) -> None:
    """A clear error (naming the segment files) when `accounts` or a needed `account_daily_usage` is missing."""
    needed = ["accounts"] + (["account_daily_usage"] if compiler.trend_columns else [])
    missing = [table for table in needed if not table_exists(con, table)]
    if missing:
        users = [s for s in segments if any(isinstance(n, Trend) for n in walk(s.where))]
        files = users if missing == ["account_daily_usage"] else list(segments)
        raise InputError([Problem(str(s.source_file), f"the warehouse has no {' / '.join(missing)} table",
                                  line=s.line, expected="a built warehouse (run `segsync run` first)")
                          for s in files[:1]])


def compute_flags(con: duckdb.DuckDBPyConnection, segments: SegmentSet, as_of: datetime, table: str = WIDE_TABLE):
    """One pass over accounts into a temp table: account_id plus one BOOLEAN column per segment."""
    compiler = Compiler(segments, as_of)
    query = compiler.membership_query()
    require_inputs(con, segments, compiler)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quoted(table)} AS {query.sql('duckdb')}")


def membership_rows_sql(segments: SegmentSet, flags: str, run_id: str, evaluated_at: datetime) -> str:
    """SELECT of the long membership rows (segment, account_id, split, is_holdout, run_id, evaluated_at)."""
    account_id = exp.column("account_id", quoted=True)
    segment = exp.column("segment", quoted=True)
    split_case, holdout_case = exp.Case(), exp.Case()
    for definition in segments:
        if definition.split is not None:
            name_expr, holdout_expr = split_columns(definition.split, account_id)
            is_this = exp.EQ(this=segment.copy(), expression=exp.Literal.string(definition.name))
            split_case = split_case.when(is_this, name_expr)
            holdout_case = holdout_case.when(is_this.copy(), holdout_expr)
    split_expr = split_case if split_case.args.get("ifs") else exp.cast(exp.Null(), exp.DataType.Type.VARCHAR)
    holdout_expr = exp.func("coalesce", holdout_case, exp.false()) if holdout_case.args.get("ifs") else exp.false()
    stamp = exp.cast(exp.Literal.string(evaluated_at.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMPTZ)
    outputs = ", ".join(e.sql("duckdb") for e in (
        segment, account_id, exp.alias_(split_expr, "split"), exp.alias_(holdout_expr, "is_holdout"),
        exp.alias_(exp.Literal.string(run_id), "run_id"), exp.alias_(stamp, "evaluated_at")))
    columns = ", ".join(quoted(s.name) for s in segments)
    return (f"SELECT {outputs} FROM (UNPIVOT {quoted(flags)} ON {columns} INTO NAME segment VALUE member) "
            "WHERE member")


def evaluate_into(con: duckdb.DuckDBPyConnection, segments: SegmentSet, table: str, *,
                  as_of: datetime | date | None = None, run_id: str = "preview",
                  temporary: bool = False) -> dict[str, int]:
    """Evaluate into `table` (shaped like segment_membership, replaced) without touching history."""
    moment = utc_as_of(as_of)
    create_membership_table(con, table, temporary=temporary)
    if not len(segments):
        return {}
    compute_flags(con, segments, moment)
    try:
        con.execute(f"INSERT INTO {quoted(table)} {membership_rows_sql(segments, WIDE_TABLE, run_id, moment)}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {WIDE_TABLE}")
    return member_counts(con, segments, table)


def member_counts(con: duckdb.DuckDBPyConnection, segments: SegmentSet, table: str) -> dict[str, int]:
    counts = dict(con.execute(f"SELECT segment, count(*) FROM {quoted(identifier(table))} GROUP BY segment").fetchall())
    return {segment.name: int(counts.get(segment.name, 0)) for segment in segments}


def evaluate(con: duckdb.DuckDBPyConnection, segments: SegmentSet, *, as_of: datetime | date | None = None,
             run_id: str, record_history: bool = True) -> dict[str, int]:
    """Replace segment_membership with this run's members and update segment_history; members per segment."""
    moment = utc_as_of(as_of)
    ensure_tables(con)
    if len(segments):
        compute_flags(con, segments, moment)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {WIDE_TABLE} AS SELECT account_id FROM accounts LIMIT 0")
    con.execute("BEGIN TRANSACTION")
    try:
        if record_history:
            record_flag_changes(con, WIDE_TABLE, segments.names, run_id=run_id, at=moment)
        con.execute("DELETE FROM segment_membership")
        if len(segments):
            con.execute(f"INSERT INTO segment_membership {membership_rows_sql(segments, WIDE_TABLE, run_id, moment)}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {WIDE_TABLE}")
    return member_counts(con, segments, "segment_membership")
