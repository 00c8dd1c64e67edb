"""Properties of pricing over generated sessions and tariffs (bounded: the suite runs on 2 cores)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattlane.billing.pricing import PricedSession, price
from wattlane.billing.sessions import Session
from wattlane.billing.tariffs import DayOfWeek, Dimension, Element, PriceComponent, Restrictions, Tariff
from wattlane.billing.testing import Leg, local, session

ZONE = "Europe/Amsterdam"
BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Session starts across a year, the DST switch nights and midnight included.
starts = st.one_of(
    st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(["2024-03-30 22:30", "2024-03-31 01:15", "2024-10-26 23:59", "2024-10-27 02:20"]).map(
        lambda text: local(text, ZONE)
    ),
)
legs = st.builds(
    Leg,
    duration=st.integers(1, 3 * 3600).map(lambda s: timedelta(seconds=s)),
    wh=st.integers(0, 30_000),
    power_w=st.none() | st.integers(0, 150_000),
    current_a=st.none() | st.integers(0, 200),
    charging=st.booleans(),
)
sessions = st.builds(
    lambda start, legs_: session(start, *legs_), starts, st.lists(legs, min_size=1, max_size=5)
)

money = st.decimals(min_value=0, max_value=5, places=4)
vats = st.none() | st.sampled_from([D(0), D("5.2"), D(9), D(19), D(21), D(100)])


@st.composite
def components(
    draw: st.DrawFn,
    dimensions: tuple[Dimension, ...] = (Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME),
) -> tuple[PriceComponent, ...]:
    chosen = draw(st.lists(st.sampled_from(dimensions), min_size=1, unique=True))
    return tuple(
        PriceComponent(d, draw(money), draw(vats), draw(st.sampled_from([1, 60, 300, 900, 1000, 3600])))
        for d in chosen
    )


hh_mm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
restrictions = st.one_of(
    st.just(Restrictions()),
    st.builds(lambda a, b: Restrictions(start_time=a, end_time=b), hh_mm, hh_mm),
    st.builds(lambda k: Restrictions(max_kwh=k), st.decimals(min_value="0.001", max_value=60, places=3)),
    st.builds(lambda s: Restrictions(min_duration=s), st.integers(1, 20_000)),
    st.builds(lambda kw: Restrictions(max_power=kw), st.integers(1, 150).map(D)),
    st.builds(lambda a: Restrictions(min_current=a), st.integers(1, 200).map(D)),
    st.builds(
        lambda days: Restrictions(day_of_week=frozenset(days)),
        st.sets(st.sampled_from(DayOfWeek), min_size=1),
    ),
)
tariffs = st.builds(
    lambda elements: Tariff("EUR", tuple(elements)),
    st.lists(st.builds(Element, components(), restrictions), min_size=1, max_size=3),
)


def totals(result: PricedSession) -> tuple[D, D | None]:
    return result.total.excl_vat, result.total.incl_vat


@BOUNDED
@given(sessions, components(), restrictions.filter(lambda r: r != Restrictions()))
def test_a_restriction_that_changes_no_price_changes_no_total(
    charge: Session, parts: tuple[PriceComponent, ...], split: Restrictions
) -> None:
    """Cutting the session where a restriction switches between two elements with the same
    components (at a time of day, a kWh threshold, a duration, a power or current band) changes
    no total, whatever the cut's instant."""
    whole = Tariff("EUR", (Element(parts),))
    cut = Tariff("EUR", (Element(parts, split), Element(parts)))
    one, two = price(whole, charge, ZONE), price(cut, charge, ZONE)
    assert totals(two) == totals(one)
    for dimension in ("energy", "time", "parking_time"):
        assert getattr(two, dimension) == getattr(one, dimension)
    assert sum(p.energy_wh for p in two.periods) == sum(p.energy_wh for p in one.periods)


@BOUNDED
@given(sessions, tariffs, st.sampled_from(["min_kwh", "min_duration", "start_date"]))
def test_a_session_no_element_matches_is_free(charge: Session, tariff: Tariff, never: str) -> None:
    """Every element restricted to something the session never reaches: nothing is billed."""
    unreachable = {
        "min_kwh": Restrictions(min_kwh=D(10_000)),
        "min_duration": Restrictions(min_duration=10 * 24 * 3600),
        "start_date": Restrictions(start_date=datetime(2030, 1, 1).date()),
    }[never]
    blocked = Tariff("EUR", tuple(Element(e.price_components, unreachable) for e in tariff.elements))
    result = price(blocked, charge, ZONE)
    assert totals(result) == (D(0), D(0))
    assert result.lines == ()
    assert all(p.energy_element is None and p.time_element is None for p in result.periods)


@BOUNDED
@given(sessions, tariffs, money, vats)
def test_a_flat_component_adds_exactly_its_price_once(
    charge: Session, tariff: Tariff, flat: D, vat: D | None
) -> None:
    with_flat = Tariff("EUR", (*tariff.elements, Element((PriceComponent(Dimension.FLAT, flat, vat, 1),))))
    before, after = price(tariff, charge, ZONE), price(with_flat, charge, ZONE)
    assert after.total.excl_vat - before.total.excl_vat == flat
    assert after.flat.quantity == 1 and before.flat.quantity == 0
    if before.total.incl_vat is not None and vat is not None:
        assert after.total.incl_vat is not None
        assert after.total.incl_vat - before.total.incl_vat == flat * (100 + vat) / 100


