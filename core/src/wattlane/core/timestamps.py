"""Conversions between timezone-aware datetimes and protobuf Timestamps."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

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
    return value.ToDatetime(tzinfo=dt.UTC)
