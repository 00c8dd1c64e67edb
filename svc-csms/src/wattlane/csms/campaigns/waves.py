"""How a campaign's targets are split into waves (no I/O): a canary first, then percentages of
the rest or an exponential rate. Decided when the campaign is created and stored with each
station, so progress is counted per wave and the workflow only follows the plan."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


class PlanError(ValueError):
    """A wave plan that cannot be applied to the targets; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


def _exact(value: float) -> Fraction:
    """A percentage or factor as the decimal a person typed (33.3 is 333/10, not the float's
    binary neighbour), so thresholds compare exactly."""
    return Fraction(str(value))
