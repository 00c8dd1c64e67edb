"""The one pricing function: running cost, final cost and the charge record's figures.

`price(tariff, session, time_zone)` follows BILLING.md:
1. the session is cut into charging periods wherever a price can change (`periods`);
2. per period and dimension, the first element whose restrictions hold and that has a component
   for the dimension prices it; none: that dimension is free there;
3. FLAT is charged once: by the component that prices FLAT in the first period that has one;
4. step_size rounds up once per session, the ENERGY total, the TIME total and the PARKING_TIME
   total separately (not per period, not at element switches): the priced quantity of the
   dimension is rounded up to the step of the component pricing its last priced period, and the
   difference is billed on that period at that component's price. Stretches no element prices
   are free and not rounded (OCPI's "switching to Free-of-Charge Tariff Element");
5. `min_price`/`max_price` clamp the total excluding VAT and the total including VAT each by
   its own bound (OCPI 2.2.1);
6. money stays an exact Decimal (no rounding to minor units). A total is computed as one exact
   sum of price * quantity products over a common denominator and divided once, so it is exact
   whenever it has a finite decimal expansion of up to 34 digits (per-hour prices over seconds
   may not: those are rounded half-even at the 34th significant digit, once).

A cost including VAT is None when a non-zero amount has no VAT rate (OCPI: an absent VAT is not
0%, and "it is not possible to calculate total costs including VAT")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from zoneinfo import ZoneInfo

from wattlane.billing.errors import InvalidSession, Violation
from wattlane.billing.periods import Span, cut
from wattlane.billing.plans import DENOMINATOR, EXACT, Plan, Priced, compile_plan
from wattlane.billing.sessions import Session, from_micros, to_micros
from wattlane.billing.tariffs import Dimension, Tariff

QUOTIENT = Context(prec=34)
ZERO = Decimal(0)
_MILLI = Decimal("0.001")
_MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Cost:
    """An amount excluding VAT and including it (None: a non-zero part has no VAT rate)."""

    excl_vat: Decimal
    incl_vat: Decimal | None


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """A stretch of the session in which every price stays the same (OCPI CDR charging period).

    `billed_*` is what the period's component bills: the measured quantity if a component
    prices it (0 if that dimension is free here), plus on the last priced period of a dimension
    the step-rounding difference."""

    start: datetime
    end: datetime
    charging: bool  # False: connected, not charging (parking)
    energy_wh: Decimal
    charging_s: Decimal
    parking_s: Decimal
    min_power_w: int | Decimal | None  # None: no power reported in the period
    max_power_w: int | Decimal | None
    energy_element: int | None  # index of the element pricing ENERGY here
    time_element: int | None  # of the element pricing TIME (charging) or PARKING_TIME (parking)
    billed_energy_wh: Decimal
    billed_time_s: Decimal


@dataclass(frozen=True, slots=True)
class PricedLine:
    """What one price component bills for the whole session (the unit of an invoice line)."""

    dimension: Dimension
    element: int
    price: Decimal  # per kWh, hour or session, excluding VAT
    vat: Decimal | None  # percent; None: the tariff gives none
    quantity: Decimal  # billed: Wh (ENERGY), seconds (TIME, PARKING_TIME), 1 (FLAT)
    cost: Cost


@dataclass(frozen=True, slots=True)
class DimensionTotal:
    """One dimension over the session: measured, billed (priced and step-rounded), cost."""

    quantity: Decimal  # Wh, seconds, or 1/0 sessions for FLAT
    billed: Decimal
    cost: Cost


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A session priced from its start to `end` (the stop, or `until` while it is going)."""

    currency: str
    start: datetime
    end: datetime
    final: bool  # priced to the stop (False: a running cost)
    periods: tuple[ChargingPeriod, ...]
    lines: tuple[PricedLine, ...]
    energy: DimensionTotal
    time: DimensionTotal
    parking_time: DimensionTotal
    flat: DimensionTotal
    subtotal: Cost  # the lines added up
    total: Cost  # the subtotal within min_price / max_price
    limited_by: str | None  # "min_price" or "max_price" when a limit changed the total


_plans: dict[int, tuple[Tariff, Plan]] = {}


