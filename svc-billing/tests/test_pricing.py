"""The pricing rules of BILLING.md beyond OCPI's examples: step rounding once per session,
min/max clamps, kWh thresholds cut to the instant, power/current bands, running costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from wattlane.billing.errors import InvalidSession
from wattlane.billing.pricing import price
from wattlane.billing.sessions import EnergySample, Session
from wattlane.billing.tariffs import Dimension, Element, Price, PriceComponent, Restrictions, Tariff
from wattlane.billing.testing import Leg, hours, minutes, session

ZONE = "Europe/Amsterdam"
START = datetime(2024, 6, 4, 8, 0, tzinfo=UTC)  # a Tuesday, 10:00 local


def energy(per_kwh: str, *, step: int = 1, vat: str | None = "21", **restrictions: Any) -> Element:
    return Element(
        (PriceComponent(Dimension.ENERGY, D(per_kwh), None if vat is None else D(vat), step),),
        Restrictions(**restrictions),
    )


def per_hour(dimension: Dimension, price_: str, *, step: int = 1, **restrictions: Any) -> Element:
    return Element((PriceComponent(dimension, D(price_), D(21), step),), Restrictions(**restrictions))


def test_energy_step_1000_bills_22_1_kwh_as_23() -> None:
    tariff = Tariff("EUR", (energy("0.30", step=1000),))
    result = price(tariff, session(START, Leg(hours(2), wh=22_100)), ZONE)
    # 23 kWh * 0.30 = 6.90; * 1.21 = 8.349
    assert (result.energy.quantity, result.energy.billed) == (D(22_100), D(23_000))
    assert (result.total.excl_vat, result.total.incl_vat) == (D("6.90"), D("8.349"))


def test_energy_rounds_once_on_the_total_with_the_last_elements_step() -> None:
    """10 kWh at 0.20 (step 1 Wh) then the rest at 0.30 (step 1000 Wh): the 22.1 kWh total is
    rounded to 23 and the 0.9 kWh difference billed on the last period at 0.30."""
    tariff = Tariff("EUR", (energy("0.20", max_kwh=D(10)), energy("0.30", step=1000)))
    result = price(tariff, session(START, Leg(hours(2), wh=22_100)), ZONE)
    # 10 * 0.20 + (12.1 + 0.9) * 0.30 = 2.00 + 3.90 = 5.90
    assert result.total.excl_vat == D("5.90")
    assert [(p.energy_wh, p.billed_energy_wh) for p in result.periods] == [
        (D(10_000), D(10_000)),
        (D(12_100), D(13_000)),
    ]


def test_time_step_900_rounds_the_session_total_not_each_period() -> None:
    """20 minutes before 18:00 and 20 after, both elements with 15-minute steps: 40 minutes are
    billed as 45 (per period it would be 30 + 30)."""
    tariff = Tariff(
        "EUR",
        (
            per_hour(Dimension.TIME, "2.00", step=900, end_time="18:00"),
            per_hour(Dimension.TIME, "4.00", step=900),
        ),
    )
    start = datetime(2024, 6, 4, 15, 40, tzinfo=UTC)  # 17:40 local
    result = price(tariff, session(start, Leg(minutes(40), wh=7_000)), ZONE)
    # 20 min * 2.00/h = 0.666... + 25 min * 4.00/h = 1.666... = 2.333... (exact to 34 digits)
    assert result.time.billed == D(45 * 60)
    assert [p.billed_time_s for p in result.periods] == [D(1200), D(1500)]
    assert result.total.excl_vat == D("2.333333333333333333333333333333333")


def test_time_step_900_bills_61_minutes_as_75() -> None:
    tariff = Tariff("EUR", (per_hour(Dimension.TIME, "2.00", step=900),))
    result = price(tariff, session(START, Leg(minutes(61), wh=10_000)), ZONE)
    assert (result.time.billed, result.total.excl_vat) == (D(75 * 60), D("2.50"))


def test_parking_and_charging_time_round_separately() -> None:
    tariff = Tariff(
        "EUR",
        (
            Element(
                (
                    PriceComponent(Dimension.TIME, D("1.00"), D(21), 900),
                    PriceComponent(Dimension.PARKING_TIME, D("4.00"), D(21), 600),
                )
            ),
        ),
    )
    result = price(tariff, session(START, Leg(minutes(50), wh=9_000), Leg(minutes(7), charging=False)), ZONE)
    # TIME 50 -> 60 min * 1.00/h = 1.00; PARKING 7 -> 10 min * 4.00/h = 0.666...
    assert (result.time.billed, result.parking_time.billed) == (D(3600), D(600))
    assert result.time.cost.excl_vat == D("1.00")


def test_min_and_max_price_clamp_each_total_by_its_own_bound() -> None:
    """OCPI: the excl. and incl. VAT totals are each held within their own bound."""
    components = (
        PriceComponent(Dimension.ENERGY, D("0.25"), D("10")),
        PriceComponent(Dimension.FLAT, D("1.00"), D("20")),
    )
    # 10 kWh: 2.50 + 1.00 = 3.50 excl.; 2.75 + 1.20 = 3.95 incl.
    charge = session(START, Leg(hours(1), wh=10_000))
    low_incl_only = Tariff("EUR", (Element(components),), min_price=Price(D("3.00"), D("4.00")))
    result = price(low_incl_only, charge, ZONE)
    assert (result.total.excl_vat, result.total.incl_vat, result.limited_by) == (
        D("3.50"),
        D("4.00"),
        "min_price",
    )
    capped = Tariff("EUR", (Element(components),), max_price=Price(D("3.00"), D("3.60")))
    result = price(capped, charge, ZONE)
    assert (result.total.excl_vat, result.total.incl_vat, result.limited_by) == (
        D("3.00"),
        D("3.60"),
        "max_price",
    )
    assert (result.subtotal.excl_vat, result.subtotal.incl_vat) == (D("3.50"), D("3.95"))


def test_a_limit_without_incl_vat_leaves_the_clamped_total_incl_vat_unknown() -> None:
    tariff = Tariff("EUR", (energy("0.25"),), min_price=Price(D("5.00")))
    result = price(tariff, session(START, Leg(hours(1), wh=1_000)), ZONE)
    assert (result.total.excl_vat, result.total.incl_vat, result.limited_by) == (D("5.00"), None, "min_price")


def test_a_kwh_threshold_is_cut_at_the_interpolated_instant() -> None:
    """Samples every 10 minutes of 2 kWh: 5 kWh are reached 25 minutes in."""
    tariff = Tariff("EUR", (energy("0.20", max_kwh=D(5)), energy("0.40")))
    result = price(tariff, session(START, *[Leg(minutes(10), wh=2_000)] * 4), ZONE)
    assert result.periods[1].start == START + minutes(25)
    assert [p.energy_wh for p in result.periods] == [D(5000), D(3000)]
    assert result.total.excl_vat == D("2.20")  # 5 * 0.20 + 3 * 0.40


def test_a_kwh_threshold_between_uneven_samples_lands_on_the_microsecond() -> None:
    """3 Wh over 7 seconds: the 1 Wh threshold is reached after 2.333... s, rounded up to the µs."""
    register = (EnergySample(START, 500), EnergySample(START + timedelta(seconds=7), 503))
    charge = Session(START, START + timedelta(seconds=7), energy=register)
    tariff = Tariff("EUR", (energy("1", max_kwh=D("0.001")), energy("2")))
    result = price(tariff, charge, ZONE)
    assert result.periods[1].start == START + timedelta(microseconds=2_333_334)
    assert [p.energy_wh for p in result.periods] == [D(1), D(2)]
    assert result.total.excl_vat == D("0.005")  # 0.001 kWh * 1 + 0.002 kWh * 2


def test_min_power_applies_only_while_the_meter_reports_enough_power() -> None:
    """A fast-charging element (>= 50 kW) applies from the sample that reports it; before any
    power is reported a power restriction does not hold."""
    tariff = Tariff("EUR", (energy("0.60", min_power=D(50)), energy("0.40")))
    charge = session(
        START,
        Leg(minutes(5), wh=1_000),
        Leg(minutes(20), wh=20_000, power_w=60_000),
        Leg(minutes(10), wh=2_000, power_w=12_000),
    )
    result = price(tariff, charge, ZONE)
    assert [(p.energy_element, p.min_power_w) for p in result.periods] == [
        (1, None),
        (0, 60_000),
        (1, 12_000),
    ]
    assert result.total.excl_vat == D("13.20")  # 1 * 0.40 + 20 * 0.60 + 2 * 0.40


def test_the_running_cost_is_the_same_function_up_to_an_instant() -> None:
    tariff = Tariff("EUR", (energy("0.30"), per_hour(Dimension.TIME, "1.00", step=60)))
    going = session(START, Leg(hours(1), wh=10_000), Leg(hours(1), wh=10_000), stop=False)
    running = price(tariff, going, ZONE, until=START + minutes(90))
    # 15 kWh * 0.30 + 1.5 h * 1.00 = 6.00
    assert (running.total.excl_vat, running.final, running.end) == (D("6.00"), False, START + minutes(90))
    finished = session(START, Leg(hours(1), wh=10_000), Leg(hours(1), wh=10_000))
    assert price(tariff, finished, ZONE, until=START + hours(5)) == price(tariff, finished, ZONE)
    assert price(tariff, finished, ZONE).final


def test_a_session_still_going_needs_until() -> None:
    going = session(START, Leg(hours(1), wh=10_000), stop=False)
    with pytest.raises(InvalidSession) as error:
        price(Tariff("EUR", (energy("0.30"),)), going, ZONE)
    assert error.value.fields == ["stop"]


def test_a_start_fee_is_charged_once_even_for_an_empty_session() -> None:
    tariff = Tariff("EUR", (Element((PriceComponent(Dimension.FLAT, D("0.50"), D(21)),)),))
    result = price(tariff, Session(START, START), ZONE)
    assert (result.total.excl_vat, result.flat.quantity, len(result.periods)) == (D("0.50"), D(1), 1)


def test_no_matching_element_means_free() -> None:
    tariff = Tariff("EUR", (energy("0.30", min_kwh=D(50)),))
    result = price(tariff, session(START, Leg(hours(1), wh=20_000)), ZONE)
    assert (result.total.excl_vat, result.total.incl_vat, result.lines) == (D(0), D(0), ())


def test_reservation_elements_never_price_a_session() -> None:
    from wattlane.billing.tariffs import Reservation

    tariff = Tariff("EUR", (energy("9.99", reservation=Reservation.RESERVATION), energy("0.30")))
    result = price(tariff, session(START, Leg(hours(1), wh=10_000)), ZONE)
    assert result.total.excl_vat == D("3.00")
