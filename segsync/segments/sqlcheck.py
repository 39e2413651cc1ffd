"""The `sql:` escape hatch: one boolean expression, parsed by sqlglot and checked; never pasted as text."""
from __future__ import annotations

import difflib

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from segsync.segments.columns import DECLARED_DAILY_USAGE, create_empty_inputs

# Functions sqlglot does not model (parsed as Anonymous) that are safe in a row predicate.
ALLOWED_ANONYMOUS = {
    "contains", "starts_with", "ends_with", "prefix", "suffix", "regexp_matches", "regexp_full_match",
    "strlen", "length", "lower", "upper", "trim", "ltrim", "rtrim", "replace", "concat_ws", "left", "right",
    "date_diff", "datediff", "date_part", "date_trunc", "greatest", "least", "coalesce", "nullif", "abs", "round",
    "floor", "ceil", "ifnull", "list_contains", "array_contains", "len", "jaccard", "levenshtein",
    "ilike_escape", "like_escape", "today", "current_date",
}
FORBIDDEN_NODES = (exp.Query, exp.Subquery, exp.Command, exp.Create, exp.Insert, exp.Update, exp.Delete,
                   exp.Drop, exp.Alter, exp.Set, exp.Star, exp.Placeholder, exp.Parameter, exp.Table, exp.Lambda)


def closest(name: str, choices) -> str | None:
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def parse_condition_sql(text: str, columns: dict[str, str]) -> tuple[exp.Expression | None, list[tuple[str, str]]]:
    """Parse and check one boolean expression over `accounts` columns; returns (tree, [(message, expected)])."""
    try:
        parsed = [e for e in sqlglot.parse(text, read="duckdb") if e is not None]
    except (ParseError, TokenError) as exc:
        detail = exc.errors[0]["description"] if getattr(exc, "errors", None) else str(exc).splitlines()[0]
        return None, [(f"the SQL does not parse: {detail}", "one boolean SQL expression such as `seats > 10`")]
    if len(parsed) != 1:
        return None, [(f"the SQL holds {len(parsed)} statements", "exactly one boolean expression, no `;`")]
    tree = parsed[0]
    problems: list[tuple[str, str]] = []
    if isinstance(tree, (exp.Query, exp.Command, exp.Create, exp.Insert, exp.Update, exp.Delete, exp.Drop,
                         exp.Alter, exp.Set)):
        return None, [(f"the SQL is a {tree.key.upper()} statement, not an expression",
                       "one boolean expression over columns of accounts, such as `seats > 10`")]
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            what = "a subquery" if isinstance(node, (exp.Query, exp.Subquery)) else f"`{node.key.upper()}`"
            return None, [(f"the SQL contains {what}, which is not allowed",
                           "a boolean expression over columns of accounts (no statements or subqueries)")]
        if isinstance(node, exp.Anonymous) and str(node.name).lower() not in ALLOWED_ANONYMOUS:
            problems.append((f"function '{node.name}' is not allowed in sql:",
                             "built-in scalar functions (string, math, date) only"))
    for column in tree.find_all(exp.Column):
        if column.table and column.table != "accounts":
            problems.append((f"column '{column.sql()}' refers to another table",
                             "columns of accounts only (unqualified or accounts.<column>)"))
        elif column.name not in columns:
            hint = closest(column.name, columns)
            problems.append((f"unknown column '{column.name}' in sql:",
                             f"a column of accounts{f'; did you mean {hint!r}?' if hint else ''}"))
    if problems:
        return None, problems
    type_problem = _check_boolean(tree, columns)
    return (None, [type_problem]) if type_problem else (tree, [])


def qualify(tree: exp.Expression, table: str) -> exp.Expression:
    """A copy of the tree with every column bound to `table`."""
    def bind(node):
        if isinstance(node, exp.Column):
            return exp.column(node.name, table=table, quoted=True)
        return node

    return tree.copy().transform(bind)


def _check_boolean(tree: exp.Expression, columns: dict[str, str]) -> tuple[str, str] | None:
    con = duckdb.connect()
    try:
        create_empty_inputs(con, columns, DECLARED_DAILY_USAGE)
        query = exp.select(exp.alias_(qualify(tree, "accounts"), "v")).from_("accounts")
        rows = con.execute(f"DESCRIBE {query.sql('duckdb')}").fetchall()
    except duckdb.Error as exc:
        return (f"DuckDB rejects the SQL: {str(exc).splitlines()[0]}", "a valid DuckDB boolean expression")
    finally:
        con.close()
    if rows[0][1] != "BOOLEAN":
        return (f"the SQL gives type {rows[0][1]}, not BOOLEAN", "a boolean expression such as `seats > 10`")
    return None
