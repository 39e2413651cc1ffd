"""Checks one condition tree from YAML nodes into model objects, collecting every problem with its line and path."""
from __future__ import annotations

from segsync.errors import Problem
from segsync.segments.columns import kind_of
from segsync.segments.model import (
    DURATION_OPERATORS, LIST_OPERATORS, OPERATORS, TREND_COMPARISONS, Condition, Group, Leaf, SegmentRef, SqlLeaf,
    Trend, parse_duration,
)
from segsync.segments.sqlcheck import closest, parse_condition_sql
from segsync.segments.values import EXPECTED, ValueProblem, coerce, text_of
from segsync.segments.yamlnodes import Node, join_path

GROUP_KEYS = ("all", "any", "not")
SINGLE_KEYS = ("in_segment", "not_in_segment", "sql", "trend")
LEAF_KEYS = ("field", "op", "value")
TREND_KEYS = ("measure", "window", "op", "change_pct", "period", "dropping")
CONDITION_FORMS = "{field, op, value} or one of all / any / not / in_segment / not_in_segment / sql / trend"
MAX_DROPPING = 12


# Words and symbols people write for an operator -> the operator, per column kind (the suggestion must fit the type).
OPERATOR_WORDS: dict[str, dict[str, str]] = {
    "number": {"greater": "gt", "greater_than": "gt", "more_than": "gt", "above": "gt", "over": "gt", ">": "gt",
               "greater_or_equal": "gte", "at_least": "gte", ">=": "gte", "less": "lt", "less_than": "lt",
               "fewer_than": "lt", "below": "lt", "under": "lt", "<": "lt", "less_or_equal": "lte",
               "at_most": "lte", "<=": "lte"},
    "date": {"greater": "after", "greater_than": "after", ">": "after", "since": "after", "less": "before",
             "less_than": "before", "<": "before", "until": "before", "older_than": "more_than_ago",
             "in_last": "within_last", "in_next": "within_next"},
    "string": {"includes": "contains", "like": "contains", "has": "contains", "begins_with": "starts_with",
               "startswith": "starts_with", "prefix": "starts_with"},
    "": {"equals": "eq", "equal": "eq", "is": "eq", "=": "eq", "==": "eq", "not_equal": "ne", "not_equals": "ne",
         "is_not": "ne", "!=": "ne", "<>": "ne", "one_of": "in", "not_one_of": "not_in", "none_of": "not_in",
         "null": "is_null", "missing": "is_null", "range": "between"},
}
OPERATOR_WORDS["timestamp"] = OPERATOR_WORDS["date"]


def suggestion(name: str, choices, what: str) -> str:
    hint = closest(name, choices)
    return f"{what}; did you mean {hint!r}?" if hint else what


def operator_suggestion(op: str, kind: str | None, field: str | None = None) -> str:
    """What an unknown operator should have been: the operators of the field's kind (all of them when the field
    is unknown), with the closest one (or the one a common word like `greater` means for that kind)."""
    if kind is None:
        fitting = list(OPERATORS)
        what = "one of " + ", ".join(fitting)
    else:
        fitting = [name for name, kinds in OPERATORS.items() if kind in kinds]
        what = f"one of the operators for {kind} field '{field}': " + ", ".join(fitting)
    word = op.strip().lower().replace(" ", "_").replace("-", "_")
    meant = OPERATOR_WORDS.get(kind or "", {}).get(word) or OPERATOR_WORDS[""].get(word)
    if meant in fitting and meant != op:
        return f"{what}; did you mean {meant!r}?"
    if kind is None and any(word in words for words in OPERATOR_WORDS.values()):
        return what  # e.g. `greater` means gt for a number but after for a date: no guess without the field
    return suggestion(op, fitting, what)


