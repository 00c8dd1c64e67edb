"""A tariff compiled for pricing: its thresholds, each element's conditions, and decisions.

Every restriction is a condition on a value that moves during a session (the wall clock, kWh
since the start, seconds since the start, power, current). The plan keeps, per kind of value,
the sorted thresholds any element uses; a value's *band* is how many thresholds are at or below
it. Inside one band every element's condition on that value is settled, so "which component
prices ENERGY, TIME or PARKING_TIME and FLAT here" depends only on the bands (and on charging vs
parking): the plan decides it once per combination and remembers it.

Rules read from OCPI 2.2.1 and BILLING.md:
- every `min_*` is inclusive and every `max_*` exclusive; a restriction on power or current
  does not hold while the meter has not reported that value yet;
- a time window is `start_time` (inclusive) to `end_time` (exclusive) on the wall clock; with
  only one of them it runs from midnight or until midnight;
- a window that wraps past midnight (`end_time` before `start_time`, or equal to it: 24 hours)
  belongs to the day it *starts* on: FRIDAY 22:00-06:00 is Friday night, Friday 22:00 to
  Saturday 06:00. Read per calendar day it would be two unrelated pieces (Friday 00:00-06:00
  and Friday 22:00-24:00), which is not what anyone writing "Friday night" means, and the
  Saturday morning of Friday night would be priced as Saturday's;
- `start_date`/`end_date` are a validity period: they apply to the local date of each instant;
- an element with a `reservation` restriction prices reservations, never a charging session.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact
from typing import Any, TypeVar

from wattlane.billing.tariffs import MINUTES_PER_DAY, Dimension, Element, PriceComponent, Tariff, minutes_of

# Money is carried as integer numerators while it is summed, so a cost is one exact integer
# product (price * quantity) and every figure one Decimal division at the end. A numerator counts
# units of 1 / (3.6e9 * 10**scale) of the currency, `scale` being the decimals the tariff's
# prices need: ENERGY per mWh (price per kWh * 3600), TIME and PARKING_TIME per µs (price per
# hour), FLAT per session (price * 3.6e9).
UNITS = 3_600_000_000
# Exact arithmetic on the tariff's Decimals while compiling (Inexact would be a bug: it raises).
EXACT = Context(prec=80, traps=[Inexact])
ALL_DAYS = 0b1111111
UNKNOWN = -1  # the band of a power or current not yet reported
T = TypeVar("T", int, Decimal)


DIMENSIONS = tuple(Dimension)  # a Priced's `kind` indexes this (lists beat enum-keyed dicts)


@dataclass(frozen=True, slots=True, eq=False)
class Priced:
    """A price component of an element, with its step and money factors in pricing's units."""

    element: int
    component: PriceComponent
    kind: int  # DIMENSIONS.index(component.dimension)
    step: int  # mWh (ENERGY) or µs (TIME, PARKING_TIME); 1 for FLAT
    excl: int  # numerator per unit of quantity, excluding VAT
    incl: int | None  # including VAT; None: the component gives no VAT rate


@dataclass(frozen=True, slots=True)
class Decision:
    """Which components price a stretch of a session (None: that dimension is free there)."""

    energy: Priced | None
    time: Priced | None  # TIME while charging, PARKING_TIME while parking
    flat: Priced | None


@dataclass(frozen=True, slots=True)
class _Condition:
    """An element's restrictions as band ranges: lo <= band < hi."""

    local: tuple[int, ...]  # per time band: bit mask of the weekdays (of the date) it holds on
    dates: tuple[int, int]
    kwh: tuple[int, int]
    duration: tuple[int, int]
    power: tuple[int, int]
    power_needed: bool
    current: tuple[int, int]
    current_needed: bool
    reservation: bool


