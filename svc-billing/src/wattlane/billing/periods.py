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
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from wattlane.billing.plans import UNKNOWN, Decision, Plan
from wattlane.billing.sessions import Readings
from wattlane.billing.wall_clock import marks


class Span:
    """One charging period as pricing sees it (µs, mWh, W)."""

    __slots__ = ("charging", "decision", "end", "energy", "max_power", "min_power", "start")

    def __init__(
        self,
        start: int,
        end: int,
        charging: bool,
        energy: int,
        min_power: int | Decimal | None,
        max_power: int | Decimal | None,
        decision: Decision,
    ) -> None:
        self.start, self.end, self.charging, self.energy = start, end, charging, energy
        self.min_power, self.max_power, self.decision = min_power, max_power, decision


def energy_at(times: Sequence[int], mwh: Sequence[int], instant: int) -> int:
    """The register (mWh) at an instant: linear between samples, held before and after them."""
    i = bisect_right(times, instant)
    if i == 0:
        return mwh[0] if mwh else 0
    if i == len(times):
        return mwh[-1]
    t0, e0 = times[i - 1], mwh[i - 1]
    return e0 + (mwh[i] - e0) * (instant - t0) // (times[i] - t0)


def energy_reaches(times: Sequence[int], mwh: Sequence[int], target: int) -> int | None:
    """The first instant the register reads at least `target` mWh (None: it never does)."""
    i = bisect_left(mwh, target)
    if i == len(mwh):
        return None
    if i == 0:
        return times[0]
    t0, e0 = times[i - 1], mwh[i - 1]
    # Ceiling division: at this µs the (floored) interpolation reads >= target, before it not.
    return t0 + -(-(target - e0) * (times[i] - t0) // (mwh[i] - e0))


def _band(
    thresholds: tuple[Decimal, ...], times: Sequence[int], values: Sequence[int | Decimal], at: int
) -> int:
    """The band of a held value at an instant (UNKNOWN before its first sample)."""
    i = bisect_right(times, at) - 1
    return UNKNOWN if i < 0 else bisect_right(thresholds, values[i])


def cut(plan: Plan, readings: Readings, zone: ZoneInfo, start: int, end: int) -> list[Span]:
    """The periods from `start` to `end` (µs; one empty period when end <= start)."""
    end = max(end, start)
    times, mwh = readings.energy_times, readings.energy_mwh
    at_start = energy_at(times, mwh, start)
    cuts = {start, end}

    if plan.local:
        local_instants, local_states = marks(zone, start, end, plan.minutes)
        cuts.update(local_instants)
    for threshold in plan.kwh:
        reached = energy_reaches(times, mwh, at_start + threshold) if threshold > 0 else None
        if reached is not None and start < reached < end:
            cuts.add(reached)
    for duration in plan.durations:
        if start < start + duration < end:
            cuts.add(start + duration)
    if plan.power or plan.current:
        held = (
            (plan.power, readings.power_times, readings.power_w),
            (plan.current, readings.current_times, readings.current_a),
        )
        for thresholds, sample_times, values in held:
            if thresholds:
                before = _band(thresholds, sample_times, values, start)
                for instant, value in zip(sample_times, values, strict=True):
                    if start < instant < end:
                        band = bisect_right(thresholds, value)
                        if band != before:
                            cuts.add(instant)
                        before = band
    status_times, charging = readings.status_times, readings.charging
    state = True
    for instant, value in zip(status_times, charging, strict=True):
        if start < instant < end and value != state:
            cuts.add(instant)
        state = value

    points = sorted(cuts)
    if len(points) == 1:
        points.append(end)
    readings_at = [energy_at(times, mwh, point) for point in points]
    power_times, power_w = readings.power_times, readings.power_w
    spans = []
    band = weekday = date_band = 0
    for k in range(len(points) - 1):
        s, e = points[k], points[k + 1]
        if plan.local:
            local = local_states[bisect_right(local_instants, s) - 1]
            band, weekday, date_band = local.band, local.weekday, bisect_right(plan.dates, local.ordinal)
        i = bisect_right(status_times, s) - 1
        is_charging = True if i < 0 else charging[i]
        key = (
            band,
            weekday,
            date_band,
            bisect_right(plan.kwh, readings_at[k] - at_start),
            bisect_right(plan.durations, s - start),
            _band(plan.power, power_times, power_w, s) if plan.power else 0,
            _band(plan.current, readings.current_times, readings.current_a, s) if plan.current else 0,
            is_charging,
        )
        decision = plan.decisions.get(key) or plan.decide(key)
        # Power in force during [s, e): the sample held at s and those before e.
        held_at = bisect_right(power_times, s) - 1
        powers = power_w[held_at if held_at > 0 else 0 : max(bisect_left(power_times, e), held_at + 1)]
        low, high = (min(powers), max(powers)) if powers else (None, None)
        spans.append(Span(s, e, is_charging, readings_at[k + 1] - readings_at[k], low, high, decision))
    return spans
