"""The handoff workflow's contract, shared by the CSMS (whose relay starts it) and the worker."""

from __future__ import annotations

from dataclasses import dataclass

WORKFLOW = "TransactionHandoff"
TASK_QUEUE = "billing"


def workflow_id(transaction_id: int) -> str:
    """One workflow per completed transaction: a second start is rejected by Temporal."""
    return f"transaction-{transaction_id}"


@dataclass(frozen=True)
class HandoffInput:
    """`transactions/{id}`."""

    transaction: str


@dataclass(frozen=True)
class HandoffResult:
    """How many deliveries the consumer has seen for the transaction (1 unless retried)."""

    deliveries: int