def plan_of(tariff: Tariff) -> Plan:
    """The tariff validated and compiled, once per tariff object (InvalidTariff)."""
    entry = _plans.get(id(tariff))
    if entry is not None and entry[0] is tariff:
        return entry[1]
    plan = compile_plan(tariff)
    if len(_plans) >= 1024:
        _plans.clear()
    _plans[id(tariff)] = (tariff, plan)
    return plan


def price(
    tariff: Tariff, session: Session, time_zone: ZoneInfo | str, *, until: datetime | None = None
) -> PricedSession:
    """Price `session` with `tariff` in the location's IANA `time_zone`.

    `until` prices a session still going up to that instant (its running cost); past the stop,
    or without it, the session is priced to its stop. Raises InvalidTariff / InvalidSession."""
    plan = plan_of(tariff)
    zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
    start = to_micros(session.start)
    stop = None if session.stop is None else to_micros(session.stop)
    if until is not None:
        if until.utcoffset() is None:
            raise InvalidSession([Violation("until", "must be timezone-aware")])
        end = to_micros(until) if stop is None else min(to_micros(until), stop)
    elif stop is not None:
        end = stop
    else:
        raise InvalidSession([Violation("stop", "a session still going is priced with `until`")])
    spans = cut(plan, session, zone, start, end)
    return _priced(plan, spans, final=stop is not None and end == stop)


