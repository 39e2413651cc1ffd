"""Preview one segment: size, split sizes, a sample of members and the change since the last recorded run."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from segsync.segments.evaluate import evaluate_into
from segsync.segments.model import SegmentSet
from segsync.store import table_columns, table_exists

PREVIEW_TABLE = "_segsync_preview"
SAMPLE_COLUMNS = ("account_id", "account_name", "plan_tier", "mrr", "health_score", "renewal_date")


@dataclass
class PreviewResult:
    segment: str
    size: int
    by_split: dict[str, int] = field(default_factory=dict)
    sample: list[dict] = field(default_factory=list)
    last_run_id: str | None = None  # None: no earlier run recorded
    entered: list[str] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)
    entered_count: int = 0
    exited_count: int = 0


def preview(con: duckdb.DuckDBPyConnection, segments: SegmentSet, segment_name: str, *,
            as_of: datetime | date | None = None, sample: int = 10) -> PreviewResult:
    """Evaluate without writing membership or history, and compare with segment_membership (the last run)."""
    segments[segment_name]  # KeyError for an unknown name before any work
    evaluate_into(con, segments, PREVIEW_TABLE, as_of=as_of, run_id="preview", temporary=True)
    try:
        return _describe(con, segment_name, sample)
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{PREVIEW_TABLE}"')


def _describe(con, name: str, sample: int) -> PreviewResult:
    size = con.execute(f'SELECT count(*) FROM "{PREVIEW_TABLE}" WHERE segment = ?', [name]).fetchone()[0]
    result = PreviewResult(name, int(size))
    result.by_split = {str(s): int(n) for s, n in con.execute(
        f'SELECT split, count(*) FROM "{PREVIEW_TABLE}" WHERE segment = ? AND split IS NOT NULL '
        'GROUP BY split ORDER BY split', [name]).fetchall()}
    available = table_columns(con, "accounts")
    shown = [c for c in SAMPLE_COLUMNS if c in available]
    select = ", ".join(f'a."{c}"' for c in shown)
    cursor = con.execute(f'SELECT {select} FROM "{PREVIEW_TABLE}" AS p JOIN accounts AS a USING (account_id) '
                         f'WHERE p.segment = ? ORDER BY a.account_id LIMIT ?', [name, sample])
    result.sample = [dict(zip(shown, row)) for row in cursor.fetchall()]
    if not table_exists(con, "segment_membership"):
        return result
    last = con.execute("SELECT max(run_id) FROM segment_membership").fetchone()[0]
    if last is None:
        return result
    result.last_run_id = last
    for change, left, right in (("entered", PREVIEW_TABLE, "segment_membership"),
                                ("exited", "segment_membership", PREVIEW_TABLE)):
        difference = (f'SELECT account_id FROM "{left}" WHERE segment = $name '
                      f'EXCEPT SELECT account_id FROM "{right}" WHERE segment = $name')
        count = con.execute(f"SELECT count(*) FROM ({difference})", {"name": name}).fetchone()[0]
        accounts = [r[0] for r in con.execute(f"{difference} ORDER BY account_id LIMIT $limit",
                                              {"name": name, "limit": sample}).fetchall()]
        setattr(result, change, accounts)
        setattr(result, f"{change}_count", int(count))
    return result
