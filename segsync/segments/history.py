"""Membership and history tables: create them, and record who entered and exited between two runs.

The change between runs is computed on the per-account flag tables (one BOOLEAN column per segment, one row
per account) — a single join on account_id — instead of anti-joining millions of (segment, account) rows.
`segment_membership_flags` holds the flags of the last run that recorded history, so it always agrees with
the open rows (exited_at IS NULL) of `segment_history`.
"""
from __future__ import annotations

from datetime import datetime

import duckdb

from segsync.store import table_columns, table_exists

FLAGS_TABLE = "segment_membership_flags"
CHANGES_TABLE = "_segsync_changes"
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
    con.execute(f'CREATE OR REPLACE {kind} "{identifier(table)}" ({MEMBERSHIP_COLUMNS})')


def quoted(name: str) -> str:
    return '"' + identifier(name) + '"'


def flag_changes(con: duckdb.DuckDBPyConnection, old_flags: str | None, new_flags: str,
                 segments: list[str]) -> dict[str, dict[str, int]]:
    """Fill _segsync_changes(segment, account_id, entered) from two flag tables; counts per segment.

    Segments missing from the old table count as empty before; old-only segments have every member exit.
    """
    old_columns = set(table_columns(con, old_flags)) - {"account_id"} if old_flags else set()
    deltas = []
    for name in segments:
        before = f"coalesce(o.{quoted(name)}, false)" if name in old_columns else "false"
        deltas.append(f"coalesce(n.{quoted(name)}, false)::TINYINT - {before}::TINYINT AS {quoted(name)}")
    gone = sorted(old_columns - set(segments))
    deltas += [f"-coalesce(o.{quoted(name)}, false)::TINYINT AS {quoted(name)}" for name in gone]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGES_TABLE} (segment VARCHAR, account_id VARCHAR, entered BOOLEAN)")
    if deltas:
        source = (f"{quoted(new_flags)} AS n FULL JOIN {quoted(old_flags)} AS o USING (account_id)" if old_flags
                  else f"{quoted(new_flags)} AS n")
        columns = ", ".join(quoted(n) for n in segments + gone)
        any_change = " OR ".join(f"{quoted(n)} <> 0" for n in segments + gone)
        con.execute(f"""
            INSERT INTO {CHANGES_TABLE}
            SELECT segment, account_id, delta > 0 FROM (
                UNPIVOT (SELECT * FROM (SELECT account_id, {", ".join(deltas)} FROM {source}) WHERE {any_change})
                ON {columns} INTO NAME segment VALUE delta)
            WHERE delta <> 0""")
    rows = con.execute(f"SELECT segment, entered, count(*) FROM {CHANGES_TABLE} GROUP BY ALL").fetchall()
    out: dict[str, dict[str, int]] = {}
    for segment, entered, count in rows:
        out.setdefault(segment, {"entered": 0, "exited": 0})["entered" if entered else "exited"] = int(count)
    return out


def record_flag_changes(con: duckdb.DuckDBPyConnection, new_flags: str, segments: list[str], *, run_id: str,
                        at: datetime) -> dict[str, int]:
    """Apply this run's entries and exits to segment_history and keep its flags for the next run."""
    previous = FLAGS_TABLE if table_exists(con, FLAGS_TABLE) else None
    if previous is None and con.execute("SELECT count(*) FROM segment_history WHERE exited_at IS NULL").fetchone()[0]:
        _flags_from_open_history(con)  # history written before flags existed: rebuild them once
        previous = FLAGS_TABLE
    flag_changes(con, previous, new_flags, segments)
    exited = con.execute(f"""
        UPDATE segment_history AS h SET exited_at = ?, exited_run_id = ?
        FROM (SELECT segment, account_id FROM {CHANGES_TABLE} WHERE NOT entered) AS c
        WHERE h.exited_at IS NULL AND h.segment = c.segment AND h.account_id = c.account_id
    """, [at, run_id]).fetchone()[0]
    entered = con.execute(f"""
        INSERT INTO segment_history (segment, account_id, entered_at, exited_at, entered_run_id, exited_run_id)
        SELECT segment, account_id, ?, NULL, ?, NULL FROM {CHANGES_TABLE} WHERE entered
    """, [at, run_id]).fetchone()[0]
    con.execute(f"CREATE OR REPLACE TABLE {FLAGS_TABLE} AS SELECT * FROM {quoted(new_flags)}")
    con.execute(f"DROP TABLE IF EXISTS {CHANGES_TABLE}")
    return {"entered": int(entered), "exited": int(exited)}


def _flags_from_open_history(con: duckdb.DuckDBPyConnection) -> None:
    segments = [r[0] for r in con.execute(
        "SELECT DISTINCT segment FROM segment_history WHERE exited_at IS NULL ORDER BY 1").fetchall()]
    for name in segments:
        identifier(name)
    con.execute(f"""CREATE OR REPLACE TABLE {FLAGS_TABLE} AS
        PIVOT (SELECT segment, account_id, true AS member FROM segment_history WHERE exited_at IS NULL)
        ON segment IN ({", ".join("'" + s + "'" for s in segments)}) USING bool_or(member) GROUP BY account_id""")


def membership_changes(con: duckdb.DuckDBPyConnection, old_table: str, new_table: str) -> dict[str, dict[str, int]]:
    """Per segment: how many entered and exited between two membership tables (segment_membership shape)."""
    old, new = quoted(old_table), quoted(new_table)
    rows = con.execute(f"""
        WITH entered AS (SELECT segment, account_id FROM {new} ANTI JOIN {old} USING (segment, account_id)),
             exited AS (SELECT segment, account_id FROM {old} ANTI JOIN {new} USING (segment, account_id))
        SELECT segment, 'entered' AS change, count(*) FROM entered GROUP BY segment
        UNION ALL SELECT segment, 'exited', count(*) FROM exited GROUP BY segment
    """).fetchall()
    out: dict[str, dict[str, int]] = {}
    for segment, change, count in rows:
        out.setdefault(segment, {"entered": 0, "exited": 0})[change] = int(count)
    return out


def identifier(name: str) -> str:
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"name {name!r} must contain only letters, digits and _")
    return name
