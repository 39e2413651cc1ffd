"""Evaluates every segment in one pass over `accounts` and writes membership (with splits) and history."""
from __future__ import annotations

from datetime import date, datetime

import duckdb
from sqlglot import exp

from segsync.segments.compiler import Compiler, utc_as_of
from segsync.segments.history import create_membership_table, ensure_tables, record_changes
from segsync.segments.model import SegmentSet
from segsync.segments.splits import split_columns

WIDE_TABLE = "_segsync_wide"


def _membership_rows(segment_set: SegmentSet, run_id: str, evaluated_at: datetime) -> exp.Expression:
    """UNION ALL of one SELECT per segment over the wide one-pass table: the long membership rows."""
    account_id = exp.column("account_id", quoted=True)
    selects = []
    for segment in segment_set:
        split_name, holdout = split_columns(segment.split, account_id)
        selects.append(
            exp.select(exp.alias_(exp.Literal.string(segment.name), "segment"), account_id.copy(),
                       exp.alias_(split_name, "split"), exp.alias_(holdout, "is_holdout"),
                       exp.alias_(exp.Literal.string(run_id), "run_id"),
                       exp.alias_(exp.cast(exp.Literal.string(evaluated_at.isoformat(sep=" ")),
                                           exp.DataType.Type.TIMESTAMPTZ), "evaluated_at"))
            .from_(WIDE_TABLE).where(exp.column(segment.name, quoted=True))
        )
    query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def evaluate_into(con: duckdb.DuckDBPyConnection, segments: SegmentSet, table: str, *,
                  as_of: datetime | date | None = None, run_id: str = "preview",
                  temporary: bool = False) -> dict[str, int]:
    """Evaluate into `table` (shaped like segment_membership, replaced) without touching history."""
    moment = utc_as_of(as_of)
    create_membership_table(con, table, temporary=temporary)
    if not len(segments):
        return {}
    query = Compiler(segments, moment).membership_query()
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{WIDE_TABLE}" AS {query.sql("duckdb")}')
    try:
        rows = _membership_rows(segments, run_id, moment)
        con.execute(f'INSERT INTO "{table}" {rows.sql("duckdb")}')
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{WIDE_TABLE}"')
    return member_counts(con, segments, table)


def member_counts(con: duckdb.DuckDBPyConnection, segments: SegmentSet, table: str) -> dict[str, int]:
    counts = dict(con.execute(f'SELECT segment, count(*) FROM "{table}" GROUP BY segment').fetchall())
    return {segment.name: int(counts.get(segment.name, 0)) for segment in segments}


def evaluate(con: duckdb.DuckDBPyConnection, segments: SegmentSet, *, as_of: datetime | date | None = None,
             run_id: str, record_history: bool = True) -> dict[str, int]:
    """Replace segment_membership with this run's members and update segment_history; members per segment."""
    moment = utc_as_of(as_of)
    ensure_tables(con)
    staging = "_segsync_membership_new"
    counts = evaluate_into(con, segments, staging, as_of=moment, run_id=run_id)
    con.execute("BEGIN TRANSACTION")
    try:
        if record_history:
            record_changes(con, staging, run_id=run_id, at=moment)
        con.execute("DELETE FROM segment_membership")
        con.execute(f'INSERT INTO segment_membership SELECT * FROM "{staging}"')
        con.execute(f'DROP TABLE "{staging}"')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts
