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
0%, and "it is not possible to calculate total costs including VAT").

The results are immutable records (named tuples: a frozen dataclass pays for every field set
through `object.__setattr__`, several times the price of the whole Decimal arithmetic here)."""

from __future__ import annotations

from datetime import datetime
from decimal import Context, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from wattlane.billing.errors import InvalidSession, Violation
from wattlane.billing.periods import Span, cut
from wattlane.billing.plans import DIMENSIONS, Plan, Priced, compile_plan
from wattlane.billing.sessions import Session, from_micros, to_micros
from wattlane.billing.tariffs import Dimension, Tariff

QUOTIENT = Context(prec=34)
ZERO = Decimal(0)
_ONE = Decimal(1)


class Cost(NamedTuple):
    """An amount excluding VAT and including it (None: a non-zero part has no VAT rate)."""

    excl_vat: Decimal
    incl_vat: Decimal | None


class ChargingPeriod(NamedTuple):
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


class PricedLine(NamedTuple):
    """What one price component bills for the whole session (the unit of an invoice line)."""

    dimension: Dimension
    element: int
    price: Decimal  # per kWh, hour or session, excluding VAT
    vat: Decimal | None  # percent; None: the tariff gives none
    quantity: Decimal  # billed: Wh (ENERGY), seconds (TIME, PARKING_TIME), 1 (FLAT)
    cost: Cost


class DimensionTotal(NamedTuple):
    """One dimension over the session: measured, billed (priced and step-rounded), cost."""

    quantity: Decimal  # Wh, seconds, or 1/0 sessions for FLAT
    billed: Decimal
    cost: Cost


class PricedSession(NamedTuple):
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


# The records are built with tuple.__new__: a named tuple's own __new__ is a Python function,
# and at 20,000 sessions a second the dozen records of each would cost a tenth of pricing.
_record = tuple.__new__

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
    readings = session.readings
    start, stop = readings.start, readings.stop
    if until is not None:
        if until.utcoffset() is None:
            raise InvalidSession([Violation("until", "must be timezone-aware")])
        end = to_micros(until) if stop is None else min(to_micros(until), stop)
    elif stop is not None:
        end = stop
    else:
        raise InvalidSession([Violation("stop", "a session still going is priced with `until`")])
    spans = cut(plan, readings, zone, start, end)
    result = _priced(plan, spans, session, final=stop is not None and end == stop)
    return result


_ENERGY, _FLAT, _TIME, _PARKING = (DIMENSIONS.index(d) for d in DIMENSIONS)
_EXPONENTS = (-3, 0, -6, -6)  # per kind: pricing's unit (mWh, µs) to the result's (Wh, s)


def _priced(plan: Plan, spans: list[Span], session: Session, *, final: bool) -> PricedSession:
    quantities: dict[Priced, int] = {}  # per component: billed quantity (mWh, µs, 1)
    measured = [0, 0, 0, 0]  # per kind (DIMENSIONS)
    billed = [0, 0, 0, 0]  # priced, then step-rounded
    last = [-1, -1, -1, -1]  # index of the last priced period
    lasts: list[Priced | None] = [None, None, None, None]  # and its component
    flat: Priced | None = None
    for k, span in enumerate(spans):
        decision = span.decision
        duration = span.end - span.start
        kind = _TIME if span.charging else _PARKING
        measured[_ENERGY] += span.energy
        measured[kind] += duration
        priced = decision.energy
        if priced is not None:
            quantities[priced] = quantities.get(priced, 0) + span.energy
            billed[_ENERGY] += span.energy
            last[_ENERGY], lasts[_ENERGY] = k, priced
        priced = decision.time
        if priced is not None:
            quantities[priced] = quantities.get(priced, 0) + duration
            billed[kind] += duration
            last[kind], lasts[kind] = k, priced
        if flat is None and decision.flat is not None:
            flat = decision.flat
    extra = [0, 0, 0, 0]
    for kind in (_ENERGY, _TIME, _PARKING):  # round up once per session, on the last component
        priced = lasts[kind]
        if priced is not None:
            step, total = priced.step, billed[kind]
            extra[kind] = -(-total // step) * step - total
            quantities[priced] += extra[kind]
            billed[kind] += extra[kind]
    if flat is not None:
        quantities[flat] = measured[_FLAT] = billed[_FLAT] = 1

    lines = []
    # Per kind: the numerators (excl., incl.) of its lines, and the cost and billed quantity of
    # its line when it has one (reused as the kind's total: Decimal conversions are the cost).
    numerators: list[list[tuple[int, int | None]]] = [[], [], [], []]
    costs: list[Cost] = [_NO_COST, _NO_COST, _NO_COST, _NO_COST]
    settled: list[Decimal | None] = [None, None, None, None]
    denominator = plan.denominator
    for priced, quantity in quantities.items():
        kind = priced.kind
        excl = priced.excl * quantity
        if priced.incl is not None:
            incl: int | None = priced.incl * quantity
        else:  # no VAT rate: unknown including VAT, unless there is nothing to tax
            incl = None if excl else 0
        component = priced.component
        cost = _cost(excl, incl, denominator)
        amount = _quantity(kind, quantity)
        lines.append(
            _record(
                PricedLine,
                (component.dimension, priced.element, component.price, component.vat, amount, cost),
            )
        )
        numerators[kind].append((excl, incl))
        costs[kind], settled[kind] = cost, amount
    totals = []
    for kind, parts in enumerate(numerators):
        if len(parts) > 1:
            costs[kind], settled[kind] = _sum(parts, denominator), None
        billed_quantity = settled[kind]
        if billed_quantity is None:
            billed_quantity = _quantity(kind, billed[kind])
        used = billed_quantity if billed[kind] == measured[kind] else _quantity(kind, measured[kind])
        totals.append(_record(DimensionTotal, (used, billed_quantity, costs[kind])))
    if len(lines) == 1:
        subtotal = lines[0].cost
    else:
        subtotal = _sum([part for parts in numerators for part in parts], denominator)
    limited, limited_by = _limit(plan, subtotal)
    periods = _periods(spans, session, last, extra, totals)
    return _record(
        PricedSession,
        (
            plan.tariff.currency,
            periods[0].start,
            periods[-1].end,
            final,
            periods,
            tuple(lines),
            totals[_ENERGY],
            totals[_TIME],
            totals[_PARKING],
            totals[_FLAT],
            subtotal,
            limited,
            limited_by,
        ),
    )


def _sum(parts: list[tuple[int, int | None]], denominator: Decimal) -> Cost:
    """The cost of numerators added up (exact integers), divided once."""
    excl = 0
    incl: int | None = 0
    for part_excl, part_incl in parts:
        excl += part_excl
        incl = None if incl is None or part_incl is None else incl + part_incl
    return _cost(excl, incl, denominator)


_NO_COST = Cost(ZERO, ZERO)


def _cost(excl: int, incl: int | None, denominator: Decimal) -> Cost:
    """Numerators as money: one division each. A zero amount needs no VAT rate."""
    if incl is None:
        return _record(Cost, (QUOTIENT.divide(Decimal(excl), denominator) if excl else ZERO, None))
    if not excl and not incl:
        return _NO_COST
    return _record(
        Cost, (QUOTIENT.divide(Decimal(excl), denominator), QUOTIENT.divide(Decimal(incl), denominator))
    )


def _periods(
    spans: list[Span], session: Session, last: list[int], extra: list[int], totals: list[DimensionTotal]
) -> tuple[ChargingPeriod, ...]:
    """The periods as the result has them (one period: the session's totals are its figures)."""
    instants = [session.start]
    instants.extend(from_micros(span.start) for span in spans[1:])
    end = spans[-1].end
    instants.append(
        session.stop if session.stop is not None and end == session.readings.stop else from_micros(end)
    )
    periods = []
    for k, span in enumerate(spans):
        decision = span.decision
        duration = span.end - span.start
        kind = _TIME if span.charging else _PARKING
        if len(spans) == 1:
            energy, seconds = totals[_ENERGY].quantity, totals[kind].quantity
            billed_energy = ZERO if decision.energy is None else totals[_ENERGY].billed
            billed_time = ZERO if decision.time is None else totals[kind].billed
        else:
            seconds = _quantity(_TIME, duration)
            energy = _quantity(_ENERGY, span.energy)
            billed_energy = ZERO if decision.energy is None else energy
            if k == last[_ENERGY] and extra[_ENERGY]:
                billed_energy = _quantity(_ENERGY, span.energy + extra[_ENERGY])
            billed_time = ZERO if decision.time is None else seconds
            if k == last[kind] and extra[kind]:
                billed_time = _quantity(_TIME, duration + extra[kind])
        periods.append(
            _record(
                ChargingPeriod,
                (
                    instants[k],
                    instants[k + 1],
                    span.charging,
                    energy,
                    seconds if span.charging else ZERO,
                    ZERO if span.charging else seconds,
                    span.min_power,
                    span.max_power,
                    None if decision.energy is None else decision.energy.element,
                    None if decision.time is None else decision.time.element,
                    billed_energy,
                    billed_time,
                ),
            )
        )
    return tuple(periods)


def _quantity(kind: int, quantity: int) -> Decimal:
    """Pricing's units as the result's: mWh -> Wh, µs -> s (exact: a shift of the exponent)."""
    if not quantity:
        return ZERO
    if kind == _FLAT:
        return _ONE
    return Decimal(quantity).scaleb(_EXPONENTS[kind])


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
