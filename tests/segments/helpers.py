"""Small builders for segment tests: a scratch DuckDB with the declared inputs, and one-segment evaluation."""
from __future__ import annotations

import textwrap

import duckdb
import pyarrow as pa

from segsync.segments import evaluate_into, load_segment_texts
from segsync.segments.columns import DECLARED_DAILY_USAGE, create_empty_inputs, declared_account_columns

COLUMNS = declared_account_columns()
COLUMNS.update({"seat_utilisation": "DOUBLE"})


def scratch_db(accounts: list[dict], usage: list[dict] | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory warehouse with `accounts` / `account_daily_usage` holding the given rows (other columns NULL)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    create_empty_inputs(con, COLUMNS, DECLARED_DAILY_USAGE)
    for table, rows in (("accounts", accounts), ("account_daily_usage", usage or [])):
        if not rows:
            continue
        names = list(rows[0])
        arrow = pa.table({n: [r.get(n) for r in rows] for n in names})
        con.register("_rows", arrow)
        con.execute(f'INSERT INTO {table} ({", ".join(names)}) SELECT {", ".join(names)} FROM _rows')
        con.unregister("_rows")
    return con


def segment_yaml(name: str, where: str, extra: str = "") -> str:
    return (f"name: {name}\ndescription: test segment {name}\nwhere:\n"
            + textwrap.indent(textwrap.dedent(where).strip(), "  ") + "\n" + textwrap.dedent(extra))


def load(*files: tuple[str, str] | str):
    """Load segment texts given as (name, where) pairs or full YAML strings."""
    texts = {}
    for index, item in enumerate(files):
        text = segment_yaml(*item) if isinstance(item, tuple) else textwrap.dedent(item)
        texts[f"seg{index}.yaml"] = text
    return load_segment_texts(texts, columns=COLUMNS)


def members(con, segments, as_of, table: str = "m") -> dict[str, list[str]]:
    evaluate_into(con, segments, table, as_of=as_of, run_id="t")
    rows = con.execute(f"SELECT segment, account_id FROM {table} ORDER BY segment, account_id").fetchall()
    out = {s.name: [] for s in segments}
    for segment, account in rows:
        out[segment].append(account)
    return out


def where_members(con, where: str, as_of) -> list[str]:
    """Members of a single segment defined by `where` (YAML)."""
    return members(con, load(("probe", where)), as_of)["probe"]
