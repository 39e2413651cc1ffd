"""Typed raw tables, the batch writer (batch + cursor in one transaction) and source cursors."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# DuckDB column type -> Arrow type used to build batches (types are declared, never inferred).
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "VARCHAR[]": pa.list_(pa.string()),
    "DECIMAL(38,12)": pa.decimal128(38, 12),
}


def arrow_type(duck_type: str) -> pa.DataType:
    """The Arrow type for a declared DuckDB column type (STRUCT/LIST types are spelled as DuckDB knows them)."""
    if duck_type in _ARROW_TYPES:
        return _ARROW_TYPES[duck_type]
    if duck_type == "TIERS":
        return pa.list_(pa.struct([("up_to", pa.int64()), ("unit_amount", pa.decimal128(38, 12)),
                                   ("flat_amount", pa.decimal128(38, 12))]))
    raise ValueError(f"column type {duck_type!r} is not one the raw-table writer declares; "
                     f"expected one of {sorted(_ARROW_TYPES) + ['TIERS']}")


def duck_type(declared: str) -> str:
    """The DuckDB spelling of a declared column type."""
    if declared == "TIERS":
        return "STRUCT(up_to BIGINT, unit_amount DECIMAL(38,12), flat_amount DECIMAL(38,12))[]"
    return declared


@dataclass(frozen=True)
class RawTable:
    """A raw table: name, declared columns (name -> DuckDB type), key, and the 'latest update' column."""

    name: str
    columns: Mapping[str, str]
    key: tuple[str, ...] = ()
    updated: str | None = None  # column whose highest value wins among duplicate keys in one batch

    def __post_init__(self) -> None:
        for column in (self.name, *self.columns):
            if not _IDENT.match(column):
                raise ValueError(f"raw table {self.name!r}: column name {column!r} is not a plain lowercase identifier")
        for column in (*self.key, *([self.updated] if self.updated else [])):
            if column not in self.columns:
                raise ValueError(f"raw table {self.name!r}: key/updated column {column!r} is not declared")

    @property
    def all_columns(self) -> dict[str, str]:
        """Declared columns plus the load bookkeeping columns."""
        return {**self.columns, "_run_id": "VARCHAR", "_loaded_at": "TIMESTAMPTZ"}

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(n, arrow_type(t)) for n, t in self.all_columns.items()])


CURSOR_TABLE = "source_cursors"
ISSUE_TABLE = "ingest_issues"


def ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """Create source_cursors and ingest_issues when missing."""
    con.execute(f"""CREATE TABLE IF NOT EXISTS {CURSOR_TABLE} (
        source VARCHAR NOT NULL, object VARCHAR NOT NULL, cursor_value VARCHAR, cursor_id VARCHAR,
        updated_at TIMESTAMPTZ, PRIMARY KEY (source, object))""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {ISSUE_TABLE} (
        run_id VARCHAR, rule VARCHAR, source VARCHAR, record_id VARCHAR, detail VARCHAR, action VARCHAR,
        recorded_at TIMESTAMPTZ)""")


def ensure_table(con: duckdb.DuckDBPyConnection, table: RawTable) -> None:
    """Create the raw table with its declared types; add declared columns a previous version lacked."""
    columns = ", ".join(f'"{n}" {duck_type(t)}' for n, t in table.all_columns.items())
    con.execute(f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns})')
    existing = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table.name]).fetchall()}
    for name, declared in table.all_columns.items():
        if name not in existing:
            con.execute(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {duck_type(declared)}')


@dataclass(frozen=True)
class Cursor:
    """A committed position: the compound (value, id) of the last record written."""

    value: str | None
    id: str | None = None


def read_cursor(con: duckdb.DuckDBPyConnection, source: str, obj: str) -> Cursor | None:
    ensure_bookkeeping(con)
    row = con.execute(f"SELECT cursor_value, cursor_id FROM {CURSOR_TABLE} WHERE source = ? AND object = ?",
                      [source, obj]).fetchone()
    return Cursor(row[0], row[1]) if row else None


def _save_cursor(con: duckdb.DuckDBPyConnection, source: str, obj: str, cursor: Cursor) -> None:
    con.execute(f"DELETE FROM {CURSOR_TABLE} WHERE source = ? AND object = ?", [source, obj])
    con.execute(f"INSERT INTO {CURSOR_TABLE} VALUES (?, ?, ?, ?, now())", [source, obj, cursor.value, cursor.id])


def clear_cursor(con: duckdb.DuckDBPyConnection, source: str, obj: str) -> None:
    ensure_bookkeeping(con)
    con.execute(f"DELETE FROM {CURSOR_TABLE} WHERE source = ? AND object = ?", [source, obj])


def to_arrow(table: RawTable, rows: Sequence[Mapping] | pa.Table, run_id: str) -> pa.Table:
    """Rows (dicts of Python values, or an Arrow table) as an Arrow table of exactly the declared schema."""
    schema = table.arrow_schema()
    loaded_at = datetime.now(timezone.utc)
    if isinstance(rows, pa.Table):
        n = rows.num_rows
        arrays = []
        for fld in schema:
            if fld.name == "_run_id":
                arrays.append(pa.array([run_id] * n, pa.string()))
            elif fld.name == "_loaded_at":
                arrays.append(pa.array([loaded_at] * n, fld.type))
            elif fld.name in rows.column_names:
                arrays.append(rows.column(fld.name).cast(fld.type))
            else:
                arrays.append(pa.nulls(n, fld.type))
        return pa.Table.from_arrays(arrays, schema=schema)
    unknown = {k for row in rows[:1] for k in row} - set(table.columns)
    if unknown:
        raise ValueError(f"raw table {table.name!r}: undeclared columns {sorted(unknown)}; "
                         f"declare them in the table's schema")
    prepared = [{**row, "_run_id": run_id, "_loaded_at": loaded_at} for row in rows]
    return pa.Table.from_pylist(prepared, schema=schema)


@dataclass
class BatchWriter:
    """Writes batches into one raw table: dedupe by key (latest update wins), upsert, cursor in the same transaction."""

    con: duckdb.DuckDBPyConnection
    table: RawTable
    source: str
    run_id: str
    upsert: bool = True  # False: append (tables whose duplicates the build must see, e.g. usage rows)
    replace_on: tuple[str, ...] = ()  # write(replace_keys=...) first removes every row with these column values
    written: int = 0
    duplicates: int = 0
    batches: int = 0
    flush_rows: int = 5000  # add() collects rows and writes them in batches of at least this many
    _pending: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        ensure_bookkeeping(self.con)
        ensure_table(self.con, self.table)

    def write(self, rows: Sequence[Mapping] | pa.Table, *, cursor: Cursor | None = None,
              cursor_object: str | None = None, replace_keys: Sequence[Mapping] | None = None) -> int:
        """Write one batch (and the cursor reached by it) atomically; returns rows written.

        With `replace_on` set, rows matching `replace_keys` are removed first (e.g. a contact's old associations).
        """
        batch = to_arrow(self.table, rows, self.run_id)
        names = ", ".join(f'"{n}"' for n in self.table.all_columns)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.register("_segsync_batch", batch)
            if self.replace_on and replace_keys:
                keys = pa.Table.from_pylist([{c: k.get(c) for c in self.replace_on} for k in replace_keys],
                                            schema=pa.schema([(c, arrow_type(self.table.columns[c]))
                                                              for c in self.replace_on]))
                self.con.register("_segsync_replace", keys)
                match = " AND ".join(f't."{c}" = r."{c}"' for c in self.replace_on)
                self.con.execute(f'DELETE FROM "{self.table.name}" t WHERE EXISTS '
                                 f'(SELECT 1 FROM _segsync_replace r WHERE {match})')
                self.con.unregister("_segsync_replace")
            if self.upsert and self.table.key:
                key_cols = ", ".join(f'"{k}"' for k in self.table.key)
                order = f'"{self.table.updated}" DESC NULLS LAST, ' if self.table.updated else ""
                self.con.execute(f"""CREATE OR REPLACE TEMP TABLE _segsync_dedup AS
                    SELECT * FROM _segsync_batch
                    QUALIFY row_number() OVER (PARTITION BY {key_cols} ORDER BY {order}{names}) = 1""")
                kept = self.con.execute("SELECT count(*) FROM _segsync_dedup").fetchone()[0]
                self.duplicates += batch.num_rows - kept
                match = " AND ".join(f't."{k}" = d."{k}"' for k in self.table.key)
                self.con.execute(f'DELETE FROM "{self.table.name}" t WHERE EXISTS '
                                 f'(SELECT 1 FROM _segsync_dedup d WHERE {match})')
                self.con.execute(f'INSERT INTO "{self.table.name}" ({names}) SELECT {names} FROM _segsync_dedup')
                self.con.execute("DROP TABLE _segsync_dedup")
            else:
                kept = batch.num_rows
                self.con.execute(f'INSERT INTO "{self.table.name}" ({names}) SELECT {names} FROM _segsync_batch')
            if cursor is not None:
                _save_cursor(self.con, self.source, cursor_object or self.table.name, cursor)
            self.con.unregister("_segsync_batch")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            self.con.unregister("_segsync_batch")
            raise
        self.written += kept
        self.batches += 1
        return kept

    def add(self, rows: Sequence[Mapping]) -> None:
        """Collect rows (e.g. several small API pages) and write once `flush_rows` have gathered."""
        self._pending.extend(rows)
        if len(self._pending) >= self.flush_rows:
            self.flush()

    def flush(self, *, cursor: Cursor | None = None, cursor_object: str | None = None) -> int:
        """Write what add() collected (and the cursor, if given) as one batch."""
        pending, self._pending = self._pending, []
        if not pending and cursor is None:
            return 0
        return self.write(pending, cursor=cursor, cursor_object=cursor_object)

    def sweep(self, *, cursor: Cursor | None = None, cursor_object: str | None = None) -> int:
        """After a complete full load: remove rows this run did not write (they are gone upstream)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            removed = self.con.execute(
                f'DELETE FROM "{self.table.name}" WHERE _run_id IS DISTINCT FROM ?', [self.run_id]).fetchone()[0]
            if cursor is not None:
                _save_cursor(self.con, self.source, cursor_object or self.table.name, cursor)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return removed


def record_issues(con: duckdb.DuckDBPyConnection, run_id: str, source: str,
                  issues: Iterable[tuple[str, str | None, str, str]]) -> int:
    """Store ingest-time issues (rule, record_id, detail, action); the build copies them into data_issues."""
    ensure_bookkeeping(con)
    rows = [(run_id, rule, source, record_id, detail, action) for rule, record_id, detail, action in issues]
    if rows:
        con.executemany(f"INSERT INTO {ISSUE_TABLE} VALUES (?, ?, ?, ?, ?, ?, now())", rows)
    return len(rows)


def reset_issues(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Forget the previous ingest's issues of one source (each ingest reports its own)."""
    ensure_bookkeeping(con)
    con.execute(f"DELETE FROM {ISSUE_TABLE} WHERE source = ?", [source])


def parse_timestamp(value) -> datetime | None:
    """A vendor timestamp (ISO text with Z/+0000, epoch seconds or milliseconds, datetime) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, (int, float, Decimal)):
        seconds = float(value) / 1000 if value > 10_000_000_000 else float(value)
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = str(value).strip()
    if text.isdigit():
        return parse_timestamp(int(text))
    text = text.replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def parse_date(value) -> date | None:
    """A vendor date (YYYY-MM-DD, ISO timestamp, epoch) as the UTC calendar date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return parse_timestamp(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    return parse_timestamp(text).date()


def format_timestamp(value: datetime) -> str:
    """UTC ISO text used for cursor values (sortable, microsecond precision)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def coerce(value, declared: str):
    """A vendor value (often text) as the Python value of a declared column type; '' and None are NULL."""
    if value is None or value == "":
        return None
    if declared in ("VARCHAR", "JSON"):
        return value if isinstance(value, str) else str(value)
    if declared == "BOOLEAN":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if declared in ("BIGINT", "INTEGER"):
        return int(Decimal(str(value)))
    if declared == "DOUBLE":
        return float(value)
    if declared == "DECIMAL(38,12)":
        return Decimal(str(value))
    if declared == "TIMESTAMPTZ":
        return parse_timestamp(value)
    if declared == "DATE":
        return parse_date(value)
    if declared == "VARCHAR[]":
        items = value if isinstance(value, list) else str(value).split(";")
        return [str(v).strip() for v in items if str(v).strip()]
    raise ValueError(f"no coercion for declared type {declared!r}")
