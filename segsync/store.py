"""The DuckDB warehouse: where the file lives and how every connection is opened (UTC, one writer)."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

DEFAULT_WAREHOUSE = Path(".segsync") / "warehouse.duckdb"


def warehouse_path(path: str | os.PathLike | None = None) -> Path:
    """The warehouse file: explicit path, else $SEGSYNC_WAREHOUSE, else .segsync/warehouse.duckdb."""
    chosen = Path(path or os.environ.get("SEGSYNC_WAREHOUSE") or DEFAULT_WAREHOUSE)
    chosen.parent.mkdir(parents=True, exist_ok=True)
    return chosen


def connect(path: str | os.PathLike | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the session time zone pinned to UTC."""
    target = warehouse_path(path)
    con = duckdb.connect(str(target), read_only=read_only and target.exists())
    con.execute("SET TimeZone = 'UTC'")
    return con


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # fetchall, not fetchone: a half-read result on a shared connection breaks later statements (DuckDB 2.0)
    rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()
    return bool(rows and rows[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """Column name -> DuckDB type, in table order."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [name],
    ).fetchall()
    return {n: t for n, t in rows}
