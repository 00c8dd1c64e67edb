"""The relay half of the exactly-once handoff: completed transactions wait in the outbox (written
in the database transaction that ended them) until core's relay starts their workflow.

One workflow per transaction, its id from the transaction id: when the relay crashes after
starting a workflow and before marking the row, the next pass's start is rejected as already
started and the row is marked then. The workflow's consumer deduplicates by transaction id too.
"""

from __future__ import annotations

from wattlane.contracts import handoff
from wattlane.core.db import Database
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient
from wattlane.csms.api.transaction_views import transaction_name
from wattlane.csms.models import TransactionOutbox

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
