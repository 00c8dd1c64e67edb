"""Calendar arithmetic in a customer's time zone, for the renewal workflow.

Lives outside the workflow module and is imported passed-through: the workflow sandbox proxies
zoneinfo, which datetime then refuses. Time zone rules are data: the same on every replay."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time


def local_date(instant: datetime, time_zone: str) -> date:
    """The calendar date of an instant in a time zone."""
    return instant.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def local_instant(day: date, at: time, time_zone: str) -> datetime:
    """The UTC instant of a local wall-clock time on a day."""
    return datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(time_zone)).astimezone(UTC)
