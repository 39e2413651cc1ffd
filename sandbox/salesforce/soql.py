"""The SOQL subset the sources need: a tokenizer, a recursive-descent parser and a checker against Describe."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sandbox.salesforce.errors import SfRequestError
from sandbox.salesforce.ids import normalise_id
from sandbox.salesforce.schema import (ID_TYPES, NUMBER_TYPES, STRING_TYPES, FieldDef, ObjectDef,
                                       canonical_datetime, valid_date)

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
            "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "COUNT", "INCLUDES", "EXCLUDES"}
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<relative>[A-Za-z_]+:\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)
MAX_QUERY_LENGTH = 100_000
_DAY = dt.timedelta(days=1)
DAY_LITERALS = {"TODAY": (0, 1), "YESTERDAY": (-1, 1), "TOMORROW": (1, 1)}  # (start offset, length) in days
N_DAY_LITERALS = {  # name -> (start offset, length) in days for the literal's number n
    "LAST_N_DAYS": lambda n: (-n, n + 1), "NEXT_N_DAYS": lambda n: (1, n), "N_DAYS_AGO": lambda n: (-n, 1),
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\",
            "%": "\\%", "_": "\\_"}


@dataclass(frozen=True)
class Token:
    kind: str  # keyword, name, string, number, date, datetime, op, punct, end
    text: str
    value: object
    column: int


@dataclass
class FieldRef:
    path: tuple[str, ...]  # as written
    column: int
    fdef: FieldDef | None = None  # resolved leaf field
    relationship: FieldDef | None = None  # the reference field for a parent path (Contact.Account)
    key: tuple[str, ...] = ()  # canonical path

    @property
    def label(self) -> str:
        return ".".join(self.key)


@dataclass
class Literal:
    kind: str  # string, number, date, datetime, boolean, null
    value: object
    column: int


@dataclass(frozen=True)
class DateRange:
    """A relative date literal resolved to [start, end) in the field's stored text form."""

    start: str
    end: str


@dataclass
class Comparison:
    ref: FieldRef
    op: str  # = != < <= > >= LIKE IN NOTIN INCLUDES EXCLUDES
    values: list[Literal]


@dataclass
class BoolOp:
    op: str  # AND, OR, NOT
    parts: list


@dataclass
class OrderItem:
    ref: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass
class Query:
    object_name: str
    fields: list[FieldRef] = field(default_factory=list)
    count_only: bool = False
    where: object = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    obj: ObjectDef | None = None


def malformed(message: str, column: int | None = None) -> SfRequestError:
    where = f"\nERROR at Row:1:Column:{column}" if column is not None else ""
    return SfRequestError(400, "MALFORMED_QUERY", f"{where}\n{message}".strip())


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise malformed(f"unexpected token: '{text[pos:pos + 10].split()[0] if text[pos:].split() else text[pos]}'",
                            pos + 1)
        kind = match.lastgroup
        raw = match.group()
        column = pos + 1
        pos = match.end()
        if kind == "ws":
            continue
        if kind == "string":
            tokens.append(Token("string", raw, _unescape(raw[1:-1], column), column))
        elif kind == "number":
            tokens.append(Token("number", raw, float(raw) if "." in raw else int(raw), column))
        elif kind == "relative":
            name, _, number = raw.partition(":")
            tokens.append(Token("relative", raw, (name.upper(), int(number)), column))
        elif kind == "name" and raw.upper() in KEYWORDS:
            tokens.append(Token("keyword", raw.upper(), raw.upper(), column))
        else:
            tokens.append(Token(kind, raw, raw, column))
    tokens.append(Token("end", "", None, len(text) + 1))
    return tokens


def _unescape(body: str, column: int) -> str:
    out = []
    chars = iter(body)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        if nxt not in _ESCAPES:
            raise malformed(f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' in string literal.",
                            column)
        out.append(_ESCAPES[nxt])
    return "".join(out)


