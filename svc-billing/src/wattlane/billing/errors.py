"""The errors of the pricing domain: a tariff or a session that cannot be priced.

Pricing depends on the standard library only, so these do not subclass core's gRPC-aware
`DomainError`; each carries a stable `reason` and field violations (`field` is the path inside
the tariff or session, e.g. `elements[1].price_components[0].step_size`) so the service's API
layer maps them to INVALID_ARGUMENT with field violations in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One invalid field: its path and what is wrong with it."""

    field: str
    description: str


class PricingError(ValueError):
    """Base of every expected pricing failure."""

    reason = "PRICING_ERROR"

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))

    @property
    def fields(self) -> list[str]:
        """The paths of the invalid fields, in the order found."""
        return [v.field for v in self.violations]


class InvalidTariff(PricingError):
    """A tariff version breaks a rule of the OCPI 2.2.1 shape or of Wattlane's pricing."""

    reason = "INVALID_TARIFF"


class InvalidSession(PricingError):
    """A session's meter data cannot be priced (naive instants, samples out of order...)."""

    reason = "INVALID_SESSION"
