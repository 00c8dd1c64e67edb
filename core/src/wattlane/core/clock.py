"""The one clock services read: timezone-aware UTC. Calendar dates are the tenant's and come
from `to_local_date`, never from a UTC timestamp's `.date()`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def to_local_date(moment: dt.datetime, time_zone: str) -> dt.date:
    """The calendar date of `moment` in `time_zone` (an IANA name)."""
    return moment.astimezone(ZoneInfo(time_zone)).date()
