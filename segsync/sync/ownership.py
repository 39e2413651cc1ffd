"""Ownership at plan time: desired rows may only write owned targets/fields, never empty strings or NaN."""
from __future__ import annotations

import duckdb
import pyarrow as pa

from segsync.sync.targets import Ownership


def ownership_problems(con: duckdb.DuckDBPyConnection, destination: str, ownership: Ownership,
                       desired_table: str = "sync_desired") -> list[str]:
    """Every way the desired rows step outside what segsync owns, one message each (empty: all fine)."""
    owned = pa.table({"kind": ["target"] * len(ownership.targets) + ["field"] * len(ownership.fields),
                      "name": sorted(ownership.targets) + sorted(ownership.fields)})
    con.register("_sync_owned", owned)
    try:
        problems = []
        rows = con.execute(f"""
            SELECT target, count(*) FROM {desired_table}
            WHERE target NOT IN (SELECT name FROM _sync_owned WHERE kind = 'target')
            GROUP BY target ORDER BY target
        """).fetchall()
        problems += [f"{destination}: {n} record(s) would be written to {target!r}, which segsync does not own "
                     f"(owned: {', '.join(sorted(ownership.targets)) or 'nothing'})" for target, n in rows]
        rows = con.execute(f"""
            WITH keys AS (SELECT unnest(json_keys(payload)) AS field FROM {desired_table})
            SELECT field, count(*) FROM keys
            WHERE field NOT IN (SELECT name FROM _sync_owned WHERE kind = 'field')
            GROUP BY field ORDER BY field
        """).fetchall()
        problems += [f"{destination}: {n} record(s) would write field {field!r}, which segsync does not own "
                     f"(owned: {', '.join(sorted(ownership.fields)) or 'nothing'})" for field, n in rows]
        rows = con.execute(f"""
            WITH kv AS (SELECT j.key AS field, j.value AS value FROM {desired_table}, json_each(payload) AS j)
            SELECT field, count(*) FROM kv
            WHERE value::VARCHAR IN ('""', 'NaN', '"NaN"', 'Infinity', '-Infinity')
            GROUP BY field ORDER BY field
        """).fetchall()
        problems += [f"{destination}: {n} record(s) would send an empty string or NaN in field {field!r}; "
                     f"expected a typed value or null" for field, n in rows]
        rows = con.execute(f"""
            SELECT target, record_key, count(*) FROM {desired_table}
            WHERE record_key IS NULL OR record_key = '' GROUP BY ALL
        """).fetchall()
        problems += [f"{destination}: {n} record(s) for {target!r} have no record key" for target, _k, n in rows]
        return problems
    finally:
        con.unregister("_sync_owned")
