"""Cutting a session into charging periods at every point where a price can change.

The cuts: the wall clock crossing a boundary time of the tariff or a midnight, and DST switches
(`wattlane.billing.wall_clock`); the instant the energy since the start reaches a kWh threshold
(interpolated between register samples, to the microsecond); the instant the duration reaches a
threshold; a power or current sample that moves the value across a threshold; the vehicle
switching between charging and parking. Inside a period nothing a restriction looks at changes
band, so one decision (`Plan.decide`) holds for all of it.

Instants are integer microseconds since the epoch and energy integer mWh, so splitting never
loses or invents a unit: a period's energy is the register at its end minus at its start, and
the periods' energies add up to the session's exactly."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from wattlane.billing.plans import UNKNOWN, Decision, Plan
from wattlane.billing.sessions import Session, to_micros
from wattlane.billing.wall_clock import Local, marks


@dataclass(slots=True)
class Span:
    """One charging period as pricing sees it (µs, mWh, W)."""

    start: int
    end: int
    charging: bool
    energy: int
    min_power: int | Decimal | None
    max_power: int | Decimal | None
    decision: Decision


class Register:
    """The energy register in mWh at any instant: linear between samples, held outside them."""

    __slots__ = ("mwh", "times")

    def __init__(self, session: Session) -> None:
        self.times = [to_micros(sample.at) for sample in session.energy]
        self.mwh = [sample.wh * 1000 for sample in session.energy]

    def at(self, instant: int) -> int:
        i = bisect_right(self.times, instant)
        if i == 0:
            return self.mwh[0] if self.mwh else 0
        if i == len(self.times):
            return self.mwh[-1]
        t0, t1, e0 = self.times[i - 1], self.times[i], self.mwh[i - 1]
        return e0 + (self.mwh[i] - e0) * (instant - t0) // (t1 - t0)

    def reaches(self, target: int) -> int | None:
        """The first instant the register reads at least `target` mWh (None: it never does)."""
        i = bisect_left(self.mwh, target)
        if i == len(self.mwh):
            return None
        if i == 0:
            return self.times[0]
        t0, t1, e0 = self.times[i - 1], self.times[i], self.mwh[i - 1]
        # Ceiling division: at this µs the (floored) interpolation reads >= target, before it not.
        return t0 + -(-(target - e0) * (t1 - t0) // (self.mwh[i] - e0))


class _Held:
    """A series of held values (power, current or status): the value at any instant."""

    __slots__ = ("times", "values")

    def __init__(self, times: list[int], values: list[Any]) -> None:
        self.times, self.values = times, values

    def index(self, instant: int) -> int:
        """Index of the sample in force at `instant` (-1: none yet)."""
        return bisect_right(self.times, instant) - 1


def _band(thresholds: tuple[Decimal, ...], held: _Held, instant: int) -> int:
    i = held.index(instant)
    return UNKNOWN if i < 0 else bisect_right(thresholds, held.values[i])


def cut(plan: Plan, session: Session, zone: ZoneInfo, start: int, end: int) -> list[Span]:
    """The periods of `session` from `start` to `end` (µs; one empty period when end <= start)."""
    end = max(end, start)
    register = Register(session)
    at_start = register.at(start)
    cuts = {start, end}

    local_instants: list[int] = []
    local_states: list[Local] = []
    if plan.local:
        local_instants, local_states = marks(zone, start, end, plan.minutes)
        cuts.update(local_instants)
    for threshold in plan.kwh:
        reached = register.reaches(at_start + threshold) if threshold > 0 else None
        if reached is not None and start < reached < end:
            cuts.add(reached)
    for duration in plan.durations:
        if start < start + duration < end:
            cuts.add(start + duration)

    power = _Held([to_micros(s.at) for s in session.power], [s.w for s in session.power])
    current = _Held([to_micros(s.at) for s in session.current], [s.a for s in session.current])
    status = _Held([to_micros(s.at) for s in session.status], [s.charging for s in session.status])
    for held, thresholds in ((power, plan.power), (current, plan.current)):
        if thresholds:
            before = _band(thresholds, held, start)
            for instant, value in zip(held.times, held.values, strict=True):
                if start < instant < end:
                    band = bisect_right(thresholds, value)
                    if band != before:
                        cuts.add(instant)
                    before = band
    charging = True
    for instant, value in zip(status.times, status.values, strict=True):
        if start < instant < end and value != charging:
            cuts.add(instant)
        charging = bool(value)

    points = sorted(cuts)
    if len(points) == 1:
        points.append(end)
    readings = [register.at(point) for point in points]
    spans = []
    for k in range(len(points) - 1):
        s, e = points[k], points[k + 1]
        if plan.local:
            state = local_states[bisect_right(local_instants, s) - 1]
            band, weekday, date_band = state.band, state.weekday, bisect_right(plan.dates, state.ordinal)
        else:
            band = weekday = date_band = 0
        i = status.index(s)
        is_charging = True if i < 0 else bool(status.values[i])
        key = (
            band,
            weekday,
            date_band,
            bisect_right(plan.kwh, readings[k] - at_start),
            bisect_right(plan.durations, s - start),
            _band(plan.power, power, s) if plan.power else 0,
            _band(plan.current, current, s) if plan.current else 0,
            is_charging,
        )
        low, high = _extremes(power, s, e)
        spans.append(Span(s, e, is_charging, readings[k + 1] - readings[k], low, high, plan.decide(key)))
    return spans


def _extremes(power: _Held, start: int, end: int) -> tuple[Any, Any]:
    """Lowest and highest power in force from `start` to before `end` (None: none reported)."""
    held = power.index(start)
    values = power.values[max(held, 0) : max(bisect_left(power.times, end), held + 1)]
    return (min(values), max(values)) if values else (None, None)