@BOUNDED
@given(sessions, tariffs)
def test_step_rounding_never_lowers_what_is_billed(charge: Session, tariff: Tariff) -> None:
    result = price(tariff, charge, ZONE)
    priced_energy = sum(p.energy_wh for p in result.periods if p.energy_element is not None)
    assert result.energy.billed >= priced_energy
    steps = [
        c.step_size for e in tariff.elements for c in e.price_components if c.dimension is Dimension.ENERGY
    ]
    assert result.energy.billed - priced_energy < max(steps, default=1)
    for period in result.periods:
        if period.energy_element is not None:
            assert period.billed_energy_wh >= period.energy_wh
        if period.time_element is not None:
            assert period.billed_time_s >= period.charging_s + period.parking_s
    assert sum(p.billed_energy_wh for p in result.periods) == result.energy.billed


@BOUNDED
@given(sessions, tariffs)
def test_totals_including_vat_are_never_below_excluding(charge: Session, tariff: Tariff) -> None:
    result = price(tariff, charge, ZONE)
    for cost in [result.total, result.subtotal, *(line.cost for line in result.lines)]:
        assert cost.excl_vat >= 0
        if cost.incl_vat is not None:
            assert cost.incl_vat >= cost.excl_vat


@BOUNDED
@given(sessions, components(), st.floats(0, 1))
def test_the_running_cost_never_exceeds_the_final_cost(
    charge: Session, parts: tuple[PriceComponent, ...], share: float
) -> None:
    """With one step per dimension (and no maximum price), a cost only grows as the session goes
    on. Not so across elements with different steps: the running cost rounds with the step of
    the element in force then, and a later element with a finer step replaces that rounding."""
    assert charge.stop is not None
    tariff = Tariff("EUR", (Element(parts),))
    until = charge.start + (charge.stop - charge.start) * share
    running, final = price(tariff, charge, ZONE, until=until), price(tariff, charge, ZONE)
    assert running.total.excl_vat <= final.total.excl_vat
    assert running.energy.quantity <= final.energy.quantity


ZONES = ["Europe/Amsterdam", "America/Santiago", "America/Havana", "Australia/Lord_Howe", "America/St_Johns"]
DST_DAYS = [
    datetime(2024, m, d, tzinfo=UTC)
    for m, d in ((3, 10), (3, 31), (4, 7), (9, 8), (10, 6), (10, 27), (11, 3))
]


def _per_minute(tariff: Tariff, start: datetime, minutes_: int, zone: str) -> D:
    """The TIME cost by reading the wall clock at every minute (an independent oracle: every
    boundary and DST switch of these zones falls on a whole minute)."""
    total = D(0)
    for m in range(minutes_):
        wall = (start + timedelta(minutes=m)).astimezone(ZoneInfo(zone))
        now, today = wall.hour * 60 + wall.minute, wall.weekday()
        for element in tariff.elements:
            r = element.restrictions
            assert r.start_time is not None and r.end_time is not None
            begin = int(r.start_time[:2]) * 60 + int(r.start_time[3:])
            finish = int(r.end_time[:2]) * 60 + int(r.end_time[3:])
            if finish <= begin:  # wraps: the morning belongs to the day before
                day = today if now >= begin else (today - 1) % 7 if now < finish else None
            else:
                day = today if begin <= now < finish else None
            if day is not None and (not r.day_of_week or day in r.day_of_week):
                total += element.price_components[0].price / 60
                break
    return total


@BOUNDED
@given(
    st.sampled_from(ZONES),
    st.sampled_from(DST_DAYS),
    st.integers(-6 * 60, 18 * 60),
    st.integers(1, 10 * 60),
    st.lists(
        st.tuples(hh_mm, hh_mm, st.sets(st.sampled_from(DayOfWeek), max_size=3)), min_size=1, max_size=3
    ),
)
def test_time_windows_agree_with_the_wall_clock_minute_by_minute(
    zone: str, day: datetime, offset: int, minutes_: int, windows: list[tuple[str, str, set[DayOfWeek]]]
) -> None:
    """Time windows (wrapping or not, with days of the week) around DST switches, including
    switches at midnight (Santiago, Havana) and of 30 minutes (Lord Howe), billed per minute."""
    elements = [
        Element(
            (PriceComponent(Dimension.TIME, D(6 * (i + 1)), None, 60),),
            Restrictions(start_time=a, end_time=b, day_of_week=frozenset(days)),
        )
        for i, (a, b, days) in enumerate(windows)
    ]
    elements.append(
        Element(
            (PriceComponent(Dimension.TIME, D(3), None, 60),),
            Restrictions(start_time="00:00", end_time="00:00"),
        )
    )
    tariff = Tariff("EUR", tuple(elements))
    start = day + timedelta(minutes=offset)
    charge = session(start, Leg(timedelta(minutes=minutes_), wh=1_000))
    assert price(tariff, charge, zone).time.cost.excl_vat == _per_minute(tariff, start, minutes_, zone)
