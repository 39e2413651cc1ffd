"""Run bookkeeping: a run id, the `sync_runs` row for each pipeline run, and the last summaries."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import duckdb

SYNC_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    as_of TIMESTAMPTZ,
    summary JSON
)
"""


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def ensure_runs_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SYNC_RUNS_DDL)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, as_of: datetime | None) -> None:
    ensure_runs_table(con)
    con.execute("INSERT INTO sync_runs (run_id, started_at, status, as_of) VALUES (?, ?, 'running', ?)",
                [run_id, datetime.now(timezone.utc), as_of])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict) -> None:
    ensure_runs_table(con)
    con.execute("UPDATE sync_runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
                [datetime.now(timezone.utc), status, json.dumps(summary, default=str), run_id])


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple]:
    ensure_runs_table(con)
    return con.execute(
        "SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M:%S'), strftime(finished_at, '%Y-%m-%d %H:%M:%S'), "
        "status, strftime(as_of, '%Y-%m-%d %H:%M:%S') FROM sync_runs ORDER BY started_at DESC LIMIT ?",
        [limit]).fetchall()
