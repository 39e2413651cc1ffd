"""Segment fixture tests (segment_defs/tests/*.yaml): a few account rows and the segments each must or must not be in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
from sqlglot import exp

from segsync.errors import InputError, Problem
from segsync.segments.checks import suggestion
from segsync.segments.columns import create_empty_inputs
from segsync.segments.compiler import utc_as_of
from segsync.segments.evaluate import evaluate_into
from segsync.segments.model import SegmentSet
from segsync.segments.yamlnodes import Node, read_yaml

FIXTURE_KEYS = ("description", "as_of", "accounts", "usage", "expect")


@dataclass(frozen=True)
class Expectation:
    account_id: str
    segment: str
    member: bool  # True: must be in; False: must not be in
    line: int


@dataclass(frozen=True)
class Outcome:
    file: str
    expectation: Expectation
    actual: bool

    @property
    def passed(self) -> bool:
        return self.actual == self.expectation.member

    def __str__(self) -> str:
        e = self.expectation
        verdict = "PASS" if self.passed else "FAIL"
        wanted = "in" if e.member else "not in"
        got = "" if self.passed else f" (it is {'in' if self.actual else 'not in'} it)"
        return f"{verdict} {self.file}:{e.line}: {e.account_id} {wanted} {e.segment}{got}"


@dataclass
class Fixture:
    file: str
    as_of: datetime
    accounts: list[tuple[int, dict[str, Node]]]
    usage: list[tuple[int, dict[str, Node]]]
    expectations: list[Expectation]


def run_fixture_tests(tests_dir: Path, segments: SegmentSet) -> list[Outcome]:
    """Load every fixture file (raising InputError with all problems) and evaluate each in a scratch database."""
    problems: list[Problem] = []
    fixtures = [f for f in (parse_fixture(p, segments, problems) for p in sorted(Path(tests_dir).glob("*.yaml"))) if f]
    if problems:
        raise InputError(problems)
    outcomes: list[Outcome] = []
    for fixture in fixtures:
        outcomes.extend(run_fixture(fixture, segments))
    return outcomes


def parse_fixture(path: Path, segments: SegmentSet, problems: list[Problem]) -> Fixture | None:
    file = str(path)
    root, found = read_yaml(path.read_text(), file)
    problems.extend(found)
    if root is None or not root.is_mapping:
        if root is not None:
            problems.append(Problem(file, "the top level must be a mapping", line=root.line,
                                    expected="as_of, accounts, expect"))
        return None
    before = len(problems)
    for key in root.value:
        if key not in FIXTURE_KEYS:
            problems.append(Problem(file, f"unknown key '{key}'", line=root.key_lines[key], path=key,
                                    expected=suggestion(key, FIXTURE_KEYS, "one of " + ", ".join(FIXTURE_KEYS))))
    as_of_node = root.get("as_of")
    as_of = as_of_node.value if as_of_node is not None else None
    if not isinstance(as_of, (date, datetime)):
        problems.append(Problem(file, "'as_of' must be a date", line=(as_of_node or root).line, path="as_of",
                                value=as_of, expected="a date such as 2026-12-03 (fixtures must not depend on today)"))
    accounts = _rows(root, "accounts", segments.columns, file, problems, required=True)
    usage = _rows(root, "usage", segments.usage_columns, file, problems, required=False)
    expectations = _expectations(root, segments, {r["account_id"].value for _l, r in accounts if "account_id" in r},
                                 file, problems)
    if len(problems) > before:
        return None
    return Fixture(file, utc_as_of(as_of), accounts, usage, expectations)


def _rows(root: Node, key: str, columns: dict[str, str], file: str, problems: list[Problem], *, required: bool):
    node = root.get(key)
    if node is None:
        if required:
            problems.append(Problem(file, f"missing key '{key}'", line=root.line, expected="a list of rows"))
        return []
    if not node.is_sequence or not node.value:
        problems.append(Problem(file, f"'{key}' must be a non-empty list of rows", line=node.line, path=key))
        return []
    rows = []
    for item in node.value:
        if not item.is_mapping or "account_id" not in item.value:
            problems.append(Problem(file, "each row must be a mapping with account_id", line=item.line, path=item.path))
            continue
        for column in item.value:
            if column not in columns:
                problems.append(Problem(file, f"unknown column '{column}'", line=item.key_lines[column],
                                        path=f"{item.path}.{column}",
                                        expected=suggestion(column, columns, f"a column of the {key} table")))
        rows.append((item.line, item.value))
    return rows


def _expectations(root: Node, segments: SegmentSet, account_ids: set, file: str, problems: list[Problem]):
    node = root.get("expect")
    if node is None or not node.is_sequence or not node.value:
        problems.append(Problem(file, "'expect' must be a non-empty list", line=(node or root).line, path="expect",
                                expected="- {account_id: A-1, in: [segment], not_in: [segment]}"))
        return []
    out = []
    for item in node.value:
        account = item.get("account_id") if item.is_mapping else None
        if account is None or account.value not in account_ids:
            problems.append(Problem(file, "expectation names no account of this fixture", line=item.line,
                                    path=item.path, value=account.value if account else None,
                                    expected="an account_id listed under accounts"))
            continue
        for key, member in (("in", True), ("not_in", False)):
            names = item.get(key)
            for name_node in (names.value if names is not None and names.is_sequence else []):
                if name_node.value not in segments:
                    problems.append(Problem(file, f"unknown segment '{name_node.value}'", line=name_node.line,
                                            path=name_node.path,
                                            expected=suggestion(str(name_node.value), segments.names, "a segment name")))
                else:
                    out.append(Expectation(str(account.value), name_node.value, member, name_node.line))
    return out


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], rows) -> None:
    for _line, row in rows:
        names = list(row)
        values = [_cell(row[n], columns[n]) for n in names]
        insert = exp.insert(exp.values([tuple(values)]), table, columns=[exp.to_identifier(n, quoted=True)
                                                                          for n in names])
        con.execute(insert.sql("duckdb"))


def _cell(node: Node, column_type: str) -> exp.Expression:
    """A fixture value as a literal cast to its column type (text as written, so 02142 stays 02142 in text)."""
    value = node.value
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(node.raw if node.raw is not None else value)
    return exp.cast(exp.Literal.string(text), exp.DataType.build(column_type, dialect="duckdb"))


def run_fixture(fixture: Fixture, segments: SegmentSet) -> list[Outcome]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        create_empty_inputs(con, segments.columns, segments.usage_columns)
        try:
            _insert(con, "accounts", segments.columns, fixture.accounts)
            _insert(con, "account_daily_usage", segments.usage_columns, fixture.usage)
        except duckdb.Error as exc:
            raise InputError([Problem(fixture.file, f"a fixture row does not fit its column types: "
                                                    f"{str(exc).splitlines()[0]}")]) from exc
        evaluate_into(con, segments, "fixture_membership", as_of=fixture.as_of, run_id="fixture")
        members = set(con.execute("SELECT segment, account_id FROM fixture_membership").fetchall())
    finally:
        con.close()
    return [Outcome(fixture.file, e, (e.segment, e.account_id) in members) for e in fixture.expectations]
