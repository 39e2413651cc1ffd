"""The segment model: condition trees, splits, priorities, segment definitions and the loaded set."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from sqlglot import exp

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME_LENGTH = 40

# Operator -> the column kinds it accepts.
OPERATORS: dict[str, tuple[str, ...]] = {
    "eq": ("number", "string", "boolean", "date", "timestamp"),
    "ne": ("number", "string", "boolean", "date", "timestamp"),
    "in": ("number", "string", "date"),
    "not_in": ("number", "string", "date"),
    "gt": ("number", "date", "timestamp"),
    "gte": ("number", "date", "timestamp"),
    "lt": ("number", "date", "timestamp"),
    "lte": ("number", "date", "timestamp"),
    "between": ("number", "date", "timestamp"),
    "is_null": ("number", "string", "boolean", "date", "timestamp", "other"),
    "contains": ("string",),
    "starts_with": ("string",),
    "within_last": ("date", "timestamp"),
    "within_next": ("date", "timestamp"),
    "more_than_ago": ("date", "timestamp"),
    "before": ("date", "timestamp"),
    "after": ("date", "timestamp"),
}
DURATION_OPERATORS = ("within_last", "within_next", "more_than_ago")
LIST_OPERATORS = ("in", "not_in")
COMPARISONS = ("gt", "gte", "lt", "lte")
TREND_COMPARISONS = ("gt", "gte", "lt", "lte")
DURATION_PATTERN = re.compile(r"^([1-9][0-9]*)(d|w|mo|y)$")
DURATION_UNITS = {"d": "days", "w": "weeks", "mo": "months", "y": "years"}


@dataclass(frozen=True)
class Duration:
    """A relative span written like 30d, 12w, 6mo or 1y."""

    amount: int
    unit: str  # d, w, mo, y

    @property
    def days(self) -> int | None:
        """Exact length in days for d/w units (months and years vary)."""
        return {"d": 1, "w": 7}.get(self.unit, 0) * self.amount or None

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(text: str) -> Duration | None:
    match = DURATION_PATTERN.match(text.strip()) if isinstance(text, str) else None
    return Duration(int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class Leaf:
    """`{field, op, value}` on a column of `accounts`."""

    field: str
    op: str
    value: Any
    column_type: str
    kind: str
    line: int
    path: str


@dataclass(frozen=True)
class Trend:
    """A measure of `account_daily_usage` over time: change vs the previous window, or dropping N periods in a row."""

    measure: str
    line: int
    path: str
    window: Duration | None = None  # change mode
    op: str | None = None
    change_pct: float | None = None
    period: Duration | None = None  # dropping mode
    dropping: int | None = None

    @property
    def is_dropping(self) -> bool:
        return self.dropping is not None


@dataclass(frozen=True)
class SegmentRef:
    """`in_segment: NAME` or `not_in_segment: NAME`."""

    op: str
    segment: str
    line: int
    path: str


@dataclass(frozen=True)
class SqlLeaf:
    """`sql: <boolean expression>`: parsed and checked by sqlglot, kept as a tree."""

    sql: str
    expression: exp.Expression
    line: int
    path: str


@dataclass(frozen=True)
class Group:
    """`all` / `any` / `not` over child conditions (`not` has exactly one child)."""

    kind: str
    children: tuple
    line: int
    path: str


Condition = Union[Leaf, Trend, SegmentRef, SqlLeaf, Group]


@dataclass(frozen=True)
class SplitBucket:
    name: str
    percent: float
    holdout: bool = False


@dataclass(frozen=True)
class Split:
    """Deterministic split of members into buckets by a stable hash of salt + account id."""

    salt: str
    buckets: tuple[SplitBucket, ...]

    def ranges(self) -> list[tuple[SplitBucket, int, int]]:
        """Each bucket with its [low, high) range of hash slots out of 10,000."""
        out, low = [], 0
        for index, bucket in enumerate(self.buckets):
            high = 10_000 if index == len(self.buckets) - 1 else low + round(bucket.percent * 100)
            out.append((bucket, low, high))
            low = high
        return out


@dataclass(frozen=True)
class Priority:
    """Membership in a priority group: an account lands only in the best-ranked (lowest rank) matching segment."""

    group: str
    rank: int


@dataclass
class SegmentDef:
    name: str
    description: str
    owner: str | None
    where: Condition
    destinations: dict[str, dict | bool]
    source_file: Path
    line: int = 1
    split: Split | None = None
    priority: Priority | None = None
    key_lines: dict[str, int] = field(default_factory=dict)  # key path ("destinations.hubspot") -> its line


@dataclass
class SegmentOutline:
    """What destination checks need of a segment file, known even while its conditions have problems."""

    name: str
    destinations: dict[str, dict | bool]
    source_file: Path
    line: int = 1
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class SegmentSet:
    """Every loaded segment (file order), with the column types they were checked against."""

    segments: list[SegmentDef]
    columns: dict[str, str] = field(default_factory=dict)
    usage_columns: dict[str, str] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def __contains__(self, name: object) -> bool:
        return any(s.name == name for s in self.segments)

    def __getitem__(self, name: str) -> SegmentDef:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    def priority_groups(self) -> dict[str, list[SegmentDef]]:
        """Group name -> its segments, best rank first."""
        groups: dict[str, list[SegmentDef]] = {}
        for segment in self.segments:
            if segment.priority:
                groups.setdefault(segment.priority.group, []).append(segment)
        return {g: sorted(members, key=lambda s: s.priority.rank) for g, members in groups.items()}

    def outranked_by(self, name: str) -> list[SegmentDef]:
        """Segments of the same priority group with a better rank than `name`."""
        segment = self[name]
        if not segment.priority:
            return []
        group = self.priority_groups()[segment.priority.group]
        return [s for s in group if s.priority.rank < segment.priority.rank]


def walk(condition: Condition):
    """Every node of a condition tree, depth first."""
    yield condition
    if isinstance(condition, Group):
        for child in condition.children:
            yield from walk(child)


def references(condition: Condition) -> list[SegmentRef]:
    return [node for node in walk(condition) if isinstance(node, SegmentRef)]

