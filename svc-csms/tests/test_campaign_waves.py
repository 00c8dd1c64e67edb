"""A campaign's waves: examples, and the properties they promise."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattlane.csms.campaigns.waves import PlanError, WavePlan, plan_waves

STATIONS = [f"S{n:03d}" for n in range(200)]


def sizes(waves: list[list[str]]) -> list[int]:
    return [len(w) for w in waves]


def test_a_canary_of_five_then_three_percentage_waves() -> None:
    waves = plan_waves(STATIONS, WavePlan(canary_count=5, percentages=(20, 30, 50)))
    assert sizes(waves) == [5, 39, 59, 97]
    assert waves[0] == STATIONS[:5]


def test_an_explicit_canary_comes_first_and_is_not_sent_again() -> None:
    waves = plan_waves(STATIONS[:10], WavePlan(canary=("S007", "S002"), percentages=(50,)))
    assert waves[0] == ["S007", "S002"]
    assert waves[1] == ["S000", "S001", "S003", "S004"]
    assert waves[2] == ["S005", "S006", "S008", "S009"]


def test_rounding_does_not_leave_a_stray_wave() -> None:
    assert sizes(plan_waves(STATIONS[:10], WavePlan(percentages=(33.3, 33.3, 33.4)))) == [4, 3, 3]


def test_exponential_waves_grow_by_the_factor() -> None:
    waves = plan_waves(STATIONS[:100], WavePlan(canary_count=2, exponential_start=5, exponential_factor=2))
    assert sizes(waves) == [2, 5, 10, 20, 40, 23]


def test_without_waves_the_rest_is_one_wave() -> None:
    assert sizes(plan_waves(STATIONS[:7], WavePlan(canary_count=2))) == [2, 5]
    assert sizes(plan_waves(STATIONS[:7], WavePlan(canary_count=10))) == [7]


@pytest.mark.parametrize(
    ("targets", "plan", "field"),
    [
        ([], WavePlan(), "targets"),
        (["A", "A"], WavePlan(), "targets"),
        (["A", "B"], WavePlan(percentages=(60, 50)), "waves.percentages"),
        (["A", "B"], WavePlan(percentages=(0,)), "waves.percentages"),
        (["A", "B"], WavePlan(canary=("C",)), "waves.canary"),
        (["A", "B"], WavePlan(canary=("A",), canary_count=1), "waves.canary"),
        (["A", "B"], WavePlan(canary_count=-1), "waves.canary_count"),
        (["A", "B"], WavePlan(percentages=(50,), exponential_start=1, exponential_factor=2), "waves"),
        (["A", "B"], WavePlan(exponential_start=1, exponential_factor=0.5), "waves.exponential_factor"),
    ],
)
def test_bad_plans_name_the_field(targets: list[str], plan: WavePlan, field: str) -> None:
    with pytest.raises(PlanError) as error:
        plan_waves(targets, plan)
    assert error.value.field == field


targets_st = st.lists(st.text("ABCDEFGH", min_size=1, max_size=4), min_size=1, max_size=300, unique=True)
percentages_st = st.lists(st.integers(1, 100), max_size=6).filter(lambda ps: sum(ps) <= 100)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[str], WavePlan]:
    targets = draw(targets_st)
    kind = draw(st.sampled_from(["percentages", "exponential", "none"]))
    canary_list = draw(st.booleans())
    canary: tuple[str, ...] = ()
    canary_count = 0
    if canary_list:
        canary = tuple(draw(st.lists(st.sampled_from(targets), max_size=10, unique=True)))
    else:
        canary_count = draw(st.integers(0, 20))
    if kind == "percentages":
        return targets, WavePlan(canary, canary_count, percentages=tuple(draw(percentages_st)))
    if kind == "exponential":
        start = draw(st.integers(1, 50))
        factor = draw(st.sampled_from([1.0, 1.5, 2.0, 3.0, 10.0]))
        return targets, WavePlan(canary, canary_count, exponential_start=start, exponential_factor=factor)
    return targets, WavePlan(canary, canary_count)


@given(plans())
def test_every_target_is_in_exactly_one_wave(case: tuple[list[str], WavePlan]) -> None:
    targets, plan = case
    waves = plan_waves(targets, plan)
    flat = [s for wave in waves for s in wave]
    assert sorted(flat) == sorted(targets)
    assert all(waves), "no empty wave"


@given(plans())
def test_the_canary_goes_first_and_the_rest_keeps_its_order(case: tuple[list[str], WavePlan]) -> None:
    targets, plan = case
    waves = plan_waves(targets, plan)
    canary = list(plan.canary) if plan.canary else targets[: plan.canary_count]
    if canary:
        assert waves[0] == canary
        rest = [s for wave in waves[1:] for s in wave]
    else:
        rest = [s for wave in waves for s in wave]
    assert rest == [t for t in targets if t not in set(canary)]


@given(targets_st, percentages_st)
def test_percentage_waves_are_within_one_station_of_their_share(
    targets: list[str], percentages: list[int]
) -> None:
    n = len(targets)
    waves = plan_waves(targets, WavePlan(percentages=tuple(percentages)))
    # Every wave ends where its cumulative share, rounded up, ends (waves that round to nothing
    # are left out), so no wave ends more than one station past its exact share.
    ends = [sum(len(w) for w in waves[: i + 1]) for i in range(len(waves))]
    shares = [sum(percentages[: i + 1]) * n / 100 for i in range(len(percentages))]
    assert ends == sorted({min(n, math.ceil(share - 1e-9)) for share in shares} - {0} | {n})
    assert all(min(abs(end - share) for share in [*shares, n]) < 1 for end in ends)


@given(st.integers(1, 500), st.integers(1, 50), st.sampled_from([1.0, 1.5, 2.0, 4.0]))
def test_exponential_waves_never_shrink_except_the_last(total: int, start: int, factor: float) -> None:
    plan = WavePlan(exponential_start=start, exponential_factor=factor)
    waves = plan_waves([str(n) for n in range(total)], plan)
    assert sizes(waves)[:-1] == sorted(sizes(waves)[:-1])
    assert sizes(waves)[0] == min(start, total)