class _Tally:
    """A dimension's priced quantity so far, its last priced period and that one's component."""

    __slots__ = ("last", "priced", "quantity")

    def __init__(self) -> None:
        self.quantity, self.last = 0, -1
        self.priced: Priced | None = None

    def add(self, index: int, priced: Priced, quantity: int) -> None:
        self.quantity += quantity
        self.last, self.priced = index, priced

    def round_up(self, quantities: dict[Priced, int]) -> int:
        """Round the priced total up to the step of the last component, which bills the
        difference; returns the difference."""
        if self.priced is None:
            return 0
        step = self.priced.step
        difference = -(-self.quantity // step) * step - self.quantity
        quantities[self.priced] += difference
        self.quantity += difference
        return difference


def _priced(plan: Plan, spans: list[Span], *, final: bool) -> PricedSession:
    quantities: dict[Priced, int] = {}
    energy, time, parking = _Tally(), _Tally(), _Tally()
    flat: Priced | None = None
    measured_energy = measured_time = measured_parking = 0
    for k, span in enumerate(spans):
        decision = span.decision
        duration = span.end - span.start
        measured_energy += span.energy
        if span.charging:
            measured_time += duration
        else:
            measured_parking += duration
        if decision.energy is not None:
            quantities[decision.energy] = quantities.get(decision.energy, 0) + span.energy
            energy.add(k, decision.energy, span.energy)
        if decision.time is not None:
            quantities[decision.time] = quantities.get(decision.time, 0) + duration
            (time if span.charging else parking).add(k, decision.time, duration)
        if flat is None and decision.flat is not None:
            flat = decision.flat
    extras = (energy.round_up(quantities), time.round_up(quantities), parking.round_up(quantities))
    if flat is not None:
        quantities[flat] = 1

    periods = _periods(spans, (energy.last, time.last, parking.last), extras)
    lines = []
    excl_sums = dict.fromkeys(Dimension, ZERO)
    incl_sums: dict[Dimension, Decimal | None] = dict.fromkeys(Dimension, ZERO)
    for priced, quantity in quantities.items():
        dimension = priced.component.dimension
        excl = EXACT.multiply(priced.excl_factor, Decimal(quantity))
        if priced.incl_factor is not None:
            incl: Decimal | None = EXACT.multiply(priced.incl_factor, Decimal(quantity))
        else:
            incl = ZERO if excl == 0 else None
        lines.append(
            PricedLine(
                dimension,
                priced.element,
                priced.component.price,
                priced.component.vat,
                _quantity(dimension, quantity),
                _cost(excl, incl),
            )
        )
        excl_sums[dimension] = EXACT.add(excl_sums[dimension], excl)
        incl_sums[dimension] = _add(incl_sums[dimension], incl)

    def total(dimension: Dimension, measured: int, billed: int) -> DimensionTotal:
        return DimensionTotal(
            _quantity(dimension, measured),
            _quantity(dimension, billed),
            _cost(excl_sums[dimension], incl_sums[dimension]),
        )

    sum_excl: Decimal = ZERO
    sum_incl: Decimal | None = ZERO
    for dimension in Dimension:
        sum_excl = EXACT.add(sum_excl, excl_sums[dimension])
        sum_incl = _add(sum_incl, incl_sums[dimension])
    subtotal = _cost(sum_excl, sum_incl)
    limited, limited_by = _limit(plan, subtotal)
    charged = 1 if flat is not None else 0
    return PricedSession(
        currency=plan.tariff.currency,
        start=periods[0].start,
        end=periods[-1].end,
        final=final,
        periods=periods,
        lines=tuple(lines),
        energy=total(Dimension.ENERGY, measured_energy, energy.quantity),
        time=total(Dimension.TIME, measured_time, time.quantity),
        parking_time=total(Dimension.PARKING_TIME, measured_parking, parking.quantity),
        flat=total(Dimension.FLAT, charged, charged),
        subtotal=subtotal,
        total=limited,
        limited_by=limited_by,
    )


def _add(total: Decimal | None, amount: Decimal | None) -> Decimal | None:
    return None if total is None or amount is None else EXACT.add(total, amount)


def _cost(excl: Decimal, incl: Decimal | None) -> Cost:
    return Cost(_money(excl), None if incl is None else _money(incl))


def _periods(
    spans: list[Span], lasts: tuple[int, int, int], extras: tuple[int, int, int]
) -> tuple[ChargingPeriod, ...]:
    last_energy, last_time, last_parking = lasts
    extra_energy, extra_time, extra_parking = extras
    instants = [from_micros(span.start) for span in spans]
    instants.append(from_micros(spans[-1].end))
    periods = []
    for k, span in enumerate(spans):
        decision = span.decision
        duration = span.end - span.start
        billed_energy = span.energy if decision.energy is not None else 0
        billed_time = duration if decision.time is not None else 0
        if k == last_energy:
            billed_energy += extra_energy
        if span.charging and k == last_time:
            billed_time += extra_time
        elif not span.charging and k == last_parking:
            billed_time += extra_parking
        seconds = Decimal(duration) * _MICRO
        periods.append(
            ChargingPeriod(
                start=instants[k],
                end=instants[k + 1],
                charging=span.charging,
                energy_wh=Decimal(span.energy) * _MILLI,
                charging_s=seconds if span.charging else ZERO,
                parking_s=ZERO if span.charging else seconds,
                min_power_w=span.min_power,
                max_power_w=span.max_power,
                energy_element=None if decision.energy is None else decision.energy.element,
                time_element=None if decision.time is None else decision.time.element,
                billed_energy_wh=Decimal(billed_energy) * _MILLI,
                billed_time_s=Decimal(billed_time) * _MICRO,
            )
        )
    return tuple(periods)


def _quantity(dimension: Dimension, quantity: int) -> Decimal:
    """Pricing's units as the result's: mWh → Wh, µs → s."""
    if dimension is Dimension.ENERGY:
        return EXACT.multiply(Decimal(quantity), _MILLI)
    if dimension is Dimension.FLAT:
        return Decimal(quantity)
    return EXACT.multiply(Decimal(quantity), _MICRO)


def _money(numerator: Decimal) -> Decimal:
    return QUOTIENT.divide(numerator, DENOMINATOR)


def _limit(plan: Plan, subtotal: Cost) -> tuple[Cost, str | None]:
    """The subtotal within the tariff's min/max price, each of excl./incl. VAT by its own bound.
    When a bound has no incl_vat and clamps the excl. VAT total, the total incl. VAT is unknown."""
    excl, incl = subtotal.excl_vat, subtotal.incl_vat
    limited_by = None
    low, high = plan.tariff.min_price, plan.tariff.max_price
    for name, bound, sign in (("min_price", low, -1), ("max_price", high, 1)):
        if bound is None:
            continue
        if excl.compare(bound.excl_vat) == sign:
            excl, limited_by = bound.excl_vat, name
            if bound.incl_vat is None:
                incl = None
        if incl is not None and bound.incl_vat is not None and incl.compare(bound.incl_vat) == sign:
            incl, limited_by = bound.incl_vat, name
    return Cost(excl, incl), limited_by
