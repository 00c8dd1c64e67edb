"""to_timestamp agrees with protobuf's own conversion over the whole datetime range."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from wattlane.core.timestamps import from_timestamp, timestamp_fields, to_timestamp

ZONES = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-9, minutes=-30))]
)


def _reference(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(dt.UTC))
    return ts


@given(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES))
def test_matches_protobuf_and_round_trips(value: dt.datetime) -> None:
    ts = to_timestamp(value)
    assert ts == _reference(value)
    assert from_timestamp(ts) == value
    assert Timestamp(**timestamp_fields(value)) == ts  # type: ignore[arg-type]


def test_edges() -> None:
    assert to_timestamp(None) is None
    assert timestamp_fields(None) is None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert to_timestamp(epoch) == Timestamp(seconds=0, nanos=0)
    before = epoch - dt.timedelta(microseconds=1)
    assert to_timestamp(before) == Timestamp(seconds=-1, nanos=999_999_000)
    naive = dt.datetime(2026, 5, 1, 12, 30)  # local time, as astimezone takes it
    assert to_timestamp(naive) == _reference(naive)
