"""Conversions between timezone-aware datetimes and protobuf Timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.core.errors import InvalidArgument

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_timestamp(value: dt.datetime | None) -> Timestamp | None:
    """A Timestamp for a UTC datetime (None stays None, so optional fields stay unset).

    Plain arithmetic on the offset from the epoch: list RPCs convert two timestamps per row,
    and `Timestamp.FromDatetime` (time tuples and `calendar.timegm`) costs several times more.
    A naive datetime is taken as local time, as `astimezone` does."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone(dt.UTC)
    delta = value - _EPOCH  # days may be negative; seconds and microseconds never are
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def timestamp_fields(value: dt.datetime | None) -> dict[str, int] | None:
    """`{"seconds", "nanos"}` of a UTC datetime, to fill a Timestamp field from a dict: message
    constructors copy a Timestamp object, which costs more than the dict (hot list RPCs)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone(dt.UTC)
    delta = value - _EPOCH
    return {"seconds": delta.days * 86_400 + delta.seconds, "nanos": delta.microseconds * 1000}


def from_timestamp(value: Timestamp) -> dt.datetime:
    """A Timestamp our own services sent as a UTC datetime (a request's: `instant`)."""
    return value.ToDatetime(tzinfo=dt.UTC)


def instant(value: Timestamp, field: str) -> dt.datetime:
    """A request's Timestamp as an aware UTC datetime; INVALID_ARGUMENT naming `field` when it
    lies outside what a datetime holds (years 1-9999) or its nanos are malformed.

    Every service reads request timestamps through this (`from_timestamp` is for replies of
    our own services, which hold only what a datetime held)."""
    if not 0 <= value.nanos < 1_000_000_000:
        raise InvalidArgument.field(field, "has nanos outside 0..999999999")
    try:
        return _EPOCH + dt.timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)
    except OverflowError:
        raise InvalidArgument.field(field, "is outside the years 1 to 9999") from None


def optional_instant(message: Any, name: str, field: str) -> dt.datetime | None:
    """`message.<name>` as a datetime when set (`instant`), None when unset."""
    return instant(getattr(message, name), field) if message.HasField(name) else None
