"""A running campaign's gates and abort rules: examples, and the properties they promise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wattlane.contracts.firmware_campaign import ANY_FAILURE, FailureType
from wattlane.workflows.campaign.planning import (
    AbortRule,
    Gate,
    GateDecision,
    WaveCounts,
    evaluate_abort,
    evaluate_gate,
)


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