class ConditionChecker:
    """Turns the `where:` nodes of one file into a Condition, appending Problems as it goes."""

    def __init__(self, file: str, columns: dict[str, str], usage_columns: dict[str, str], problems: list[Problem]):
        self.file = file
        self.columns = columns
        self.usage_columns = usage_columns
        self.problems = problems

    def problem(self, node: Node, message: str, *, path: str | None = None, value=None, expected=None,
                line: int | None = None) -> None:
        self.problems.append(Problem(self.file, message, line=line or node.line, path=path or node.path or None,
                                     value=value, expected=expected))

    def condition(self, node: Node) -> Condition | None:
        if not node.is_mapping:
            shown = node.value if node.is_scalar else "a list"
            self.problem(node, "a condition must be a mapping", value=shown, expected=CONDITION_FORMS)
            return None
        keys = list(node.value)
        if not keys:
            self.problem(node, "empty condition", expected=CONDITION_FORMS)
            return None
        special = [k for k in keys if k in GROUP_KEYS + SINGLE_KEYS]
        if special:
            if len(keys) > 1:
                others = [k for k in keys if k != special[0]]
                self.problem(node, f"'{special[0]}' must be the only key of its condition", value=others,
                             expected=f"a separate list item for {', '.join(others)}",
                             line=node.key_lines[others[0]])
                return None
            key = special[0]
            child = node.value[key]
            if key in GROUP_KEYS:
                return self.group(key, child, node)
            if key == "trend":
                return self.trend(child)
            if key == "sql":
                return self.sql(child)
            return self.reference(key, child)
        unknown = [k for k in keys if k not in LEAF_KEYS]
        for key in unknown:
            self.problem(node, f"unknown key '{key}'", path=join_path(node.path, key), line=node.key_lines[key],
                         expected=suggestion(key, LEAF_KEYS + GROUP_KEYS + SINGLE_KEYS, CONDITION_FORMS))
        if unknown:
            return None
        return self.leaf(node)

    def group(self, kind: str, child: Node, parent: Node) -> Group | None:
        if kind == "not":
            if child.is_mapping:
                inner = self.condition(child)
                return Group("not", (inner,), parent.line, parent.path) if inner else None
            if not child.is_sequence:
                self.problem(child, "'not' needs a condition", value=child.value, expected=CONDITION_FORMS)
                return None
        if not child.is_sequence or not child.value:
            shown = child.value if child.is_scalar else ("an empty list" if child.is_sequence else "a mapping")
            self.problem(child, f"'{kind}' needs a non-empty list of conditions", value=shown,
                         expected=f"a list of conditions, e.g. {kind}: [{{field: seats, op: gt, value: 10}}]")
            return None
        children = [self.condition(item) for item in child.value]
        if any(c is None for c in children):
            return None
        if kind == "not":  # not: [a, b] means not (a and b)
            return Group("not", (Group("all", tuple(children), child.line, child.path),), parent.line, parent.path)
        return Group(kind, tuple(children), parent.line, parent.path)

    def reference(self, op: str, child: Node) -> SegmentRef | None:
        name = text_of(child)
        if not name:
            self.problem(child, f"'{op}' needs a segment name", value=child.value if child.is_scalar else None,
                         expected="the name of another segment")
            return None
        return SegmentRef(op, name, child.line, child.path)

    def sql(self, child: Node) -> SqlLeaf | None:
        if not child.is_scalar or not isinstance(child.value, str) or not child.value.strip():
            self.problem(child, "'sql' needs one SQL expression as text",
                         value=child.value if child.is_scalar else None, expected="sql: \"seats > 10\"")
            return None
        tree, issues = parse_condition_sql(child.value, self.columns)
        for message, expected in issues:
            self.problem(child, message, value=child.value, expected=expected)
        return SqlLeaf(child.value, tree, child.line, child.path) if tree is not None else None

    def leaf(self, node: Node) -> Leaf | None:
        ok = True
        for required in ("field", "op"):
            if required not in node.value:
                self.problem(node, f"missing key '{required}'", expected="{field, op, value}")
                ok = False
        if not ok:
            return None
        field_node, op_node = node.value["field"], node.value["op"]
        field, op = text_of(field_node), text_of(op_node)
        if field not in self.columns:
            self.problem(field_node, f"unknown field '{field}'", value=None,
                         expected=suggestion(str(field), self.columns, "a column of accounts"))
            ok = False
        if op not in OPERATORS:
            kind = kind_of(self.columns[field]) if field in self.columns else None
            self.problem(op_node, f"unknown operator '{op}'", expected=operator_suggestion(str(op), kind, field))
            ok = False
        if not ok:
            return None
        column_type = self.columns[field]
        kind = kind_of(column_type)
        if kind not in OPERATORS[op]:
            fitting = [name for name, kinds in OPERATORS.items() if kind in kinds]
            self.problem(op_node, f"operator '{op}' does not apply to {kind} field '{field}' ({column_type})",
                         expected="one of " + ", ".join(fitting))
            return None
        value_node = node.value.get("value")
        if value_node is None and op != "is_null":
            self.problem(node, f"missing key 'value' for operator '{op}'", expected=_value_expectation(op, kind))
            return None
        value = self.leaf_value(op, kind, value_node) if value_node is not None else True
        if value is _INVALID:
            return None
        return Leaf(field, op, value, column_type, kind, node.line, node.path)

    def leaf_value(self, op: str, kind: str, node: Node):
        try:
            if op == "is_null":
                if not isinstance(node.value, bool):
                    raise ValueProblem("is_null takes true or false", "true (missing) or false (present)", node.value)
                return node.value
            if op in DURATION_OPERATORS:
                duration = parse_duration(node.value) if isinstance(node.value, str) else None
                if duration is None:
                    raise ValueProblem("not a duration", "a duration such as 30d, 12w, 6mo or 1y",
                                       node.value if node.is_scalar else None)
                return duration
            if op in LIST_OPERATORS:
                if not node.is_sequence or not node.value:
                    raise ValueProblem(f"'{op}' needs a non-empty list", "a list such as [Basic, Pro]",
                                       node.value if node.is_scalar else None)
                return tuple(self.scalar(item, kind) for item in node.value)
            if op == "between":
                if not node.is_sequence or len(node.value) != 2:
                    raise ValueProblem("'between' needs exactly two values", "[low, high], both inclusive",
                                       node.plain_python() if not node.is_mapping else None)
                low, high = (self.scalar(item, kind) for item in node.value)
                if low > high:
                    raise ValueProblem("'between' bounds are reversed", "[low, high] with low <= high",
                                       [low, high])
                return (low, high)
            if op in ("contains", "starts_with"):
                text = self.scalar(node, "string")
                if not text:
                    raise ValueProblem(f"'{op}' needs non-empty text", "text to look for", text)
                return text
            if kind in ("date", "timestamp") and isinstance(node.value, str) and parse_duration(node.value):
                raise ValueProblem(f"'{op}' compares with a fixed date, not a duration",
                                   "a date such as 2025-01-31; for relative dates use within_last, within_next "
                                   "or more_than_ago", node.value)
            return self.scalar(node, kind)
        except _Reported:
            return _INVALID
        except ValueProblem as exc:
            self.problem(node, exc.message, value=exc.value, expected=exc.expected)
            return _INVALID

    def scalar(self, node: Node, kind: str):
        try:
            return coerce(node, kind)
        except ValueProblem as exc:
            # re-raise with this node's own line/path
            self.problem(node, exc.message, value=exc.value, expected=exc.expected)
            raise _Reported() from exc

    def trend(self, node: Node) -> Trend | None:
        if not node.is_mapping:
            self.problem(node, "'trend' needs a mapping", value=node.value if node.is_scalar else None,
                         expected="{measure, window, op, change_pct} or {measure, period, dropping}")
            return None
        values = node.value
        unknown = [k for k in values if k not in TREND_KEYS]
        for key in unknown:
            self.problem(node, f"unknown key '{key}' in trend", path=join_path(node.path, key),
                         line=node.key_lines[key], expected=suggestion(key, TREND_KEYS, "one of " + ", ".join(TREND_KEYS)))
        if unknown:
            return None
        measure_node = values.get("measure")
        if measure_node is None:
            self.problem(node, "missing key 'measure' in trend", expected="a numeric column of account_daily_usage")
            return None
        measure = text_of(measure_node)
        numeric = {c: t for c, t in self.usage_columns.items() if kind_of(t) == "number"}
        if measure not in numeric:
            self.problem(measure_node, f"unknown trend measure '{measure}'",
                         expected=suggestion(str(measure), numeric, "a numeric column of account_daily_usage ("
                                             + ", ".join(numeric) + ")"))
            return None
        if "dropping" in values or "period" in values:
            return self.dropping_trend(node, measure)
        return self.change_trend(node, measure)

    def change_trend(self, node: Node, measure: str) -> Trend | None:
        values = node.value
        missing = [k for k in ("window", "op", "change_pct") if k not in values]
        if missing:
            self.problem(node, f"trend is missing {', '.join(repr(m) for m in missing)}",
                         expected="{measure, window, op, change_pct} or {measure, period, dropping}")
            return None
        window = self.day_duration(values["window"])
        op = text_of(values["op"])
        if op not in TREND_COMPARISONS:
            self.problem(values["op"], f"unknown trend operator '{op}'", expected="one of " + ", ".join(TREND_COMPARISONS))
            op = None
        try:
            change = coerce(values["change_pct"], "number")
        except ValueProblem as exc:
            self.problem(values["change_pct"], exc.message, value=exc.value, expected="a percentage such as -30")
            change = None
        if window is None or op is None or change is None:
            return None
        return Trend(measure, node.line, node.path, window=window, op=op, change_pct=float(change))

    def dropping_trend(self, node: Node, measure: str) -> Trend | None:
        values = node.value
        extra = [k for k in ("window", "op", "change_pct") if k in values]
        if extra or "period" not in values or "dropping" not in values:
            self.problem(node, "a dropping trend takes exactly 'period' and 'dropping'",
                         value=extra or None, expected="{measure, period: 7d, dropping: 3}")
            return None
        period = self.day_duration(values["period"])
        count_node = values["dropping"]
        count = count_node.value
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DROPPING:
            self.problem(count_node, "'dropping' must be a whole number of periods", value=count,
                         expected=f"an integer from 1 to {MAX_DROPPING}")
            count = None
        if period is None or count is None:
            return None
        return Trend(measure, node.line, node.path, period=period, dropping=count)

    def day_duration(self, node: Node):
        duration = parse_duration(node.value) if isinstance(node.value, str) else None
        if duration is None or duration.days is None:
            self.problem(node, "not a trend window", value=node.value if node.is_scalar else None,
                         expected="a duration in days or weeks such as 28d or 4w")
            return None
        return duration


class _Reported(ValueProblem):
    def __init__(self):
        Exception.__init__(self, "reported")


class _InvalidValue:
    def __repr__(self) -> str:
        return "<invalid>"


_INVALID = _InvalidValue()


def _value_expectation(op: str, kind: str) -> str:
    if op in DURATION_OPERATORS:
        return "a duration such as 30d, 12w, 6mo or 1y"
    if op in LIST_OPERATORS:
        return "a list of values"
    if op == "between":
        return "[low, high]"
    return EXPECTED.get(kind, f"a {kind} value")

