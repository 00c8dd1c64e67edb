"""Inputs and outputs of the settlement's workflows and activities (what starters need lives in
`wattlane.contracts.settlement`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wattlane.contracts.settlement import SettlementInput, SettlementResult

__all__ = [
    "ChunkInput",
    "ChunkResult",
    "Period",
    "Recipient",
    "RecipientsPage",
    "RecipientsRequest",
    "SettleRequest",
    "SettlementInput",
    "SettlementResult",
]


@dataclass(frozen=True)
class Period:
    """An issuer's month in its time zone, resolved (`month` never empty)."""

    issuer: str
    month: str
    time_zone: str


@dataclass(frozen=True)
class Recipient:
    """A payer of charge records, in one currency."""

    payer: str
    currency: str


@dataclass(frozen=True)
class RecipientsRequest:
    period: Period
    page_size: int
    page_token: str = ""


@dataclass(frozen=True)
class RecipientsPage:
    recipients: list[Recipient] = field(default_factory=list)
    next_page_token: str = ""


@dataclass(frozen=True)
class SettleRequest:
    """One activity's share of a chunk."""

    period: Period
    recipients: list[Recipient]
    vat_country: str


@dataclass(frozen=True)
class ChunkInput:
    period: Period
    recipients: list[Recipient]
    vat_country: str


@dataclass(frozen=True)
class ChunkResult:
    created: int = 0
    existing: int = 0
    charge_records: int = 0
    skipped: int = 0

    def __add__(self, other: ChunkResult) -> ChunkResult:
        return ChunkResult(
            self.created + other.created,
            self.existing + other.existing,
            self.charge_records + other.charge_records,
            self.skipped + other.skipped,
        )
