"""Pricing throughput: `wattlane.billing.pricing.price` over a month of realistic sessions,
against a baseline doing the same arithmetic without periods, in the same process and run.

The tariff is what an operator publishes: 3 elements, a day price 07:00-23:00 for the first
30 kWh, a night price 23:00-07:00 (a window wrapping past midnight) and a fallback with a start
fee and a parking fee (15-minute steps after charging). The sessions start anywhere in October
2024 in Europe/Amsterdam (the DST switch included): 30 minutes to 4 hours of AC or DC charging,
4 in 10 followed by parking, 20 meter samples each (register and power).

The baseline prices the same session as one period with the fallback element's components:
energy = last register - first, charging and parking time from the status change, the same step
rounding, the same exact Decimal numerators and divisions, VAT, the limits and the same result
objects. What it leaves out is exactly what pricing adds: cutting the session into periods at
wall-clock, kWh, power and status boundaries and deciding an element per period. Both sides
are timed in CPU time of this one thread (the machine is shared; wall time is printed too),
round after round, the order alternating."""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench.common import Target, load_note, table
from wattlane.billing.plans import DIMENSIONS, Priced
from wattlane.billing.pricing import (
    QUOTIENT,
    ZERO,
    ChargingPeriod,
    Cost,
    DimensionTotal,
    PricedLine,
    PricedSession,
    plan_of,
    price,
)
from wattlane.billing.sessions import EnergySample, PowerSample, Session, StatusChange
from wattlane.billing.tariffs import Dimension, Element, PriceComponent, Restrictions, Tariff

ZONE = ZoneInfo("Europe/Amsterdam")
RATE_TARGET = 20_000  # sessions priced per second on one core
BASELINE_TARGET = 5.0  # pricing at most 5x the time of the same arithmetic without periods
SAMPLES = 20
VAT = Decimal(21)

TARIFF = Tariff(
    "EUR",
    (
        Element(
            (PriceComponent(Dimension.ENERGY, Decimal("0.39"), VAT),),
            Restrictions(start_time="07:00", end_time="23:00", max_kwh=Decimal(30)),
        ),
        Element(
            (PriceComponent(Dimension.ENERGY, Decimal("0.29"), VAT),),
            Restrictions(start_time="23:00", end_time="07:00"),
        ),
        Element(
            (
                PriceComponent(Dimension.ENERGY, Decimal("0.49"), VAT),
                PriceComponent(Dimension.FLAT, Decimal("0.35"), VAT),
                PriceComponent(Dimension.PARKING_TIME, Decimal("6.00"), VAT, 900),
            )
        ),
    ),
)


def sessions(count: int, seed: int = 7) -> list[Session]:
    """`count` sessions of October 2024 with 20 samples of register and power each."""
    rng = random.Random(seed)
    month = datetime(2024, 10, 1, tzinfo=ZONE).astimezone(UTC)
    made = []
    for _ in range(count):
        start = month + timedelta(minutes=rng.randrange(31 * 24 * 60 - 300), seconds=rng.randrange(60))
        charging = timedelta(minutes=rng.randrange(30, 240))
        parking = timedelta(minutes=rng.randrange(10, 90)) if rng.random() < 0.4 else timedelta(0)
        fast = rng.random() < 0.25
        power = rng.uniform(50_000, 150_000) if fast else rng.choice([3_700, 7_400, 11_000, 22_000])
        step = (charging + parking) / (SAMPLES - 1)
        register, energy, samples, status = rng.randrange(10**6, 10**8), [], [], []
        for i in range(SAMPLES):
            at = start + step * i
            charging_now = at - start < charging
            watts = int(power * (1 - 0.5 * (at - start) / charging)) if fast else int(power)
            watts = watts if charging_now else 0
            energy.append(EnergySample(at, register))
            samples.append(PowerSample(at, watts))
            register += int(watts * step.total_seconds() / 3600)
        if parking:
            status.append(StatusChange(start + charging, False))
        made.append(
            Session(
                start,
                start + charging + parking,
                energy=tuple(energy),
                power=tuple(samples),
                status=tuple(status),
            )
        )
    return made


