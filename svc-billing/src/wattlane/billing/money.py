"""Invoice money per EN 16931: where exact decimals become integer minor units.

Pricing keeps full precision (BILLING.md); an invoice is where amounts are rounded, once and in
a fixed order:

1. each line's net amount (quantity times unit price) is rounded to the currency's minor unit;
2. per VAT group (country and rate) the line nets are summed — already rounded, so the
   breakdown's taxable amount is exactly the sum of what the lines show — and VAT is computed on
   that sum and rounded once: never per line (many small lines would otherwise lose or gain
   cents);
3. the invoice total is the sum of the nets plus the sum of the groups' VAT.

Rounding is ROUND_HALF_UP (half away from zero for negative amounts, so a credit note negating
an invoice rounds to exactly its negation). Pure: the standard library and core.currencies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from wattlane.core.currencies import minor_units

_HUNDRED = Decimal(100)


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in integer minor units of `currency`, rounded half up (EUR 1.005 → 101)."""
    digits = minor_units(currency)
    return int((amount * (Decimal(10) ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units as an exact decimal with the currency's digits (101 → 1.01)."""
    return Decimal(minor).scaleb(-minor_units(currency))


def format_minor(minor: int, currency: str) -> str:
    """Minor units as a plain decimal string with the currency's digits ("1.01", JPY "101")."""
    return f"{from_minor(minor, currency):f}"


def line_net(quantity: Decimal, unit_price: Decimal, currency: str) -> int:
    """A line's net amount in minor units: quantity times unit price, rounded once."""
    return to_minor(quantity * unit_price, currency)


@dataclass(frozen=True, slots=True)
class Line:
    """What the totals need of a line: its rounded net and its VAT group."""

    net_minor: int
    vat_rate: Decimal  # percent, e.g. 21
    vat_country: str = ""


@dataclass(frozen=True, slots=True)
class VatGroup:
    """One row of the VAT breakdown: the lines of one country and rate."""

    vat_country: str
    vat_rate: Decimal
    taxable_minor: int  # the sum of the group's (rounded) line nets
    vat_minor: int  # VAT on that sum, rounded once


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's totals in minor units."""

    net_minor: int
    vat_minor: int
    breakdown: tuple[VatGroup, ...]

    @property
    def total_minor(self) -> int:
        """Net plus VAT: what is payable."""
        return self.net_minor + self.vat_minor


def vat_of(taxable_minor: int, rate: Decimal) -> int:
    """VAT in minor units on an amount already in minor units, rounded half up."""
    return int((Decimal(taxable_minor) * rate / _HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def totals(lines: Iterable[Line]) -> Totals:
    """The totals of an invoice's lines: VAT per (country, rate), groups in a stable order
    (country, then rate)."""
    taxable: dict[tuple[str, Decimal], int] = {}
    net = 0
    for line in lines:
        net += line.net_minor
        key = (line.vat_country, line.vat_rate.normalize())
        taxable[key] = taxable.get(key, 0) + line.net_minor
    groups = tuple(
        VatGroup(country, rate, amount, vat_of(amount, rate))
        for (country, rate), amount in sorted(taxable.items())
    )
    return Totals(net, sum(g.vat_minor for g in groups), groups)
