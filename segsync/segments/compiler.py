"""Compiles segments to DuckDB SQL with sqlglot expression builders: values are literals in the tree, never text."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

from sqlglot import exp

from segsync.segments.columns import is_tz_aware
from segsync.segments.model import Condition, Duration, Group, Leaf, SegmentRef, SegmentSet, SqlLeaf, Trend
from segsync.segments.sqlcheck import qualify

ACCOUNTS_ALIAS = "a"
TRENDS_ALIAS = "t"
TRENDS_CTE = "usage_trends"
COMPARE = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}


def utc_as_of(as_of: datetime | date | None) -> datetime:
    """The evaluation instant in UTC (now when None; a date means the end of that UTC day)."""
    if as_of is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if not isinstance(as_of, datetime):
        return datetime(as_of.year, as_of.month, as_of.day, 23, 59, 59, tzinfo=timezone.utc)
    return as_of.astimezone(timezone.utc) if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)


def shift(moment: date | datetime, duration: Duration, sign: int):
    """moment ± duration; months and years keep the day of month, clamped to the month's last day."""
    if duration.unit in ("d", "w"):
        return moment + sign * timedelta(days=duration.days)
    months = duration.amount * (12 if duration.unit == "y" else 1) * sign
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def literal(value, column_type: str) -> exp.Expression:
    """A typed sqlglot literal for a checked value."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        utc = value.astimezone(timezone.utc)
        if is_tz_aware(column_type):
            return exp.cast(exp.Literal.string(utc.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMPTZ)
        return exp.cast(exp.Literal.string(utc.replace(tzinfo=None).isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    return exp.Literal.string(str(value))


def false_if_null(expression: exp.Expression) -> exp.Expression:
    return exp.func("coalesce", expression, exp.false())


class Compiler:
    """Builds per-segment boolean expressions (references inlined, priorities applied) and the one-pass query."""

    def __init__(self, segment_set: SegmentSet, as_of: datetime | date | None = None):
        self.segments = segment_set
        self.as_of = utc_as_of(as_of)
        self.today = self.as_of.date()
        self.trend_columns: dict[tuple[str, date, date], str] = {}
        self._final: dict[str, exp.Expression] = {}

    # ---- columns ---------------------------------------------------------------------------------
    def column(self, name: str) -> exp.Column:
        return exp.column(name, table=ACCOUNTS_ALIAS, quoted=True)

    def trend_sum(self, measure: str, first: date, last: date) -> exp.Expression:
        """COALESCE(t.<sum of measure over [first, last]>, 0), registering the sum for the trends CTE."""
        key = (measure, first, last)
        alias = self.trend_columns.setdefault(key, f"t_{len(self.trend_columns)}")
        return exp.func("coalesce", exp.column(alias, table=TRENDS_ALIAS), exp.Literal.number(0))

    # ---- conditions ------------------------------------------------------------------------------
    def condition(self, node: Condition, negated: bool = False) -> exp.Expression:
        if isinstance(node, Group):
            if node.kind == "not":
                return exp.Not(this=exp.paren(self.condition(node.children[0], True)))
            parts = [self.condition(child, negated) for child in node.children]
            combined = exp.and_(*parts) if node.kind == "all" else exp.or_(*parts)
            return exp.paren(combined) if len(parts) > 1 else combined
        if isinstance(node, SegmentRef):
            member = self.final(node.segment)
            return member if node.op == "in_segment" else exp.Not(this=exp.paren(member))
        predicate = self.predicate(node)
        return false_if_null(predicate) if negated else predicate

    def predicate(self, node: Leaf | Trend | SqlLeaf) -> exp.Expression:
        """The three-valued predicate of one leaf (NULL when the value is missing)."""
        if isinstance(node, SqlLeaf):
            return exp.paren(qualify(node.expression, ACCOUNTS_ALIAS))
        if isinstance(node, Trend):
            return self.trend(node)
        return self.leaf(node)

    def leaf(self, leaf: Leaf) -> exp.Expression:
        col, op, value, typ = self.column(leaf.field), leaf.op, leaf.value, leaf.column_type
        if op == "eq":
            return exp.EQ(this=col, expression=literal(value, typ))
        if op == "ne":
            return exp.NEQ(this=col, expression=literal(value, typ))
        if op in ("in", "not_in"):
            found = col.isin(*(literal(v, typ) for v in value))
            return found if op == "in" else exp.Not(this=exp.paren(found))
        if op in COMPARE:
            return COMPARE[op](this=col, expression=literal(value, typ))
        if op == "between":
            return exp.Between(this=col, low=literal(value[0], typ), high=literal(value[1], typ))
        if op == "is_null":
            missing = exp.Is(this=col, expression=exp.Null())
            return missing if value else exp.Not(this=missing)
        if op == "contains":
            return exp.Anonymous(this="contains", expressions=[col, exp.Literal.string(value)])
        if op == "starts_with":
            return exp.Anonymous(this="starts_with", expressions=[col, exp.Literal.string(value)])
        if op == "before":
            return exp.LT(this=col, expression=literal(value, typ))
        if op == "after":
            return exp.GT(this=col, expression=literal(value, typ))
        low, high = self.relative_bounds(leaf)
        if op == "more_than_ago":
            return exp.LT(this=col, expression=literal(low, typ))
        return exp.Between(this=col, low=literal(low, typ), high=literal(high, typ))

    def relative_bounds(self, leaf: Leaf) -> tuple:
        """[low, high] (inclusive) of within_last / within_next; low alone is the cut-off of more_than_ago."""
        anchor = self.today if leaf.kind == "date" else self.as_of
        if leaf.op == "within_next":
            return anchor, shift(anchor, leaf.value, +1)
        return shift(anchor, leaf.value, -1), anchor

    def trend_windows(self, trend: Trend) -> list[tuple[date, date]]:
        """Most recent first: [current, previous] windows, or the dropping+1 consecutive periods."""
        days = trend.window.days if trend.window else trend.period.days
        count = 2 if not trend.is_dropping else trend.dropping + 1
        return [(self.today - timedelta(days=days * (i + 1) - 1), self.today - timedelta(days=days * i))
                for i in range(count)]

    def trend(self, trend: Trend) -> exp.Expression:
        sums = [self.trend_sum(trend.measure, first, last) for first, last in self.trend_windows(trend)]
        if trend.is_dropping:
            return exp.and_(*(exp.LT(this=sums[i], expression=sums[i + 1].copy()) for i in range(trend.dropping)))
        return COMPARE[trend.op](this=self.trend_change_pct(sums[0], sums[1]),
                                 expression=exp.Literal.number(trend.change_pct))

    @staticmethod
    def trend_change_pct(current: exp.Expression, previous: exp.Expression) -> exp.Expression:
        """(current - previous) * 100.0 / NULLIF(previous, 0)."""
        delta = exp.paren(exp.Sub(this=current, expression=previous))
        scaled = exp.Mul(this=delta, expression=exp.Literal.number("100.0"))
        return exp.Div(this=scaled, expression=exp.func("nullif", previous.copy(), exp.Literal.number(0)))

    # ---- segments --------------------------------------------------------------------------------
    def raw(self, name: str) -> exp.Expression:
        return false_if_null(self.condition(self.segments[name].where))

    def final(self, name: str) -> exp.Expression:
        """Membership of `name`: its condition, minus accounts taken by better-ranked segments of its group."""
        if name not in self._final:
            expression = self.raw(name)
            better = self.segments.outranked_by(name)
            if better:
                expression = exp.and_(expression, *(exp.Not(this=self.raw(b.name)) for b in better))
            self._final[name] = expression
        return self._final[name].copy()

    def trends_cte(self) -> exp.Select | None:
        if not self.trend_columns:
            return None
        day = exp.column("day", quoted=True)
        sums = []
        for (measure, first, last), alias in self.trend_columns.items():
            window = exp.Between(this=day.copy(), low=literal(first, "DATE"), high=literal(last, "DATE"))
            total = exp.Filter(this=exp.Sum(this=exp.column(measure, quoted=True)), expression=exp.Where(this=window))
            sums.append(exp.alias_(total, alias))
        earliest = min(first for (_m, first, _l) in self.trend_columns)
        return (exp.select(exp.column("account_id", quoted=True), *sums).from_("account_daily_usage")
                .where(exp.Between(this=day.copy(), low=literal(earliest, "DATE"), high=literal(self.today, "DATE")))
                .group_by(exp.column("account_id", quoted=True)))

    def from_accounts(self, select: exp.Select) -> exp.Select:
        """Attach FROM accounts (and the trends CTE when any trend was compiled) to a select."""
        select = select.from_(exp.alias_(exp.to_table("accounts"), ACCOUNTS_ALIAS, table=True))
        cte = self.trends_cte()
        if cte is None:
            return select
        on = exp.EQ(this=exp.column("account_id", table=TRENDS_ALIAS, quoted=True),
                    expression=self.column("account_id"))
        return (select.join(exp.alias_(exp.to_table(TRENDS_CTE), TRENDS_ALIAS, table=True), on=on, join_type="left")
                .with_(TRENDS_CTE, as_=cte))

    def membership_query(self, names: list[str] | None = None) -> exp.Select:
        """One pass over accounts: account_id plus one boolean column per segment."""
        names = names or self.segments.names
        outputs = [exp.alias_(self.final(name), name, quoted=True) for name in names]
        return self.from_accounts(exp.select(self.column("account_id"), *outputs))


def compile_segments(segment_set: SegmentSet, as_of: datetime | date | None = None) -> dict[str, str]:
    """Segment name -> a standalone DuckDB query selecting its members' account_id (for review)."""
    out = {}
    for segment in segment_set:
        compiler = Compiler(segment_set, as_of)
        condition = compiler.final(segment.name)
        query = compiler.from_accounts(exp.select(compiler.column("account_id")).where(condition))
        out[segment.name] = query.sql("duckdb", pretty=True)
    return out