_record = tuple.__new__  # records built as pricing builds them


def _cost(excl: Decimal, incl: Decimal | None) -> Cost:
    return _record(Cost, (excl, incl))


_NO_COST = _cost(ZERO, ZERO)


def _money(numerator: int, denominator: Decimal) -> Decimal:
    return QUOTIENT.divide(Decimal(numerator), denominator) if numerator else ZERO


def _quantity(kind: int, quantity: int) -> Decimal:
    return Decimal(quantity).scaleb((-3, 0, -6, -6)[kind]) if quantity else ZERO


def _limit(tariff: Tariff, subtotal: Cost) -> tuple[Cost, str | None]:
    """The same clamps as pricing: each of excl./incl. VAT by its own bound."""
    excl, incl, limited_by = subtotal.excl_vat, subtotal.incl_vat, None
    for name, bound, sign in (("min_price", tariff.min_price, -1), ("max_price", tariff.max_price, 1)):
        if bound is None:
            continue
        if excl.compare(bound.excl_vat) == sign:
            excl, limited_by = bound.excl_vat, name
            if bound.incl_vat is None:
                incl = None
        if incl is not None and bound.incl_vat is not None and incl.compare(bound.incl_vat) == sign:
            incl, limited_by = bound.incl_vat, name
    return _cost(excl, incl), limited_by


