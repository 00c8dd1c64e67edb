"""Local-time restrictions priced in the location's IANA zone: midnight, the two DST switches of
Europe/Amsterdam (last Sunday of March 02:00 -> 03:00, last Sunday of October 03:00 -> 02:00)
and windows that wrap past midnight with a day of the week. TIME is billed on real elapsed
time: the hour that does not exist is never billed, the hour that exists twice is billed twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from wattlane.billing.pricing import price
from wattlane.billing.tariffs import DayOfWeek, Dimension, Element, PriceComponent, Restrictions, Tariff
from wattlane.billing.testing import Leg, hours, local, session

AMS = "Europe/Amsterdam"


def time_tariff(*windows: tuple[str, str, str, frozenset[DayOfWeek]], fallback: str = "1.00") -> Tariff:
    """TIME at the given (start, end, price per hour, days) windows, then an unrestricted fallback."""
    elements = [
        Element(
            (PriceComponent(Dimension.TIME, D(per_hour), D(21)),),
            Restrictions(start_time=start, end_time=end, day_of_week=days),
        )
        for start, end, per_hour, days in windows
    ]
    elements.append(Element((PriceComponent(Dimension.TIME, D(fallback), D(21)),)))
    return Tariff("EUR", tuple(elements))


def test_a_night_window_on_the_spring_switch_day_lasts_five_real_hours() -> None:
    """00:00-06:00 on 2024-03-31 is 5 hours of real time (02:00-03:00 does not exist)."""
    tariff = time_tariff(("00:00", "06:00", "0.50", frozenset()), fallback="2.00")
    start = local("2024-03-31 00:00", AMS)  # 23:00 UTC the day before
    result = price(tariff, session(start, Leg(hours(6), wh=30_000)), AMS)  # until 07:00 CEST
    # 5 h * 0.50 (the window: 23:00-04:00 UTC) + 1 h * 2.00 (06:00-07:00 CEST) = 4.50
    assert result.total.excl_vat == D("4.50")
    assert [(p.charging_s, p.time_element) for p in result.periods][-1] == (D(3600), 1)
    assert result.periods[-1].start == local("2024-03-31 06:00", AMS)
    assert result.time.quantity == D(6 * 3600)


def test_a_window_inside_the_skipped_hour_is_never_billed() -> None:
    """02:00-03:00 on the spring switch day is never on the wall clock: no period is priced by it,
    and 01:00-04:00 local is 2 real hours."""
    tariff = time_tariff(("02:00", "03:00", "10.00", frozenset()))
    start = local("2024-03-31 01:00", AMS)
    result = price(tariff, session(start, Leg(hours(2), wh=10_000)), AMS)
    assert result.end == local("2024-03-31 04:00", AMS)
    assert result.total.excl_vat == D("2.00")  # 2 h * 1.00
    assert {p.time_element for p in result.periods} == {1}


def test_a_window_opening_in_the_skipped_hour_opens_at_the_switch() -> None:
    """02:30-05:00 on the spring day: the wall clock jumps from 01:59:59 to 03:00, already inside."""
    tariff = time_tariff(("02:30", "05:00", "3.00", frozenset()))
    start = local("2024-03-31 01:00", AMS)
    result = price(tariff, session(start, Leg(hours(3), wh=10_000)), AMS)  # to 05:00 CEST
    # 01:00-02:00 CET at 1.00 = 1.00, then 03:00-05:00 CEST (2 real hours) at 3.00 = 6.00
    assert result.total.excl_vat == D("7.00")
    assert [p.start for p in result.periods] == [start, local("2024-03-31 03:00", AMS)]


def test_the_repeated_hour_of_the_autumn_switch_is_billed_twice() -> None:
    """02:00-03:00 on 2024-10-27 is on the wall clock twice (CEST, then CET): two real hours."""
    tariff = time_tariff(("02:00", "03:00", "10.00", frozenset()))
    start = local("2024-10-27 01:00", AMS)  # 23:00 UTC the day before
    result = price(tariff, session(start, Leg(hours(4), wh=20_000)), AMS)  # until 04:00 CET
    # 01:00-02:00 CEST at 1.00, 02:00-03:00 CEST and 02:00-03:00 CET at 10.00, 03:00-04:00 CET at 1.00
    assert result.total.excl_vat == D("22.00")
    windowed = [p for p in result.periods if p.time_element == 0]
    assert sum(p.charging_s for p in windowed) == D(2 * 3600)
    assert windowed[0].start == local("2024-10-27 02:00", AMS, fold=0)
    assert windowed[-1].end == local("2024-10-27 03:00", AMS)


def test_a_boundary_inside_the_repeated_hour_is_crossed_twice() -> None:
    """A window 02:30-06:00 opens at 02:30 CEST, closes when the clock goes back to 02:00 CET,
    and opens again at 02:30 CET."""
    tariff = time_tariff(("02:30", "06:00", "4.00", frozenset()))
    start = local("2024-10-27 02:00", AMS, fold=0)  # 00:00 UTC
    result = price(tariff, session(start, Leg(hours(3), wh=20_000)), AMS)  # to 03:00 UTC = 04:00 CET
    # 02:00-02:30 CEST 1.00/h = 0.50; 02:30-03:00 CEST 4.00/h = 2.00; 02:00-02:30 CET = 0.50;
    # 02:30 CET-04:00 CET 1.5 h at 4.00 = 6.00
    assert result.total.excl_vat == D("9.00")
    assert [(p.start, p.time_element) for p in result.periods] == [
        (start, 1),
        (local("2024-10-27 02:30", AMS, fold=0), 0),
        (local("2024-10-27 02:00", AMS, fold=1), 1),
        (local("2024-10-27 02:30", AMS, fold=1), 0),
    ]


def test_a_night_window_on_the_autumn_switch_day_lasts_seven_real_hours() -> None:
    tariff = time_tariff(("00:00", "06:00", "0.50", frozenset()), fallback="2.00")
    start = local("2024-10-27 00:00", AMS)
    result = price(tariff, session(start, Leg(hours(8), wh=30_000)), AMS)  # until 07:00 CET
    # 7 h * 0.50 + 1 h * 2.00 = 5.50
    assert result.total.excl_vat == D("5.50")


def test_energy_is_split_at_local_midnight_by_day_of_week() -> None:
    """Friday 23:00 to Saturday 01:00 with 10 kWh at a steady rate: 5 kWh on each side of
    midnight, the weekend price applying from Saturday 00:00 local (22:00 UTC in summer)."""
    weekend = Element(
        (PriceComponent(Dimension.ENERGY, D("0.20"), D(21)),),
        Restrictions(day_of_week=frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY})),
    )
    tariff = Tariff("EUR", (weekend, Element((PriceComponent(Dimension.ENERGY, D("0.30"), D(21)),))))
    start = local("2024-06-07 23:00", AMS)  # a Friday
    result = price(tariff, session(start, Leg(hours(2), wh=10_000)), AMS)
    # 5 kWh * 0.30 + 5 kWh * 0.20 = 2.50; * 1.21 = 3.025
    assert (result.total.excl_vat, result.total.incl_vat) == (D("2.50"), D("3.025"))
    assert [(p.energy_wh, p.energy_element) for p in result.periods] == [(D(5000), 1), (D(5000), 0)]


FRIDAY_NIGHT = time_tariff(("22:00", "06:00", "1.00", frozenset({DayOfWeek.FRIDAY})), fallback="3.00")


def test_a_wrapped_window_belongs_to_the_day_it_starts_on() -> None:
    """FRIDAY 22:00-06:00 is Friday night: Friday 22:00 to Saturday 06:00 (plans.py says why)."""
    start = local("2024-06-07 21:00", AMS)  # Friday
    result = price(FRIDAY_NIGHT, session(start, Leg(hours(10), wh=40_000)), AMS)  # to Saturday 07:00
    # Fri 21-22 at 3.00 + Fri 22 - Sat 06 (8 h) at 1.00 + Sat 06-07 at 3.00 = 14.00
    assert result.total.excl_vat == D("14.00")
    assert [p.time_element for p in result.periods] == [1, 0, 0, 1]  # cut at midnight too


def test_the_morning_after_another_day_is_not_in_a_wrapped_window() -> None:
    """Friday 00:00-06:00 is the end of Thursday night, not part of FRIDAY 22:00-06:00; nor is
    Saturday night."""
    thursday_night = session(local("2024-06-06 23:00", AMS), Leg(hours(3), wh=10_000))
    assert price(FRIDAY_NIGHT, thursday_night, AMS).total.excl_vat == D("9.00")  # 3 h * 3.00
    saturday_night = session(local("2024-06-08 23:00", AMS), Leg(hours(3), wh=10_000))
    assert price(FRIDAY_NIGHT, saturday_night, AMS).total.excl_vat == D("9.00")


def test_sunday_night_runs_into_monday_morning() -> None:
    """The week wraps too: Monday 01:00 belongs to SUNDAY 22:00-06:00."""
    tariff = time_tariff(("22:00", "06:00", "1.00", frozenset({DayOfWeek.SUNDAY})), fallback="3.00")
    monday = session(local("2024-06-10 01:00", AMS), Leg(hours(1), wh=5_000))
    assert price(tariff, monday, AMS).total.excl_vat == D("1.00")


def test_a_date_restriction_starts_at_local_midnight() -> None:
    """start_date 2024-07-01 (inclusive) is 22:00 UTC on June 30 in Amsterdam."""
    new_price = Element(
        (PriceComponent(Dimension.ENERGY, D("0.40")),),
        Restrictions(start_date=date(2024, 7, 1)),
    )
    tariff = Tariff("EUR", (new_price, Element((PriceComponent(Dimension.ENERGY, D("0.30")),))))
    result = price(tariff, session(local("2024-06-30 23:00", AMS), Leg(hours(2), wh=10_000)), AMS)
    # 5 kWh * 0.30 + 5 kWh * 0.40 = 3.50 (no VAT given: incl. unknown)
    assert (result.total.excl_vat, result.total.incl_vat) == (D("3.50"), None)


def test_a_session_over_several_days_meets_every_night() -> None:
    every_night = time_tariff(("22:00", "06:00", "1.00", frozenset()), fallback="3.00")
    weekend = session(
        local("2024-06-07 12:00", AMS), Leg(hours(72), wh=100_000)
    )  # Friday noon to Monday noon
    # three nights of 8 h at 1.00 + 48 h at 3.00 = 168.00; only Friday night: 8 + 64 * 3 = 200.00
    assert price(every_night, weekend, AMS).total.excl_vat == D("168.00")
    assert price(FRIDAY_NIGHT, weekend, AMS).total.excl_vat == D("200.00")
