"""The decisions of a firmware campaign, without I/O: which stations go in which wave, whether a
wave's gate lets the next one start, whether failures abort the campaign.

Pure functions of their arguments, so the FirmwareCampaign workflow replays them identically and
property tests can state what they promise. Maintenance windows (which need time zone data) are
in `windows`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from wattlane.contracts.firmware_campaign import FailureType

ANY_FAILURE = "ANY"
"""An abort rule's `failure_type` that counts every failure, whatever its type."""


class PlanError(ValueError):
    """A wave plan that cannot be applied to the targets; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _exact(value: float) -> Fraction:
    """A percentage or factor as the decimal a person typed (33.3 is 333/10, not the float's
    binary neighbour), so thresholds compare exactly."""
    return Fraction(str(value))


@dataclass(frozen=True)
class WavePlan:
    """How the targets are split into waves.

    The canary (an explicit list of stations, or the first `canary_count` targets) is wave 0.
    The rest then goes out either in `percentages` (each a share of the stations left after the
    canary; they may sum to less than 100, the remainder is one last wave) or exponentially
    (`exponential_start` stations, then each wave `exponential_factor` times the previous one).
    With neither, the rest is one wave."""

    canary: tuple[str, ...] = ()
    canary_count: int = 0
    percentages: tuple[float, ...] = ()
    exponential_start: int = 0
    exponential_factor: float = 0.0


def plan_waves(targets: Sequence[str], plan: WavePlan) -> list[list[str]]:
    """The waves, in order: every target exactly once, the targets' order kept inside the
    canary's complement, no empty wave. Raises `PlanError` naming the field at fault."""
    if len(set(targets)) != len(targets):
        raise PlanError("targets", "a station is listed twice")
    if not targets:
        raise PlanError("targets", "no station is targeted")
    if plan.canary and plan.canary_count:
        raise PlanError("waves.canary", "give either a canary list or a canary count, not both")
    if plan.canary_count < 0:
        raise PlanError("waves.canary_count", "must not be negative")
    if plan.percentages and plan.exponential_start:
        raise PlanError("waves", "give either percentages or an exponential rate, not both")
    if any(p <= 0 or p > 100 for p in plan.percentages):
        raise PlanError("waves.percentages", "each wave must be more than 0% and at most 100%")
    if sum(_exact(p) for p in plan.percentages) > 100:
        raise PlanError("waves.percentages", "the waves sum to more than 100%")
    if plan.exponential_start < 0:
        raise PlanError("waves.exponential_start", "must not be negative")
    if plan.exponential_start and plan.exponential_factor < 1:
        raise PlanError("waves.exponential_factor", "must be at least 1")

    if plan.canary:
        unknown = sorted(set(plan.canary) - set(targets))
        if unknown:
            raise PlanError("waves.canary", f"not among the targets: {', '.join(unknown[:5])}")
        if len(set(plan.canary)) != len(plan.canary):
            raise PlanError("waves.canary", "a station is listed twice")
        canary = list(plan.canary)
    else:
        canary = list(targets[: plan.canary_count])
    chosen = set(canary)
    rest = [t for t in targets if t not in chosen]

    waves = [canary]
    if plan.percentages:
        waves += _by_percentages(rest, plan.percentages)
    elif plan.exponential_start:
        waves += _exponential(rest, plan.exponential_start, plan.exponential_factor)
    else:
        waves.append(rest)
    return [w for w in waves if w]


def _by_percentages(rest: list[str], percentages: Sequence[float]) -> list[list[str]]:
    # Boundaries from cumulative shares (exact fractions, rounded up), so rounding never drifts:
    # 3 waves of 33.3% of 10 stations are 4, 3, 3 — not 3, 3, 3 and a stray wave of 1.
    waves: list[list[str]] = []
    start = 0
    cumulative = Fraction(0)
    for p in percentages:
        cumulative += _exact(p)
        end = min(len(rest), math.ceil(cumulative * len(rest) / 100))
        waves.append(rest[start:end])
        start = end
    waves.append(rest[start:])
    return waves


def _exponential(rest: list[str], first: int, factor: float) -> list[list[str]]:
    waves: list[list[str]] = []
    start = 0
    size = Fraction(first)
    while start < len(rest):
        end = start + max(1, math.ceil(size))
        waves.append(rest[start:end])
        start = end
        size *= _exact(factor)
    return waves


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
