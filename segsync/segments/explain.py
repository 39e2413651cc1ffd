"""Why is (or isn't) an account in a segment: the condition tree with each leaf's actual value and verdict."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
from sqlglot import exp

from segsync.segments.compiler import Compiler
from segsync.segments.evaluate import require_inputs
from segsync.segments.model import Duration, Group, Leaf, SegmentRef, SegmentSet, Trend
from segsync.segments.splits import bucket_for


@dataclass
class ExplainNode:
    label: str
    result: bool
    actual: str | None = None
    detail: str | None = None
    children: list[ExplainNode] = field(default_factory=list)


@dataclass
class ExplainResult:
    segment: str
    account_id: str
    as_of: datetime
    found: bool
    matched: bool = False  # the segment's own condition
    member: bool = False  # after priority groups
    outranked_by: list[str] = field(default_factory=list)
    split: str | None = None
    is_holdout: bool = False
    tree: ExplainNode | None = None


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


class _Collector:
    """Assigns every leaf its output columns in one SELECT for the account."""

    def __init__(self, compiler: Compiler):
        self.compiler = compiler
        self.outputs: list[exp.Expression] = []

    def add(self, expression: exp.Expression) -> str:
        alias = f"c{len(self.outputs)}"
        self.outputs.append(exp.alias_(expression, alias))
        return alias

    def plan(self, node) -> dict:
        """A nested description of node -> the aliases holding its verdict and actual values."""
        compiler = self.compiler
        if isinstance(node, Group):
            return {"node": node, "children": [self.plan(child) for child in node.children]}
        if isinstance(node, SegmentRef):
            return {"node": node, "verdict": self.add(compiler.final(node.segment))}
        entry = {"node": node, "verdict": self.add(compiler.predicate(node))}
        if isinstance(node, Leaf):
            entry["actual"] = [self.add(compiler.column(node.field))]
        elif isinstance(node, Trend):
            windows = compiler.trend_windows(node)
            entry["actual"] = [self.add(compiler.trend_sum(node.measure, a, b)) for a, b in windows]
            entry["windows"] = windows
        else:
            names = sorted({c.name for c in node.expression.find_all(exp.Column)})
            entry["actual"] = [self.add(compiler.column(name)) for name in names]
            entry["names"] = names
        return entry


def explain(con: duckdb.DuckDBPyConnection, segments: SegmentSet, segment_name: str, account_id: str,
            as_of: datetime | date | None = None) -> ExplainResult:
    """Evaluate one segment for one account and return the annotated condition tree."""
    segment = segments[segment_name]
    compiler = Compiler(segments, as_of)
    collector = _Collector(compiler)
    plan = collector.plan(segment.where)
    matched_alias = collector.add(compiler.raw(segment_name))
    better = compiler.segments.outranked_by(segment_name)
    better_aliases = [(b.name, collector.add(compiler.raw(b.name))) for b in better]
    require_inputs(con, segments, compiler)
    query = compiler.from_accounts(exp.select(*collector.outputs)).where(
        exp.EQ(this=compiler.column("account_id"), expression=exp.Literal.string(account_id)))
    cursor = con.execute(query.sql("duckdb"))
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    result = ExplainResult(segment_name, account_id, compiler.as_of, found=row is not None)
    if row is None:
        return result
    values = dict(zip(names, row))
    result.tree = _build(plan, values, compiler)
    result.matched = bool(values[matched_alias])
    result.outranked_by = [name for name, alias in better_aliases if values[alias]]
    result.member = result.matched and not result.outranked_by
    if result.member and segment.split:
        bucket = bucket_for(segment.split, account_id)
        result.split, result.is_holdout = bucket.name, bucket.holdout
    return result


def _build(entry: dict, values: dict, compiler: Compiler) -> ExplainNode:
    node = entry["node"]
    if isinstance(node, Group):
        children = [_build(child, values, compiler) for child in entry["children"]]
        verdicts = [c.result for c in children]
        result = all(verdicts) if node.kind == "all" else any(verdicts) if node.kind == "any" else not verdicts[0]
        return ExplainNode(node.kind, result, children=children)
    verdict = bool(values[entry["verdict"]])
    if isinstance(node, SegmentRef):
        member = verdict if node.op == "in_segment" else not verdict
        return ExplainNode(f"{node.op} {node.segment}", member,
                           actual="member" if verdict else "not a member")
    actual = [values[alias] for alias in entry["actual"]]
    if isinstance(node, Leaf):
        detail = None
        if node.op in ("within_last", "within_next", "more_than_ago"):
            low, high = compiler.relative_bounds(node)
            detail = f"before {show(low)}" if node.op == "more_than_ago" else f"from {show(low)} to {show(high)}"
        return ExplainNode(f"{node.field} {node.op} {show(node.value)}", verdict, actual=show(actual[0]), detail=detail)
    if isinstance(node, Trend):
        windows = entry["windows"]
        if node.is_dropping:
            oldest_first = " -> ".join(show(v) for v in reversed(actual))
            return ExplainNode(f"trend {node.measure} dropping {node.dropping} periods of {node.period} in a row",
                               verdict, actual=oldest_first,
                               detail=f"periods from {show(windows[-1][0])} to {show(windows[0][1])}")
        current, previous = actual
        change = f"{(current - previous) * 100.0 / previous:+.1f}%" if previous else "n/a (previous window is 0)"
        return ExplainNode(f"trend {node.measure} change over {node.window} {node.op} {show(node.change_pct)}%",
                           verdict, actual=f"{show(current)} vs {show(previous)}: {change}",
                           detail=f"current {show(windows[0][0])}..{show(windows[0][1])}, "
                                  f"previous {show(windows[1][0])}..{show(windows[1][1])}")
    shown = ", ".join(f"{name}={show(v)}" for name, v in zip(entry["names"], actual))
    return ExplainNode(f"sql: {node.sql}", verdict, actual=shown)


def render_explain(result: ExplainResult) -> str:
    """Plain-text rendering: a header line, then the tree with ✓ / ✗ per node and the actual values."""
    header = f"{result.segment} for account {result.account_id} as of {result.as_of.isoformat(sep=' ')}: "
    if not result.found:
        return header + "account not found in accounts"
    if result.member:
        status = "MEMBER" + (f" (split {result.split}{', holdout: never synced' if result.is_holdout else ''})"
                             if result.split else "")
    elif result.matched:
        status = "NOT A MEMBER (condition matches, but higher-priority segment " + ", ".join(result.outranked_by) \
                 + " takes the account)"
    else:
        status = "NOT A MEMBER"
    lines = [header + status]

    def walk(node: ExplainNode, depth: int) -> None:
        mark = "✓" if node.result else "✗"
        text = f"{'  ' * depth}{mark} {node.label}"
        if node.actual is not None:
            text += f"  [actual: {node.actual}]"
        if node.detail:
            text += f"  ({node.detail})"
        lines.append(text)
        for child in node.children:
            walk(child, depth + 1)

    walk(result.tree, 1)
    return "\n".join(lines)
