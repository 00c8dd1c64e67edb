"""UTC time in the shape OCPP wants it (the clock itself is core's: `wattlane.core.clock`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

# (second, "YYYY-MM-DDTHH:MM:SS") of the last formatted second: Heartbeat replies are on the hot
# path, and formatting a datetime costs more than the rest of the reply.
_last_second: tuple[int, str] = (-1, "")


def ocpp_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ocpp_now() -> str:
    """The current time formatted like `ocpp_time(utcnow())`, cached per second."""
    global _last_second
    now = time.time()
    second = int(now)
    if second != _last_second[0]:
        _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_last_second[1]}.{int((now - second) * 1000):03d}Z"


def parse_ocpp_time(value: object, default: datetime) -> datetime:
    """Parse an OCPP timestamp (already schema-checked as date-time); `default` when it fails."""
    if not isinstance(value, str):
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return default
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