@dataclass(slots=True)
class Plan:
    """What `wattlane.billing.periods` and `pricing` need of a tariff, computed once."""

    tariff: Tariff
    minutes: tuple[int, ...]  # time band boundaries, minutes of day, from 0
    dates: tuple[int, ...]  # date thresholds (ordinals)
    kwh: tuple[int, ...]  # kWh thresholds in mWh
    durations: tuple[int, ...]  # duration thresholds in µs
    power: tuple[Decimal, ...]  # W
    current: tuple[Decimal, ...]  # A
    local: bool  # whether any element looks at the wall clock or the date
    conditions: tuple[_Condition, ...]
    components: tuple[dict[Dimension, Priced], ...]
    denominator: Decimal  # of the numerators: 3.6e9 * 10**scale
    decisions: dict[tuple[int, ...], Decision] = field(default_factory=dict)

    def decide(self, key: tuple[int, ...]) -> Decision:
        """The decision for the bands `(time, weekday, date, kwh, duration, power, current,
        charging)`."""
        decision = self.decisions.get(key)
        if decision is None:
            decision = self.decisions[key] = self._decide(key)
        return decision

    def _decide(self, key: tuple[int, ...]) -> Decision:
        band, weekday, date_band, kwh, duration, power, current, charging = key
        time_dimension = Dimension.TIME if charging else Dimension.PARKING_TIME
        chosen: dict[Dimension, Priced] = {}
        for condition, components in zip(self.conditions, self.components, strict=True):
            if (
                condition.reservation
                or not condition.local[band] >> weekday & 1
                or not condition.dates[0] <= date_band < condition.dates[1]
                or not condition.kwh[0] <= kwh < condition.kwh[1]
                or not condition.duration[0] <= duration < condition.duration[1]
                or (
                    condition.power_needed
                    and (power == UNKNOWN or not condition.power[0] <= power < condition.power[1])
                )
                or (
                    condition.current_needed
                    and (current == UNKNOWN or not condition.current[0] <= current < condition.current[1])
                )
            ):
                continue
            for dimension in (Dimension.ENERGY, time_dimension, Dimension.FLAT):
                if dimension not in chosen and dimension in components:
                    chosen[dimension] = components[dimension]
        return Decision(chosen.get(Dimension.ENERGY), chosen.get(time_dimension), chosen.get(Dimension.FLAT))


def compile_plan(tariff: Tariff) -> Plan:
    """Validate `tariff` (InvalidTariff) and compile it."""
    tariff.validate()
    restrictions = [element.restrictions for element in tariff.elements]
    minutes = _sorted_unique(
        [0]
        + [minutes_of(r.start_time) for r in restrictions if r.start_time is not None]
        + [
            m
            for r in restrictions
            if r.end_time is not None
            if (m := minutes_of(r.end_time, end=True)) < MINUTES_PER_DAY
        ]
    )
    dates = _sorted_unique(
        d.toordinal() for r in restrictions for d in (r.start_date, r.end_date) if d is not None
    )
    kwh = _sorted_unique(_mwh(v) for r in restrictions for v in (r.min_kwh, r.max_kwh) if v is not None)
    durations = _sorted_unique(
        v * 1_000_000 for r in restrictions for v in (r.min_duration, r.max_duration) if v is not None
    )
    power = _sorted_unique(
        v * 1000 for r in restrictions for v in (r.min_power, r.max_power) if v is not None
    )
    current = _sorted_unique(v for r in restrictions for v in (r.min_current, r.max_current) if v is not None)
    local = any(
        r.start_time is not None or r.end_time is not None or r.day_of_week or r.start_date or r.end_date
        for r in restrictions
    )
    conditions = tuple(
        _condition(element, minutes, dates, kwh, durations, power, current) for element in tariff.elements
    )
    factors = {
        (i, j): _factors(component)
        for i, element in enumerate(tariff.elements)
        for j, component in enumerate(element.price_components)
    }
    scale = max((_decimals(f) for pair in factors.values() for f in pair if f is not None), default=0)
    components = tuple(
        {
            c.dimension: _priced(i, c, *factors[i, j], scale)
            for j, c in reversed(list(enumerate(element.price_components)))
        }
        for i, element in enumerate(tariff.elements)
    )
    denominator = Decimal(UNITS).scaleb(scale)
    return Plan(
        tariff, minutes, dates, kwh, durations, power, current, local, conditions, components, denominator
    )


