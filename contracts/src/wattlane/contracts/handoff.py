"""The transaction handoff as the CSMS sees it: its outbox relay starts one workflow per
completed transaction on the billing queue, which has billing seal the transaction's charge
record and then records the delivery at the CSMS."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.contracts import task_queues

TASK_QUEUE = task_queues.BILLING
WORKFLOW = "TransactionHandoff"


def workflow_id(transaction_id: int) -> str:
    """One workflow per completed transaction: a second start is rejected by Temporal."""
    return f"transaction-{transaction_id}"


@dataclass(frozen=True)
class HandoffInput:
    """`transactions/{id}`."""

    transaction: str


@dataclass(frozen=True)
class HandoffResult:
    """How many deliveries the CSMS has seen for the transaction (1 unless retried), and the
    charge record billing sealed for it (empty for workflows started before billing existed)."""

    deliveries: int
    charge_record: str = ""
