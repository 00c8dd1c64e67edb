"""Months in an issuer's time zone, for the settlement workflow.

Lives outside the workflow module and is imported passed-through: the workflow sandbox proxies
zoneinfo, which datetime then refuses. Time zone rules are data: the same on every replay."""

from __future__ import annotations

import zoneinfo
from datetime import datetime


def previous_month(instant: datetime, time_zone: str) -> str:
    """The month ("YYYY-MM") before the one `instant` falls in, in `time_zone`: what a run
    started on the 1st settles."""
    local = instant.astimezone(zoneinfo.ZoneInfo(time_zone))
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year:04d}-{month:02d}"
