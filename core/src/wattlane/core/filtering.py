"""A small AIP-160 filter language, compiled to SQL against a whitelist of fields.

    state = ACTIVE AND (kind = PARTNER OR kind = CUSTOMER) AND NOT display_name:"test"
    create_time >= "2026-01-01T00:00:00Z" AND email = "*@example.com"

Comparisons: = != < <= > >= and `:` (has: case-insensitive substring on strings). A trailing
`*` in a `=` string value matches a prefix. AND, OR (binds tighter than AND, as in AIP-160),
NOT / `-`, parentheses. Unknown fields or malformed values are INVALID_ARGUMENT on `filter`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import InvalidArgument
from wattlane.core.orm import SqlColumn, integer_range

Kind = Literal["string", "int", "bool", "enum", "timestamp"]
MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 64  # nested parentheses and NOTs; deeper input would exhaust the parser's stack


@dataclass(frozen=True)
class Field:
    """A filterable field: its column and how values are parsed."""

    column: SqlColumn
    kind: Kind = "string"
    enum_values: Sequence[str] = ()
    convert: Callable[[str], Any] | None = None  # enum name → stored value, if they differ


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|!=|=|<|>|:)|(?P<paren>[()])|(?P<word>[^\s()<>=!:"]+))'
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            at = len(text) - len(text[pos:].lstrip())  # the character itself, not the space before
            raise InvalidArgument.field("filter", f"unexpected character at position {at}")
        kind = match.lastgroup or "word"
        tokens.append(_Tok(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Field]) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.fields = fields

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise InvalidArgument.field("filter", "ends too early")
        self.i += 1
        return tok

    def parse(self) -> ColumnElement[bool]:
        expr = self.expression()
        if self.peek() is not None:
            raise InvalidArgument.field("filter", f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return expr

    def expression(self) -> ColumnElement[bool]:
        parts = [self.disjunction()]
        while True:
            tok = self.peek()
            if tok is None or (tok.kind == "paren" and tok.text == ")"):
                break
            if tok.kind == "word" and tok.text == "AND":
                self.take()
            parts.append(self.disjunction())  # implicit AND between adjacent terms
        return and_(*parts) if len(parts) > 1 else parts[0]

    def disjunction(self) -> ColumnElement[bool]:
        parts = [self.term()]
        while (tok := self.peek()) is not None and tok.kind == "word" and tok.text == "OR":
            self.take()
            parts.append(self.term())
        return or_(*parts) if len(parts) > 1 else parts[0]

    def term(self) -> ColumnElement[bool]:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise InvalidArgument.field("filter", f"is nested more than {MAX_DEPTH} levels deep")
            return self._term()
        finally:
            self.depth -= 1

    def _term(self) -> ColumnElement[bool]:
        tok = self.peek()
        if tok is not None and ((tok.kind == "word" and tok.text == "NOT") or tok.text == "-"):
            self.take()
            return not_(self.term())
        if tok is not None and tok.kind == "word" and tok.text.startswith("-"):
            # `-field = x`: the tokenizer keeps `-` inside the word; as a term's first token it
            # is the negation (in value position it is a sign: `count = -5`).
            self.tokens[self.i] = _Tok("word", tok.text[1:], tok.pos + 1)
            return not_(self.term())
        if tok is not None and tok.kind == "paren" and tok.text == "(":
            self.take()
            inner = self.expression()
            close = self.take()
            if close.text != ")":
                raise InvalidArgument.field("filter", f"expected ')' at position {close.pos}")
            return inner
        return self.comparison()

    def comparison(self) -> ColumnElement[bool]:
        name = self.take()
        if name.kind != "word":
            raise InvalidArgument.field("filter", f"expected a field name at position {name.pos}")
        field = self.fields.get(name.text)
        if field is None:
            known = ", ".join(sorted(self.fields)) or "none"
            raise InvalidArgument.field("filter", f"unknown field {name.text!r}; filterable fields: {known}")
        op = self.take()
        if op.kind != "op":
            raise InvalidArgument.field("filter", f"expected an operator after {name.text!r}")
        value_tok = self.take()
        if value_tok.kind not in ("string", "word"):
            raise InvalidArgument.field("filter", f"expected a value after {name.text} {op.text}")
        raw = _unquote(value_tok.text) if value_tok.kind == "string" else value_tok.text
        return _compare(name.text, field, op.text, raw)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _value(name: str, field: Field, raw: str) -> Any:
    if field.kind == "int":
        try:
            number = int(raw)
        except ValueError:
            raise InvalidArgument.field("filter", f"{name} takes an integer, got {raw!r}") from None
        low, high = integer_range(getattr(field.column, "type", None))
        if not low <= number <= high:
            # The driver would refuse it at execution time (an INTERNAL error, not the caller's).
            raise InvalidArgument.field("filter", f"{name} takes an integer from {low} to {high}, got {raw}")
        return number
    if field.kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise InvalidArgument.field("filter", f"{name} takes true or false, got {raw!r}")
        return raw.lower() == "true"
    if field.kind == "enum":
        if raw not in field.enum_values:
            allowed = ", ".join(field.enum_values)
            raise InvalidArgument.field("filter", f"{name} takes one of {allowed}, got {raw!r}")
        return field.convert(raw) if field.convert else raw
    if field.kind == "timestamp":
        malformed = InvalidArgument.field("filter", f"{name} takes an RFC 3339 timestamp, got {raw!r}")
        try:
            parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise malformed from None
        if parsed.tzinfo is None:
            raise InvalidArgument.field("filter", f"{name} needs a time zone offset (e.g. Z)")
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise malformed from None
    return field.convert(raw) if field.convert else raw


def _compare(name: str, field: Field, op: str, raw: str) -> ColumnElement[bool]:
    col = field.column
    if op == ":":
        if field.kind != "string":
            raise InvalidArgument.field("filter", f"':' (has) only applies to text fields, not {name}")
        escaped = raw.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(col).like(f"%{escaped}%", escape="\\")
    if field.kind == "string" and op == "=" and raw.endswith("*"):
        prefix = raw[:-1]
        return and_(col >= prefix, col < prefix + "\U0010ffff") if prefix else true()
    value = _value(name, field, raw)
    if field.kind in ("bool", "enum") and op not in ("=", "!="):
        raise InvalidArgument.field("filter", f"{name} only supports = and !=")
    ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "=": lambda c, v: c == v,
        "!=": lambda c, v: c != v,
        "<": lambda c, v: c < v,
        "<=": lambda c, v: c <= v,
        ">": lambda c, v: c > v,
        ">=": lambda c, v: c >= v,
    }
    return ops[op](col, value)


def compile_filter(text: str, fields: Mapping[str, Field]) -> ColumnElement[bool]:
    """Parse `text` and return the SQL condition; an empty filter selects everything."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument.field("filter", f"must be at most {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        return true()
    return _Parser(text, fields).parse()
