"""Maintenance windows in a site's local time: when a station may next be updated.

A window opens at a local wall-clock time on chosen weekdays and lasts a number of minutes (it
may run past midnight), between an optional first and last local day. Imported passed-through by
the workflow: the sandbox proxies zoneinfo, which datetime then refuses; time zone rules are data,
the same on every replay."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

ALL_DAYS = frozenset(range(7))


@dataclass(frozen=True)
class MaintenanceWindow:
    """Open from `start` (local) for `minutes` on each of `weekdays` (0 = Monday) from
    `first_day` to `last_day` (local dates, both optional and inclusive: the day a window opens)."""

    start: time
    minutes: int
    weekdays: frozenset[int] = field(default=ALL_DAYS)
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class Opening:
    """One occurrence of a window, in UTC."""

    opens: datetime
    closes: datetime


def _occurrence(window: MaintenanceWindow, day: date, zone: zoneinfo.ZoneInfo) -> Opening | None:
    if day.weekday() not in window.weekdays:
        return None
    if window.first_day is not None and day < window.first_day:
        return None
    if window.last_day is not None and day > window.last_day:
        return None
    # A start inside a spring-forward gap resolves as zoneinfo does (fold=0: the offset before
    # the change), i.e. the first valid instant after it; the length is real elapsed time.
    opens = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
    return Opening(opens, opens + timedelta(minutes=window.minutes))


def next_opening(window: MaintenanceWindow, now: datetime, time_zone: str) -> Opening | None:
    """The occurrence open at `now` (as it is: opened in the past, closing in the future) or else
    the next one; None when the window never opens again (its last day is past)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if window.minutes <= 0 or not window.weekdays:
        return None
    zone = zoneinfo.ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    # An occurrence that started yesterday (or earlier, for windows longer than a day) may still
    # be open; a week ahead always holds the next one if there is one.
    back = window.minutes // (24 * 60) + 1
    for offset in range(-back, 8):
        day = today + timedelta(days=offset)
        if window.last_day is not None and day > window.last_day:
            return None
        occurrence = _occurrence(window, day, zone)
        if occurrence is not None and occurrence.closes > now:
            return occurrence
    if window.first_day is not None and window.first_day > today:
        # Nothing this week: the window has not started yet; look from its first day.
        start = datetime.combine(window.first_day, time(0), tzinfo=zone).astimezone(UTC)
        return next_opening(window, start, time_zone)
    return None


def is_open(window: MaintenanceWindow, now: datetime, time_zone: str) -> bool:
    """True when `now` falls inside an occurrence of the window."""
    opening = next_opening(window, now, time_zone)
    return opening is not None and opening.opens <= now < opening.closes
