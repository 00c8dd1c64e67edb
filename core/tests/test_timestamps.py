"""timestamps: aware datetimes to protobuf Timestamps and back, always UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.core.errors import InvalidArgument
from wattlane.core.timestamps import from_timestamp, instant, optional_instant, to_timestamp


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


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (Timestamp(seconds=253_402_300_800), "is outside the years 1 to 9999"),  # 10000-01-01
        (Timestamp(seconds=-62_135_596_801), "is outside the years 1 to 9999"),  # before 0001
        (Timestamp(seconds=2**62), "is outside the years 1 to 9999"),
        (Timestamp(seconds=0, nanos=-1), "has nanos outside 0..999999999"),
    ],
)
def test_a_request_instant_out_of_range_names_the_field(value: Timestamp, problem: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        instant(value, "card.valid_to")
    assert [(v.field, v.description) for v in raised.value.violations] == [("card.valid_to", problem)]


def test_request_instants_at_the_edges_and_unset() -> None:
    assert instant(Timestamp(seconds=253_402_300_799), "t") == dt.datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC
    )
    assert instant(Timestamp(seconds=-62_135_596_800), "t") == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert optional_instant(_Holder(), "time", "time") is None


class _Holder:
    """A message whose `time` is unset."""

    def HasField(self, name: str) -> bool:
        return False
