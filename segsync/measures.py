"""Derived measures declared in YAML: parsed and checked as sqlglot trees, then added to `accounts` as columns."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from segsync.errors import InputError, Problem

DEFAULT_FILE = "segment_defs/measures.yaml"
TYPES = {"DOUBLE", "BIGINT", "INTEGER", "BOOLEAN", "VARCHAR", "DATE", "TIMESTAMPTZ"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FORBIDDEN = (exp.Select, exp.Subquery, exp.AggFunc, exp.Window, exp.Star, exp.Placeholder, exp.Parameter)


@dataclass(frozen=True)
class Measure:
    """One derived column: name, type, description and its checked SQL expression tree."""

    name: str
    type: str
    description: str
    expression: exp.Expression

    def select_sql(self) -> str:
        return exp.alias_(exp.Cast(this=self.expression.copy(), to=exp.DataType.build(self.type, dialect="duckdb")),
                          self.name, quoted=True).sql(dialect="duckdb")


@dataclass(frozen=True)
class MeasureSet:
    """The measures file: parameters (named constants) and measures in dependency order."""

    path: str
    params: dict[str, Any]
    measures: list[Measure]
    key_features: list[str]


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _line_of(text: str, name: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*-?\s*name:\s*['\"]?{re.escape(name)}['\"]?\s*$", line):
            return number
    return None


def load_measures(path: str | Path, base_columns: set[str]) -> MeasureSet:
    """Parse the measures file; every problem (file, line, field, what was expected) is reported at once."""
    path = Path(path)
    problems: list[Problem] = []
    if not path.exists():
        raise InputError([Problem(str(path), "measures file not found", expected="a YAML file with `measures:`")])
    text = path.read_text()
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError([Problem(str(path), f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                  line=mark.line + 1 if mark else None)]) from exc
    params = raw.get("params") or {}
    if not isinstance(params, dict) or any(not isinstance(v, (int, float, str, bool)) for v in params.values()):
        problems.append(Problem(str(path), "params must map names to numbers, strings or booleans", path="params",
                                value=params))
        params = {}
    key_features = raw.get("key_features") or []
    if not isinstance(key_features, list) or not all(isinstance(f, str) for f in key_features):
        problems.append(Problem(str(path), "must be a list of feature names", path="key_features", value=key_features))
        key_features = []
    entries = raw.get("measures")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(str(path), "missing or empty", path="measures", value=entries,
                                expected="a list of {name, type, description, expr}"))
        raise InputError(problems)
    known = set(base_columns)
    measures: list[Measure] = []
    for index, entry in enumerate(entries):
        where = f"measures[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(str(path), "must be a mapping", path=where, value=entry))
            continue
        name = entry.get("name")
        line = _line_of(text, str(name)) if name else None
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(Problem(str(path), "invalid name", line=line, path=f"{where}.name", value=name,
                                    expected="lowercase letters, digits and underscores"))
            continue
        if name in known:
            problems.append(Problem(str(path), "name already used by a column or an earlier measure", line=line,
                                    path=f"{where}.name", value=name))
            continue
        mtype = str(entry.get("type", "")).upper()
        if mtype not in TYPES:
            problems.append(Problem(str(path), "unknown type", line=line, path=f"{where}.type", value=entry.get("type"),
                                    expected=f"one of {sorted(TYPES)}"))
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(Problem(str(path), "missing description", line=line, path=f"{where}.description",
                                    expected="one sentence saying what the measure means"))
        source = entry.get("expr")
        try:
            tree = sqlglot.parse_one(str(source), read="duckdb") if isinstance(source, str) and source.strip() else None
        except sqlglot.errors.ParseError as exc:
            problems.append(Problem(str(path), f"expression does not parse: {exc.errors[0]['description'] if exc.errors else exc}",
                                    line=line, path=f"{where}.expr", value=source))
            continue
        if tree is None:
            problems.append(Problem(str(path), "missing expression", line=line, path=f"{where}.expr",
                                    expected="a SQL expression over accounts columns"))
            continue
        bad = [node.key for node in tree.walk() if isinstance(node, _FORBIDDEN)]
        if bad:
            problems.append(Problem(str(path), f"only row-level expressions are allowed, found {sorted(set(bad))}",
                                    line=line, path=f"{where}.expr", value=source))
            continue
        unknown = []
        for column in list(tree.find_all(exp.Column)):
            if column.table:
                unknown.append(column.sql())
            elif column.name in params:
                column.replace(_literal(params[column.name]))
            elif column.name not in known:
                unknown.append(column.name)
        if unknown:
            problems.append(Problem(str(path), f"unknown column(s) {sorted(set(unknown))}", line=line,
                                    path=f"{where}.expr", value=source,
                                    expected="accounts columns, params or earlier measures"))
            continue
        if mtype in TYPES and isinstance(description, str) and description.strip():
            measures.append(Measure(name, mtype, description.strip(), tree))
            known.add(name)
    if problems:
        raise InputError(problems)
    return MeasureSet(str(path), dict(params), measures, list(key_features))


def measures_path(project_dir: Path, measures_config: dict) -> Path:
    """The measures file named by segsync.yaml `measures.file` (default segment_defs/measures.yaml)."""
    relative = Path(measures_config.get("file") or DEFAULT_FILE)
    return relative if relative.is_absolute() else project_dir / relative