class Parser:
    """Recursive descent over the token list; every syntax error is MALFORMED_QUERY with a column."""

    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, *keywords: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.value in keywords

    def expect_keyword(self, keyword: str) -> Token:
        token = self.take()
        if token.kind != "keyword" or token.value != keyword:
            raise self.unexpected(token, f"expecting '{keyword}'")
        return token

    def expect_punct(self, char: str) -> Token:
        token = self.take()
        if token.kind != "punct" or token.text != char:
            raise self.unexpected(token, f"expecting '{char}'")
        return token

    @staticmethod
    def unexpected(token: Token, hint: str = "") -> SfRequestError:
        shown = token.text or "<EOF>"
        return malformed(f"unexpected token: '{shown}'" + (f" ({hint})" if hint else ""), token.column)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[FieldRef] = []
        count_only = False
        if self.at("COUNT") and self.tokens[self.pos + 1].text == "(" and self.tokens[self.pos + 2].text == ")":
            self.pos += 3
            count_only = True
        else:
            fields.append(self.field_ref())
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                fields.append(self.field_ref())
        self.expect_keyword("FROM")
        obj = self.take()
        if obj.kind != "name" or "." in obj.text:
            raise self.unexpected(obj, "expecting an object name")
        query = Query(object_name=obj.text, fields=fields, count_only=count_only)
        if self.at("WHERE"):
            self.take()
            query.where = self.condition()
        if self.at("ORDER"):
            self.take()
            self.expect_keyword("BY")
            query.order.append(self.order_item())
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                query.order.append(self.order_item())
        if self.at("LIMIT"):
            self.take()
            query.limit = self.non_negative_int("LIMIT")
        if self.at("OFFSET"):
            self.take()
            query.offset = self.non_negative_int("OFFSET")
            if query.offset > 2000:
                raise SfRequestError(400, "NUMBER_OUTSIDE_VALID_RANGE",
                                     f"Maximum SOQL offset allowed is 2000 (got {query.offset})")
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return query

    def non_negative_int(self, clause: str) -> int:
        token = self.take()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise self.unexpected(token, f"{clause} takes a non-negative integer")
        return token.value

    def field_ref(self) -> FieldRef:
        token = self.take()
        if token.kind != "name":
            raise self.unexpected(token, "expecting a field name")
        return FieldRef(tuple(token.text.split(".")), token.column)

    def order_item(self) -> OrderItem:
        item = OrderItem(self.field_ref())
        if self.at("ASC", "DESC"):
            item.descending = self.take().value == "DESC"
        if self.at("NULLS"):
            self.take()
            if not self.at("FIRST", "LAST"):
                raise self.unexpected(self.peek(), "expecting FIRST or LAST")
            item.nulls_last = self.take().value == "LAST"
        return item

    def condition(self):
        parts = [self.conjunction()]
        while self.at("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("OR", parts)

    def conjunction(self):
        parts = [self.negation()]
        while self.at("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else BoolOp("AND", parts)

    def negation(self):
        if self.at("NOT"):
            self.take()
            return BoolOp("NOT", [self.negation()])
        if self.peek().kind == "punct" and self.peek().text == "(":
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        ref = self.field_ref()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Comparison(ref, op, [self.literal()])
        if token.kind == "keyword" and token.value == "LIKE":
            return Comparison(ref, "LIKE", [self.literal()])
        if token.kind == "keyword" and token.value in ("INCLUDES", "EXCLUDES"):
            return Comparison(ref, token.value, self.literal_list())
        if token.kind == "keyword" and token.value == "IN":
            return Comparison(ref, "IN", self.literal_list())
        if token.kind == "keyword" and token.value == "NOT" and self.at("IN"):
            self.take()
            return Comparison(ref, "NOTIN", self.literal_list())
        raise self.unexpected(token, "expecting a comparison operator")

    def literal_list(self) -> list[Literal]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def literal(self) -> Literal:
        token = self.take()
        if token.kind in ("string", "number", "date", "datetime"):
            return Literal(token.kind, token.value, token.column)
        if token.kind == "relative" and token.value[0] in N_DAY_LITERALS:
            name, number = token.value
            return Literal("relative", relative_range(*N_DAY_LITERALS[name](number)), token.column)
        if token.kind == "name" and token.text.upper() in DAY_LITERALS:
            return Literal("relative", relative_range(*DAY_LITERALS[token.text.upper()]), token.column)
        if token.kind == "keyword" and token.value in ("TRUE", "FALSE"):
            return Literal("boolean", token.value == "TRUE", token.column)
        if token.kind == "keyword" and token.value == "NULL":
            return Literal("null", None, token.column)
        raise self.unexpected(token, "expecting a literal value")


def relative_range(offset: int, length: int) -> tuple[dt.date, dt.date]:
    """[start, end) in UTC days for a relative date literal (LAST_N_DAYS:n includes today)."""
    start = dt.datetime.now(dt.timezone.utc).date() + offset * _DAY
    return start, start + length * _DAY


def parse(text: str) -> Query:
    if len(text) > MAX_QUERY_LENGTH:
        raise malformed(f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters")
    return Parser(text).parse()


# -- checking against Describe --------------------------------------------------------------------------------

def _no_such_column(ref: FieldRef, entity: str) -> SfRequestError:
    return SfRequestError(
        400, "INVALID_FIELD",
        f"\nERROR at Row:1:Column:{ref.column}\nNo such column '{'.'.join(ref.path)}' on entity '{entity}'. "
        "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
        "Please reference your WSDL or the describe call for the appropriate names.")


def resolve(ref: FieldRef, obj: ObjectDef, objects: dict[str, ObjectDef]) -> FieldRef:
    path = ref.path
    if len(path) > 1 and path[0].lower() == obj.name.lower() and obj.relationship(path[0]) is None:
        path = path[1:]
    if len(path) == 1:
        fdef = obj.field(path[0])
        if fdef is None:
            raise _no_such_column(ref, obj.name)
        ref.fdef, ref.key = fdef, (fdef.name,)
        return ref
    if len(path) == 2:
        rel = obj.relationship(path[0])
        parent = objects.get(rel.reference_to[0]) if rel and rel.reference_to else None
        if rel is None or parent is None:
            raise SfRequestError(
                400, "INVALID_FIELD",
                f"\nERROR at Row:1:Column:{ref.column}\nDidn't understand relationship '{path[0]}' in field path. "
                "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the appropriate names.")
        fdef = parent.field(path[1])
        if fdef is None:
            raise _no_such_column(FieldRef(path[1:], ref.column), parent.name)
        ref.fdef, ref.relationship, ref.key = fdef, rel, (rel.relationship_name, fdef.name)
        return ref
    raise _no_such_column(ref, obj.name)


def check(query: Query, objects: dict[str, ObjectDef]) -> Query:
    """Resolve every field against Describe and type-check every literal, as Salesforce does before running."""
    obj = next((o for name, o in objects.items() if name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise SfRequestError(400, "INVALID_TYPE",
                             f"\n{query.object_name}\n^\nERROR at Row:1:Column:1\nsObject type "
                             f"'{query.object_name}' is not supported. If you are attempting to use a custom object, "
                             "be sure to append the '__c' after the entity name.")
    query.obj = obj
    query.object_name = obj.name
    seen = set()
    for ref in query.fields:
        resolve(ref, obj, objects)
        if ref.key in seen:
            raise malformed(f"duplicate field selected: {ref.label}", ref.column)
        seen.add(ref.key)
    for item in query.order:
        resolve(item.ref, obj, objects)
        if item.ref.fdef.type == "multipicklist":
            raise malformed(f"field '{item.ref.label}' can not be sorted in a query call", item.ref.column)
    if query.where is not None:
        _check_condition(query.where, obj, objects)
    return query


def _check_condition(node, obj: ObjectDef, objects: dict[str, ObjectDef]) -> None:
    if isinstance(node, BoolOp):
        for part in node.parts:
            _check_condition(part, obj, objects)
        return
    resolve(node.ref, obj, objects)
    fdef = node.ref.fdef
    if node.op == "LIKE" and fdef.type not in STRING_TYPES - {"multipicklist"} | {"id", "reference"}:
        raise SfRequestError(400, "INVALID_FIELD",
                             f"\nERROR at Row:1:Column:{node.ref.column}\ninvalid operator on {fdef.type} "
                             f"field: {node.ref.label}")
    if node.op in ("INCLUDES", "EXCLUDES") and fdef.type != "multipicklist":
        raise SfRequestError(400, "INVALID_FIELD", f"\nERROR at Row:1:Column:{node.ref.column}\n"
                             f"{node.op} can only be used with multi-select picklist fields: {node.ref.label}")
    for literal in node.values:
        literal.value = _typed_literal(node, fdef, literal)


def _filter_error(ref: FieldRef, fdef: FieldDef, expected: str, quoted: bool) -> SfRequestError:
    enclosure = "should not be enclosed in quotes" if not quoted else "should be enclosed in quotes"
    return SfRequestError(400, "INVALID_FIELD",
                          f"\nERROR at Row:1:Column:{ref.column}\nvalue of filter criterion for field "
                          f"'{ref.label}' must be of type {expected} and {enclosure}")


def _typed_literal(node: Comparison, fdef: FieldDef, literal: Literal) -> object:
    ref = node.ref
    if literal.kind == "null":
        if node.op not in ("=", "!=", "IN", "NOTIN"):
            raise SfRequestError(400, "INVALID_FIELD", f"\nERROR at Row:1:Column:{literal.column}\n"
                                 f"invalid operator for null value on field '{ref.label}'")
        return None
    t = fdef.type
    if literal.kind == "relative":
        if t not in ("date", "datetime") or node.op not in ("=", "!=", "<", "<=", ">", ">="):
            raise _filter_error(ref, fdef, t if t != "datetime" else "dateTime", t not in ("date", "datetime"))
        start, end = literal.value
        if t == "date":
            return DateRange(start.isoformat(), end.isoformat())
        return DateRange(start.isoformat() + "T00:00:00.000+0000", end.isoformat() + "T00:00:00.000+0000")
    if t == "boolean":
        if literal.kind != "boolean" or node.op not in ("=", "!=", "IN", "NOTIN"):
            raise _filter_error(ref, fdef, "boolean", False)
        return literal.value
    if t in NUMBER_TYPES:
        if literal.kind != "number":
            raise _filter_error(ref, fdef, "double" if t != "int" else "int", False)
        return literal.value
    if t == "date":
        if literal.kind != "date" or not valid_date(literal.value):
            raise _filter_error(ref, fdef, "date", False)
        return literal.value
    if t == "datetime":
        canonical = canonical_datetime(literal.value) if literal.kind == "datetime" else None
        if canonical is None:
            raise _filter_error(ref, fdef, "dateTime", False)
        return canonical
    if literal.kind != "string":
        raise _filter_error(ref, fdef, "string", True)
    if t in ID_TYPES and node.op != "LIKE":
        full = normalise_id(literal.value)
        if full is None and literal.value != "":
            raise SfRequestError(400, "INVALID_QUERY_FILTER_OPERATOR",
                                 f"\nERROR at Row:1:Column:{literal.column}\ninvalid ID field: {literal.value}")
        return full
    return literal.value
