"""The membership and history tables: create them, and record who entered and exited between two runs."""
from __future__ import annotations

from datetime import datetime

import duckdb

MEMBERSHIP_COLUMNS = ("segment VARCHAR NOT NULL, account_id VARCHAR NOT NULL, split VARCHAR, "
                      "is_holdout BOOLEAN NOT NULL, run_id VARCHAR NOT NULL, evaluated_at TIMESTAMPTZ NOT NULL")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS segment_membership ({MEMBERSHIP_COLUMNS})")
    con.execute("""CREATE TABLE IF NOT EXISTS segment_history (
        segment VARCHAR NOT NULL, account_id VARCHAR NOT NULL, entered_at TIMESTAMPTZ NOT NULL,
        exited_at TIMESTAMPTZ, entered_run_id VARCHAR NOT NULL, exited_run_id VARCHAR)""")


def create_membership_table(con: duckdb.DuckDBPyConnection, table: str, *, temporary: bool = False) -> None:
    """An empty table shaped like segment_membership (replaced if present)."""
    kind = "TEMP TABLE" if temporary else "TABLE"
    con.execute(f'CREATE OR REPLACE {kind} "{_identifier(table)}" ({MEMBERSHIP_COLUMNS})')


def record_changes(con: duckdb.DuckDBPyConnection, new_table: str, *, run_id: str, at: datetime) -> dict[str, int]:
    """Close history rows of members that left, open rows for members that entered; returns the counts.

    The open rows of segment_history (exited_at IS NULL) are the previous membership; `new_table` holds the new one.
    """
    new = _identifier(new_table)
    exited = con.execute(f"""
        UPDATE segment_history AS h SET exited_at = ?, exited_run_id = ?
        WHERE h.exited_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM "{new}" AS n WHERE n.segment = h.segment AND n.account_id = h.account_id)
    """, [at, run_id]).fetchone()[0]
    entered = con.execute(f"""
        INSERT INTO segment_history (segment, account_id, entered_at, exited_at, entered_run_id, exited_run_id)
        SELECT n.segment, n.account_id, ?, NULL, ?, NULL FROM "{new}" AS n
        WHERE NOT EXISTS (SELECT 1 FROM segment_history AS h
                          WHERE h.exited_at IS NULL AND h.segment = n.segment AND h.account_id = n.account_id)
    """, [at, run_id]).fetchone()[0]
    return {"entered": int(entered), "exited": int(exited)}


def membership_changes(con: duckdb.DuckDBPyConnection, old_table: str, new_table: str) -> dict[str, dict[str, int]]:
    """Per segment: how many entered and exited between two membership tables."""
    old, new = _identifier(old_table), _identifier(new_table)
    rows = con.execute(f"""
        WITH entered AS (SELECT segment, account_id FROM "{new}" ANTI JOIN "{old}" USING (segment, account_id)),
             exited AS (SELECT segment, account_id FROM "{old}" ANTI JOIN "{new}" USING (segment, account_id))
        SELECT segment, 'entered' AS change, count(*) FROM entered GROUP BY segment
        UNION ALL SELECT segment, 'exited', count(*) FROM exited GROUP BY segment
    """).fetchall()
    out: dict[str, dict[str, int]] = {}
    for segment, change, count in rows:
        out.setdefault(segment, {"entered": 0, "exited": 0})[change] = int(count)
    return out


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"table name {name!r} must contain only letters, digits and _")
    return name
