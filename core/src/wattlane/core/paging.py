"""Opaque keyset page tokens bound to the caller and the query (AIP-158).

A token holds the sort key of the last row returned and a hash of (caller, method, parent,
filter, order); presenting it with another caller or filter is INVALID_ARGUMENT. The rows are
always filtered by the caller's scope anyway, so a token never widens what one can read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, TypeDecorator, literal, tuple_
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import InvalidArgument
from wattlane.core.orm import SqlColumn, integer_range

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    """How many rows to return and the key after which to start (None: the first page)."""

    size: int
    after: tuple[Any, ...] | None
    binding: str

    def next_token(self, rows: Sequence[Any], key: Any) -> str:
        """The token for the page after `rows` (fetched with `size + 1`), or '' at the end."""
        if len(rows) <= self.size:
            return ""
        last = key(rows[self.size - 1])
        last = last if isinstance(last, tuple) else (last,)
        raw = orjson.dumps({"b": self.binding, "k": list(last)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def keyset(self, columns: Sequence[SqlColumn]) -> ColumnElement[bool] | None:
        """`(c1, c2, ...) > after` for the query, or None on the first page.

        The keys come back from JSON (a timestamp as text), so each is restored to its
        column's type and bound with it; keys that do not fit the columns are INVALID_ARGUMENT
        (the binding is a plain hash: a caller can forge a token for its own query)."""
        if self.after is None:
            return None
        if len(self.after) != len(columns):
            raise _foreign_token()
        after = [_restore(column, value) for column, value in zip(columns, self.after, strict=True)]
        if len(columns) == 1:
            return columns[0] > after[0]  # type: ignore[no-any-return]
        bound = [literal(value, column.type) for value, column in zip(after, columns, strict=True)]
        return tuple_(*columns) > tuple_(*bound)

    def window(self, query: Select[Any], key: Sequence[SqlColumn]) -> Select[Any]:
        """`query` from after this page's key, ordered by `key`, with one row more than the page
        (so `next_token` can tell whether another page follows)."""
        if (keyset := self.keyset(key)) is not None:
            query = query.where(keyset)
        return query.order_by(*key).limit(self.size + 1)


def _foreign_token() -> InvalidArgument:
    return InvalidArgument.field("page_token", "belongs to a different query or caller")


def _restore(column: SqlColumn, value: Any) -> Any:
    """A key from a token as `column` holds it, or INVALID_ARGUMENT when it cannot be one."""
    kind = column.type
    while isinstance(kind, TypeDecorator):  # e.g. UTCDateTime: what it stores is a datetime
        kind = kind.impl_instance
    try:
        expected = kind.python_type
    except NotImplementedError:
        return value
    if expected is dt.datetime and isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _foreign_token() from None
        if value.tzinfo is None and getattr(kind, "timezone", False):
            raise _foreign_token()
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise _foreign_token()
    if expected is int:
        low, high = integer_range(kind)
        if not low <= value <= high:
            raise _foreign_token()
    return value


def binding_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def parse_page(
    page_size: int,
    page_token: str,
    *,
    caller: str,
    method: str,
    query: Sequence[str] = (),
    default: int = DEFAULT_PAGE_SIZE,
    maximum: int = MAX_PAGE_SIZE,
) -> Page:
    """Validate page_size/page_token. `query` lists everything that shapes the result set
    (parent, filter, order_by, flags): a token is only valid for the same query."""
    if page_size < 0:
        raise InvalidArgument.field("page_size", "must not be negative")
    size = default if page_size == 0 else min(page_size, maximum)
    binding = binding_hash(caller, method, *query)
    if not page_token:
        return Page(size, None, binding)
    try:
        padded = page_token + "=" * (-len(page_token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        keys = data["k"]
        token_binding = data["b"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidArgument.field("page_token", "is not a token this API issued") from None
    if token_binding != binding or not isinstance(keys, list):
        raise _foreign_token()
    return Page(size, tuple(keys), binding)
