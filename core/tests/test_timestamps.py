"""timestamps: aware datetimes to protobuf Timestamps and back, always UTC."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.core.timestamps import from_timestamp, to_timestamp


def test_none_stays_unset() -> None:
    assert to_timestamp(None) is None


def test_round_trip_keeps_microseconds() -> None:
    value = dt.datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=dt.UTC)
    ts = to_timestamp(value)
    assert ts == Timestamp(seconds=int(value.timestamp()), nanos=123456000)
    back = from_timestamp(ts)
    assert back == value
    assert back.tzinfo == dt.UTC


def test_other_offsets_are_converted_to_utc() -> None:
    amsterdam_summer = dt.timezone(dt.timedelta(hours=2))
    value = dt.datetime(2026, 7, 1, 12, 0, tzinfo=amsterdam_summer)
    ts = to_timestamp(value)
    assert ts is not None
    assert ts.ToJsonString() == "2026-07-01T10:00:00Z"
    assert from_timestamp(ts) == value
    assert from_timestamp(ts).utcoffset() == dt.timedelta(0)


def test_epoch() -> None:
    assert from_timestamp(Timestamp()) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
