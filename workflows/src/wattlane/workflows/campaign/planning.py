"""The decisions of a running firmware campaign, without I/O: whether a wave's gate lets the
next one start, whether failures abort the campaign.

Pure functions of their arguments, so the FirmwareCampaign workflow replays them identically and
property tests can state what they promise. Waves are planned by the CSMS when the campaign is
created; maintenance windows (which need time zone data) are in `windows`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from wattlane.contracts.firmware_campaign import ANY_FAILURE, FailureType


def _exact(value: float) -> Fraction:
    """A percentage or factor as the decimal a person typed (33.3 is 333/10, not the float's
    binary neighbour), so thresholds compare exactly."""
    return Fraction(str(value))


@dataclass(frozen=True)
class WaveCounts:
    """A wave's stations by outcome so far (`total` includes those not yet finished)."""

    total: int
    succeeded: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        """Stations that succeeded or failed."""
        return self.succeeded + self.failed


@dataclass(frozen=True)
class Gate:
    """What lets the next wave start: ≥ `min_success_percent` of the wave succeeded once at
    least `min_sample` of it finished — or, with `manual`, a person once the wave finished."""

    min_success_percent: float = 100.0
    min_sample: int = 1
    manual: bool = False


class GateDecision(StrEnum):
    """WAIT: not enough is known yet. ADVANCE: start the next wave. HOLD: a person decides
    (the gate is manual, or the wave finished below its success threshold)."""

    WAIT = "WAIT"
    ADVANCE = "ADVANCE"
    HOLD = "HOLD"


def evaluate_gate(gate: Gate, counts: WaveCounts) -> GateDecision:
    """The gate's decision for a wave with these counts."""
    if gate.manual:
        return GateDecision.HOLD if counts.finished >= counts.total else GateDecision.WAIT
    # A wave smaller than the sample is judged once all of it finished.
    if counts.finished < min(gate.min_sample, counts.total):
        return GateDecision.WAIT
    if counts.succeeded * 100 >= _exact(gate.min_success_percent) * counts.total:
        return GateDecision.ADVANCE
    if counts.finished >= counts.total:
        return GateDecision.HOLD
    return GateDecision.WAIT  # the stations still running may yet reach the threshold


@dataclass(frozen=True)
class AbortRule:
    """Abort once at least `min_finished` stations of the campaign finished and more than
    `threshold_percent` of those failed with `failure_type` (or any type, `ANY_FAILURE`)."""

    failure_type: str = ANY_FAILURE
    threshold_percent: float = 100.0
    min_finished: int = 1


@dataclass(frozen=True)
class AbortVerdict:
    """The rule that fired and a sentence saying why, for the campaign's decision log."""

    rule: AbortRule
    reason: str


def evaluate_abort(
    rules: Sequence[AbortRule], finished: int, failures: Mapping[FailureType, int]
) -> AbortVerdict | None:
    """The first rule the campaign's counts so far break, or None. `finished` counts every
    station that succeeded or failed; `failures` the failed ones by type."""
    for rule in rules:
        if finished < max(1, rule.min_finished):
            continue  # too few finished: one early failure must not stop a rollout of 10,000
        if rule.failure_type == ANY_FAILURE:
            failed = sum(failures.values())
        else:
            failed = failures.get(FailureType(rule.failure_type), 0)
        if failed * 100 > _exact(rule.threshold_percent) * finished:
            return AbortVerdict(
                rule,
                f"{failed} of {finished} finished stations failed ({rule.failure_type}), "
                f"above the {rule.threshold_percent:g}% threshold",
            )
    return None
