"""Conversions between timezone-aware datetimes and protobuf Timestamps."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(value: dt.datetime | None) -> Timestamp | None:
    """A Timestamp for a UTC datetime (None stays None, so optional fields stay unset)."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(dt.UTC))
    return ts


def from_timestamp(value: Timestamp) -> dt.datetime:
    return value.ToDatetime(tzinfo=dt.UTC)
