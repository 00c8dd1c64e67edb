"""The CSMS's side of the exactly-once handoff of completed transactions to billing.

The relay: completed transactions wait in the outbox (written in the database transaction that
ended them) until core's outbox relay starts their workflow. One workflow per transaction, its
id from the transaction id: when the relay crashes after starting a workflow and before marking
the row, the next pass's start is rejected as already started and the row is marked then. The
workflow's consumer deduplicates by transaction id too, and records each delivery here
(`record_delivery`), so repeats are counted.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.contracts import handoff
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient
from wattlane.csms.models import TransactionHandoff, TransactionOutbox
from wattlane.csms.names import transaction_name
from wattlane.csms.transactions import repository

OUTBOX = OutboxTable(
    "transactions",
    key=TransactionOutbox.transaction_id,
    created=TransactionOutbox.create_time,
    waiting=TransactionOutbox.relay_time.is_(None),
    done=lambda at: {"relay_time": at},
)


def handoff_relay(
    db: Database, temporal: LazyClient, task_queue: str, *, interval: float = 2.0, batch: int = 500
) -> WorkflowRelay:
    """Core's outbox relay over the transaction outbox: one handoff workflow per transaction."""
    return WorkflowRelay(
        db,
        temporal,
        OUTBOX,
        lambda transaction_id: WorkflowStart(
            handoff.WORKFLOW,
            handoff.HandoffInput(transaction=transaction_name(transaction_id)),
            id=handoff.workflow_id(transaction_id),
            task_queue=task_queue,
        ),
        interval=interval,
        batch=batch,
    )


async def record_delivery(
    session: AsyncSession, transaction_id: int, workflow_id: str, *, name: str
) -> TransactionHandoff:
    """Record one delivery of the completed transaction `transaction_id` by the workflow
    `workflow_id` (repeats are counted); returns the handoff as it is now. NOT_FOUND for an
    unknown transaction, FAILED_PRECONDITION for one that has not ended (`name` is the
    transaction's name as the caller gave it, for the errors)."""
    transaction = await repository.get_transaction(session, transaction_id)
    if transaction is None:
        raise NotFound(name)
    if transaction.stop_time is None:
        raise FailedPrecondition(f"{name} has not ended")
    return await repository.record_handoff(session, transaction_id, workflow_id, utcnow())
