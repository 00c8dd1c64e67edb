"""Properties of pricing over generated sessions and tariffs (bounded: the suite runs on 2 cores)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

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