def baseline(tariff: Tariff, session: Session, zone: ZoneInfo) -> PricedSession:
    """The same arithmetic as `price` without periods: one stretch priced by the fallback."""
    plan = plan_of(tariff)
    components = plan.components[-1]
    readings = session.readings
    start, stop = readings.start, readings.stop
    assert stop is not None and session.stop is not None
    used = readings.energy_mwh[-1] - readings.energy_mwh[0] if readings.energy_mwh else 0
    parked = stop - readings.status_times[0] if readings.status_times else 0
    charged = stop - start - parked
    quantities: dict[Priced, int] = {}
    energy, parking, flat = (
        components.get(Dimension.ENERGY),
        components.get(Dimension.PARKING_TIME),
        components.get(Dimension.FLAT),
    )
    billed_energy = billed_parking = 0
    if energy is not None:
        billed_energy = quantities[energy] = -(-used // energy.step) * energy.step
    if parking is not None and parked:
        billed_parking = quantities[parking] = -(-parked // parking.step) * parking.step
    if flat is not None:
        quantities[flat] = 1
    lines = []
    excl_sums, incl_sums = [0, 0, 0, 0], [0, 0, 0, 0]
    costs = [_NO_COST, _NO_COST, _NO_COST, _NO_COST]  # one line per kind here: its cost
    denominator = plan.denominator
    for priced, quantity in quantities.items():
        kind = priced.kind
        assert priced.incl is not None
        excl, incl = priced.excl * quantity, priced.incl * quantity
        component = priced.component
        costs[kind] = _cost(_money(excl, denominator), _money(incl, denominator))
        lines.append(
            _record(
                PricedLine,
                (
                    component.dimension,
                    priced.element,
                    component.price,
                    component.vat,
                    _quantity(kind, quantity),
                    costs[kind],
                ),
            )
        )
        excl_sums[kind] += excl
        incl_sums[kind] += incl
    subtotal = _cost(_money(sum(excl_sums), denominator), _money(sum(incl_sums), denominator))
    limited, limited_by = _limit(tariff, subtotal)

    def total(dimension: Dimension, measured: int, billed: int) -> DimensionTotal:
        kind = DIMENSIONS.index(dimension)
        return _record(DimensionTotal, (_quantity(kind, measured), _quantity(kind, billed), costs[kind]))

    time_kind, energy_kind = DIMENSIONS.index(Dimension.TIME), DIMENSIONS.index(Dimension.ENERGY)
    fallback = len(plan.components) - 1
    period = _record(
        ChargingPeriod,
        (
            session.start,
            session.stop,
            True,
            _quantity(energy_kind, used),
            _quantity(time_kind, charged),
            _quantity(time_kind, parked),
            min(readings.power_w) if readings.power_w else None,
            max(readings.power_w) if readings.power_w else None,
            fallback,
            fallback,
            _quantity(energy_kind, billed_energy),
            _quantity(time_kind, billed_parking),
        ),
    )
    return _record(
        PricedSession,
        (
            tariff.currency,
            session.start,
            session.stop,
            True,
            (period,),
            tuple(lines),
            total(Dimension.ENERGY, used, billed_energy),
            total(Dimension.TIME, charged, 0),
            total(Dimension.PARKING_TIME, parked, billed_parking),
            total(Dimension.FLAT, 1, 1),
            subtotal,
            limited,
            limited_by,
        ),
    )


def _timed(
    run: Callable[[Tariff, Session, ZoneInfo], PricedSession], batch: list[Session]
) -> tuple[float, float]:
    """CPU seconds (this thread) and wall seconds to price every session of `batch` once."""
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for session in batch:
        run(TARIFF, session, ZONE)
    return time.thread_time() - cpu0, time.perf_counter() - wall0


def run(count: int, rounds: int) -> list[Target]:
    batch = sessions(count)
    priced = [price(TARIFF, s, ZONE) for s in batch]  # warm up: plan compiled, days' marks cached
    for s in batch:
        baseline(TARIFF, s, ZONE)
    periods = statistics.fmean(len(p.periods) for p in priced)
    sides: dict[str, Callable[[Tariff, Session, ZoneInfo], PricedSession]] = {
        "price()": price,
        "baseline (no periods)": baseline,
    }
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    wall: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
        for name in order:
            cpu_s, wall_s = _timed(sides[name], batch)
            cpu[name].append(count / cpu_s)
            wall[name].append(count / wall_s)
    rate, base = statistics.median(cpu["price()"]), statistics.median(cpu["baseline (no periods)"])
    ratio = statistics.median(
        [b / p for p, b in zip(cpu["price()"], cpu["baseline (no periods)"], strict=True)]
    )
    rows = [
        (
            name,
            f"{statistics.median(cpu[name]):,.0f}",
            f"{1e6 / statistics.median(cpu[name]):.1f}",
            f"{statistics.median(wall[name]):,.0f}",
        )
        for name in sides
    ]
    rows.append(("ratio (price / baseline time)", f"{ratio:.2f}x", "", ""))
    print(
        f"\nbilling.pricing — {count:,} sessions of {SAMPLES} samples ({periods:.1f} periods on average), "
        f"3-element tariff; {rounds} rounds, median"
    )
    print(table(("side", "sessions/s (CPU)", "µs/session", "sessions/s (wall)"), rows))
    return [
        Target(
            "billing.pricing sessions/s on one core",
            RATE_TARGET / rate,
            1.0,
            f"{rate:,.0f} sessions/s, target >= {RATE_TARGET:,}; ratio = target / measured",
        ),
        Target(
            "billing.pricing vs the same arithmetic without periods",
            ratio,
            BASELINE_TARGET,
            f"{base:,.0f}/s baseline",
        ),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sessions", type=int, default=2_000, help="sessions priced per round (default 2,000)"
    )
    parser.add_argument("--rounds", type=int, default=9, help="rounds, the sides alternating (default 9)")


def run_pricing(args: argparse.Namespace) -> list[Target]:
    """Run the pricing benchmark with parsed arguments; returns its targets (also printed)."""
    print(load_note())
    targets = run(args.sessions, args.rounds)
    print()
    for target in targets:
        print(target.line())
    return targets


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the benchmark; returns its targets (also printed)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.billing.throughput", description=(__doc__ or "").splitlines()[0]
    )
    add_arguments(parser)
    return run_pricing(parser.parse_args(argv))
