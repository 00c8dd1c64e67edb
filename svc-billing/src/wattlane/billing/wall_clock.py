"""Where a time zone's wall clock crosses given times of day, in real (UTC) time.

A local-time restriction can only switch on or off where the wall clock reads one of its
boundary times or jumps (a DST switch). On a day of 23 hours the skipped times are never read
(the switch itself is the boundary); on a day of 25 hours the repeated ones are read twice, and
both instants are boundaries. Midnight is always a boundary (dates and days of the week change
there). The marks of a day depend only on the zone, the date and the boundary times, so they
are computed once and cached."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from wattlane.billing.sessions import from_micros, to_micros

_HOUR = 3600
_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Local:
    """The wall clock from a mark until the next: its time band (index into the sorted boundary
    minutes, `minutes[band] <= minute of day < minutes[band + 1]`), weekday and date."""

    band: int
    weekday: int
    ordinal: int


def local_at(zone: ZoneInfo, micros: int, minutes: tuple[int, ...]) -> Local:
    """The wall clock at an instant, as a `Local` for the boundary `minutes` (sorted, from 0)."""
    wall = from_micros(micros).astimezone(zone)
    return Local(bisect_right(minutes, wall.hour * 60 + wall.minute) - 1, wall.weekday(), wall.toordinal())


_DAY = 86_400_000_000  # µs


def marks(zone: ZoneInfo, start: int, end: int, minutes: tuple[int, ...]) -> tuple[list[int], list[Local]]:
    """Instants (µs) from `start` to before `end` where the wall clock may change band, day or
    date, the first being `start` itself, each with the wall clock from it on."""
    day = start // _DAY
    at_day_start, day_instants, day_states = _marks_of_utc_day(zone, day, minutes)
    i = bisect_right(day_instants, start)
    instants, states = [start], [day_states[i - 1] if i else at_day_start]
    while True:
        for k in range(i, len(day_instants)):
            if day_instants[k] >= end:
                return instants, states
            instants.append(day_instants[k])
            states.append(day_states[k])
        day += 1
        if day * _DAY >= end:
            return instants, states
        _, day_instants, day_states = _marks_of_utc_day(zone, day, minutes)
        i = 0


@lru_cache(maxsize=16384)
def _marks_of_utc_day(
    zone: ZoneInfo, day: int, minutes: tuple[int, ...]
) -> tuple[Local, tuple[int, ...], tuple[Local, ...]]:
    """The wall clock at the start of UTC day `day` and the marks inside that day (a UTC day
    overlaps at most three local dates)."""
    low, high = day * _DAY, (day + 1) * _DAY
    first = local_at(zone, low, minutes)
    instants, states = [], []
    for ordinal in (first.ordinal - 1, first.ordinal, first.ordinal + 1):
        for instant, state in zip(*_marks_of_day(zone, ordinal, minutes), strict=True):
            if low <= instant < high:
                instants.append(instant)
                states.append(state)
    order = sorted(range(len(instants)), key=instants.__getitem__)
    return first, tuple(instants[k] for k in order), tuple(states[k] for k in order)


@lru_cache(maxsize=16384)
def _marks_of_day(
    zone: ZoneInfo, ordinal: int, minutes: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[Local, ...]]:
    """The marks whose wall clock is on local date `ordinal`: each boundary time read that day
    (once, twice or never) and each DST switch landing on it, in time order."""
    day = date.fromordinal(ordinal)
    found: set[int] = set()
    for minute in minutes:
        for fold in (0, 1):
            wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone, fold=fold)
            instant = to_micros(wall)
            back = from_micros(instant).astimezone(zone)
            if back.toordinal() == ordinal and back.hour * 60 + back.minute == minute and back.second == 0:
                found.add(instant)
    for switch in _switches_near(zone, day):
        if from_micros(switch).astimezone(zone).toordinal() == ordinal:
            found.add(switch)
    instants = tuple(sorted(found))
    return instants, tuple(local_at(zone, instant, minutes) for instant in instants)


def _switches_near(zone: ZoneInfo, day: date) -> list[int]:
    """Instants (µs) where the zone's UTC offset changes, from 3 h before the day's local
    midnight to 3 h after the next (whole seconds, as the tz database has them)."""
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
    low, high = midnight - 3 * _HOUR, midnight + 27 * _HOUR

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(zone).utcoffset()

    switches = []
    before = offset(low)
    for hour_start in range(low, high, _HOUR):
        after = offset(hour_start + _HOUR)
        if after != before:
            lo, hi = hour_start, hour_start + _HOUR  # offset(lo) == before, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == before:
                    lo = mid
                else:
                    hi = mid
            switches.append(hi * _MICROS)
        before = after
    return switches