def _sorted_unique(values: Iterable[T]) -> tuple[T, ...]:
    return tuple(sorted(set(values)))


def _mwh(kwh: Decimal) -> int:
    """kWh as whole mWh (a threshold finer than 1 mWh rounds up to the next mWh)."""
    return math.ceil(kwh * 1_000_000)


def _band_range(thresholds: tuple[Any, ...], low: Any, high: Any) -> tuple[int, int]:
    """Bands where low <= value < high, bands counting thresholds at or below the value."""
    lo = 0 if low is None else bisect_right(thresholds, low)
    hi = len(thresholds) + 1 if high is None else bisect_right(thresholds, high)
    return lo, hi


def _condition(
    element: Element,
    minutes: tuple[int, ...],
    dates: tuple[int, ...],
    kwh: tuple[int, ...],
    durations: tuple[int, ...],
    power: tuple[Decimal, ...],
    current: tuple[Decimal, ...],
) -> _Condition:
    r = element.restrictions
    days = sum(1 << day for day in r.day_of_week) if r.day_of_week else ALL_DAYS
    previous_days = ((days << 1) | (days >> 6)) & ALL_DAYS  # a window started the day before
    start = None if r.start_time is None else minutes_of(r.start_time)
    end = None if r.end_time is None else minutes_of(r.end_time, end=True)
    if start is not None and end is not None and end <= start:
        # Wraps past midnight: the evening belongs to its day, the morning to the day before.
        local = [days if m >= start else previous_days if m < end else 0 for m in minutes]
    else:  # each band lies wholly inside or outside the window
        low, high = start or 0, MINUTES_PER_DAY if end is None else end
        local = [days if low <= m < high else 0 for m in minutes]
    return _Condition(
        local=tuple(local),
        dates=_band_range(
            dates,
            None if r.start_date is None else r.start_date.toordinal(),
            None if r.end_date is None else r.end_date.toordinal(),
        ),
        kwh=_band_range(
            kwh,
            None if r.min_kwh is None else _mwh(r.min_kwh),
            None if r.max_kwh is None else _mwh(r.max_kwh),
        ),
        duration=_band_range(
            durations,
            None if r.min_duration is None else r.min_duration * 1_000_000,
            None if r.max_duration is None else r.max_duration * 1_000_000,
        ),
        power=_band_range(
            power,
            None if r.min_power is None else r.min_power * 1000,
            None if r.max_power is None else r.max_power * 1000,
        ),
        power_needed=r.min_power is not None or r.max_power is not None,
        current=_band_range(current, r.min_current, r.max_current),
        current_needed=r.min_current is not None or r.max_current is not None,
        reservation=r.reservation is not None,
    )


def _decimals(value: Decimal) -> int:
    """Digits after the point (0 for a whole number)."""
    exponent = value.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _factors(component: PriceComponent) -> tuple[Decimal, Decimal | None]:
    """Money per unit of quantity (times 3.6e9), excluding and including VAT."""
    if component.dimension is Dimension.ENERGY:
        factor = EXACT.multiply(component.price, Decimal(3600))
    elif component.dimension is Dimension.FLAT:
        factor = EXACT.multiply(component.price, Decimal(UNITS))
    else:
        factor = component.price
    if component.vat is None:
        return factor, None
    return factor, EXACT.divide(EXACT.multiply(factor, EXACT.add(Decimal(100), component.vat)), Decimal(100))


def _priced(
    element: int, component: PriceComponent, excl: Decimal, incl: Decimal | None, scale: int
) -> Priced:
    if component.dimension is Dimension.ENERGY:
        step = component.step_size * 1000
    elif component.dimension is Dimension.FLAT:
        step = 1
    else:
        step = component.step_size * 1_000_000
    return Priced(
        element,
        component,
        DIMENSIONS.index(component.dimension),
        step,
        int(EXACT.scaleb(excl, scale)),
        None if incl is None else int(EXACT.scaleb(incl, scale)),
    )
