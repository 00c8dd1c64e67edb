"""A campaign's waves, gates and abort rules: examples, and the properties they promise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattlane.contracts.firmware_campaign import FailureType
from wattlane.workflows.campaign.planning import (
    ANY_FAILURE,
    AbortRule,
    Gate,
    GateDecision,
    PlanError,
    WaveCounts,
    WavePlan,
    evaluate_abort,
    evaluate_gate,
    plan_waves,
)

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
    waves = plan_waves(targets, WavePlan(percentages=tuple(percentages)))
    # Every wave is rounded from a cumulative share: a wave's end is within one station of it.
    end = 0
    cumulative = 0
    for wave, share in zip(waves, percentages, strict=False):
        end += len(wave)
        cumulative += share
        assert abs(end - cumulative * len(targets) / 100) < 1 or len(wave) == 0


@given(st.integers(1, 500), st.integers(1, 50), st.sampled_from([1.0, 1.5, 2.0, 4.0]))
def test_exponential_waves_never_shrink_except_the_last(total: int, start: int, factor: float) -> None:
    plan = WavePlan(exponential_start=start, exponential_factor=factor)
    waves = plan_waves([str(n) for n in range(total)], plan)
    assert sizes(waves)[:-1] == sorted(sizes(waves)[:-1])
    assert sizes(waves)[0] == min(start, total)


def test_gate_waits_for_its_minimum_sample() -> None:
    gate = Gate(min_success_percent=90, min_sample=10)
    assert evaluate_gate(gate, WaveCounts(total=50, succeeded=9)) is GateDecision.WAIT
    assert evaluate_gate(gate, WaveCounts(total=50, succeeded=45)) is GateDecision.ADVANCE


def test_a_small_wave_is_judged_once_all_of_it_finished() -> None:
    gate = Gate(min_success_percent=80, min_sample=10)
    assert evaluate_gate(gate, WaveCounts(total=5, succeeded=4)) is GateDecision.WAIT
    assert evaluate_gate(gate, WaveCounts(total=5, succeeded=4, failed=1)) is GateDecision.ADVANCE


def test_a_finished_wave_below_the_threshold_holds_for_a_person() -> None:
    gate = Gate(min_success_percent=90, min_sample=1)
    assert evaluate_gate(gate, WaveCounts(total=10, succeeded=8, failed=1)) is GateDecision.WAIT
    assert evaluate_gate(gate, WaveCounts(total=10, succeeded=8, failed=2)) is GateDecision.HOLD


def test_a_manual_gate_holds_once_the_wave_finished() -> None:
    gate = Gate(manual=True)
    assert evaluate_gate(gate, WaveCounts(total=3, succeeded=2)) is GateDecision.WAIT
    assert evaluate_gate(gate, WaveCounts(total=3, succeeded=3)) is GateDecision.HOLD


@given(
    st.integers(1, 1000),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(0, 100),
    st.integers(1, 100),
)
def test_the_gate_advances_only_on_enough_successes(
    total: int, succeeded: int, failed: int, percent: int, sample: int
) -> None:
    succeeded = min(succeeded, total)
    failed = min(failed, total - succeeded)
    decision = evaluate_gate(Gate(percent, sample), WaveCounts(total, succeeded, failed))
    if decision is GateDecision.ADVANCE:
        assert succeeded * 100 >= percent * total
        assert succeeded + failed >= min(sample, total)
    if succeeded + failed == total and total >= sample:
        assert decision is not GateDecision.WAIT, "a finished wave is decided"


def test_canary_failures_above_the_threshold_abort() -> None:
    rules = [AbortRule(FailureType.DOWNLOAD_FAILED, threshold_percent=20, min_finished=5)]
    verdict = evaluate_abort(rules, 5, {FailureType.DOWNLOAD_FAILED: 2})
    assert verdict is not None and verdict.rule is rules[0]
    assert "2 of 5" in verdict.reason


def test_below_the_minimum_finished_nothing_aborts() -> None:
    rules = [AbortRule(ANY_FAILURE, threshold_percent=10, min_finished=5)]
    assert evaluate_abort(rules, 4, {FailureType.DOWNLOAD_FAILED: 4}) is None


def test_a_rule_counts_only_its_failure_type() -> None:
    rules = [AbortRule(FailureType.INVALID_SIGNATURE, threshold_percent=0, min_finished=1)]
    assert evaluate_abort(rules, 10, {FailureType.DOWNLOAD_FAILED: 9}) is None
    assert evaluate_abort(rules, 10, {FailureType.INVALID_SIGNATURE: 1}) is not None


def test_exactly_at_the_threshold_does_not_abort() -> None:
    rules = [AbortRule(ANY_FAILURE, threshold_percent=20, min_finished=1)]
    assert evaluate_abort(rules, 10, {FailureType.TIMED_OUT: 2}) is None
    assert evaluate_abort(rules, 10, {FailureType.TIMED_OUT: 3}) is not None


@given(
    st.integers(0, 500),
    st.dictionaries(st.sampled_from(list(FailureType)), st.integers(0, 100)),
    st.integers(0, 100),
    st.integers(0, 100),
)
def test_abort_fires_exactly_above_the_threshold_after_the_minimum(
    finished: int, failures: dict[FailureType, int], threshold: int, minimum: int
) -> None:
    finished = max(finished, sum(failures.values()))
    verdict = evaluate_abort([AbortRule(ANY_FAILURE, threshold, minimum)], finished, failures)
    failed = sum(failures.values())
    expected = finished >= max(1, minimum) and failed * 100 > threshold * finished
    assert (verdict is not None) == expected
