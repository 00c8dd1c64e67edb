"""Inputs and outputs of the handoff's activities (what the CSMS needs to start the workflow
lives in `wattlane.contracts.handoff`)."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.contracts.handoff import WORKFLOW, HandoffInput, HandoffResult

__all__ = ["WORKFLOW", "ChargeRecorded", "HandoffInput", "HandoffResult"]


@dataclass(frozen=True)
class ChargeRecorded:
    """The charge record billing sealed for the transaction (the same one on every retry)."""

    charge_record: str  # `chargeRecords/{id}`
