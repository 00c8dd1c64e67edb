"""Maintenance windows in a site's local time, across midnight, weekends and DST changes."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattlane.workflows.campaign.windows import MaintenanceWindow, Opening, is_open, next_opening

AMS = "Europe/Amsterdam"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_next_night_window_in_local_time() -> None:
    window = MaintenanceWindow(start=time(2, 0), minutes=180)
    # 2026-12-07 12:00 UTC is 13:00 in Amsterdam (CET, UTC+1): next opening 02:00 local = 01:00 UTC.
    assert next_opening(window, utc(2026, 12, 7, 12), AMS) == Opening(
        utc(2026, 12, 8, 1), utc(2026, 12, 8, 4)
    )


def test_an_open_window_is_returned_as_it_is() -> None:
    window = MaintenanceWindow(start=time(2, 0), minutes=180)
    opening = next_opening(window, utc(2026, 12, 8, 2), AMS)
    assert opening == Opening(utc(2026, 12, 8, 1), utc(2026, 12, 8, 4))
    assert is_open(window, utc(2026, 12, 8, 2), AMS)
    assert not is_open(window, utc(2026, 12, 8, 4), AMS)


def test_a_window_across_midnight_opened_yesterday_is_still_open() -> None:
    window = MaintenanceWindow(start=time(22, 0), minutes=6 * 60, weekdays=frozenset({0}))  # Monday
    # Tuesday 2026-12-08 02:00 local (01:00 UTC): Monday's window, open until 04:00 local.
    opening = next_opening(window, utc(2026, 12, 8, 1), AMS)
    assert opening == Opening(utc(2026, 12, 7, 21), utc(2026, 12, 8, 3))


def test_weekdays_skip_to_the_weekend() -> None:
    window = MaintenanceWindow(start=time(3, 0), minutes=60, weekdays=frozenset({5, 6}))
    opening = next_opening(window, utc(2026, 12, 7, 12), AMS)  # a Monday
    assert opening is not None and opening.opens == utc(2026, 12, 12, 2)  # Saturday 03:00 CET


def test_dst_changes_move_the_utc_instant_not_the_local_time() -> None:
    window = MaintenanceWindow(start=time(4, 0), minutes=60)
    before = next_opening(window, utc(2026, 3, 28, 12), AMS)  # Sunday 29 March: CET → CEST
    assert before is not None and before.opens == utc(2026, 3, 29, 2)  # 04:00 CEST
    winter = next_opening(window, utc(2026, 3, 27, 12), AMS)
    assert winter is not None and winter.opens == utc(2026, 3, 28, 3)  # 04:00 CET


def test_a_start_in_the_spring_forward_gap_opens_at_the_first_valid_instant() -> None:
    window = MaintenanceWindow(start=time(2, 30), minutes=60)
    opening = next_opening(window, utc(2026, 3, 28, 12), AMS)
    assert opening is not None and opening.opens == utc(2026, 3, 29, 1, 30)  # 03:30 CEST


def test_windows_between_days_and_a_past_window() -> None:
    window = MaintenanceWindow(
        start=time(1, 0), minutes=60, first_day=date(2027, 1, 20), last_day=date(2027, 1, 21)
    )
    opening = next_opening(window, utc(2026, 12, 7), AMS)
    assert opening is not None and opening.opens == utc(2027, 1, 20, 0)
    assert next_opening(window, utc(2027, 1, 21, 12), AMS) is None


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(MaintenanceWindow(start=time(1), minutes=1), datetime(2026, 1, 1), AMS)


ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
windows_st = st.builds(
    MaintenanceWindow,
    start=st.times(),
    minutes=st.integers(1, 3 * 24 * 60),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
)
instants_st = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(windows_st, instants_st, st.sampled_from(ZONES))
def test_the_next_opening_is_open_or_in_the_future(
    window: MaintenanceWindow, now: datetime, zone: str
) -> None:
    opening = next_opening(window, now, zone)
    assert opening is not None, "a recurring window without days bounds always opens again"
    assert opening.closes > now
    assert opening.opens <= now + timedelta(days=8)
    # It opens on one of its weekdays, at its local start (or just after a DST gap).
    local = opening.opens.astimezone(zoneinfo.ZoneInfo(zone))
    assert local.weekday() in window.weekdays or (local - timedelta(hours=3)).weekday() in window.weekdays


@given(windows_st, instants_st, st.sampled_from(ZONES), st.floats(0, 1))
def test_nothing_opens_between_now_and_the_next_opening(
    window: MaintenanceWindow, now: datetime, zone: str, fraction: float
) -> None:
    opening = next_opening(window, now, zone)
    assert opening is not None
    if opening.opens > now:
        between = now + (opening.opens - now) * fraction
        if between < opening.opens:
            assert not is_open(window, between, zone)
            assert next_opening(window, between, zone) == opening
