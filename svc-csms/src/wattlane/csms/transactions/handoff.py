"""The CSMS's side of the exactly-once handoff of completed transactions to billing.

The relay: completed transactions wait in the outbox (written in the database transaction that
ended them) until their workflow is started on Temporal. One workflow per transaction, its id
from the transaction id: when the relay crashes after starting a workflow and before marking the
row, the next pass's start is rejected as already started and the row is marked then. The
workflow's consumer deduplicates by transaction id too, and records each delivery here
(`record_delivery`), so repeats are counted.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from wattlane.contracts import handoff
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.core.orm import utcnow
from wattlane.core.outbox import Relay
from wattlane.core.temporal import LazyClient
from wattlane.csms.models import TransactionHandoff
from wattlane.csms.names import transaction_name
from wattlane.csms.transactions import repository


class HandoffRelay:
    """Starts one handoff workflow per completed transaction in the outbox."""

    def __init__(
        self, db: Database, temporal: LazyClient, task_queue: str, *, interval: float = 2.0, batch: int = 500
    ) -> None:
        self._db = db
        self._temporal = temporal
        self._task_queue = task_queue
        self._batch = batch
        self.relay = Relay("transactions", self.relay_once, interval=interval)

    async def relay_once(self) -> int:
        """Start the workflows of waiting transactions; returns how many were handed on."""
        if not self._temporal.configured:
            return 0
        handed = 0
        while True:
            async with self._db.reader() as session:
                waiting = await repository.waiting_handoffs(session, self._batch)
            if not waiting:
                return handed
            client = await self._temporal.get()
            for transaction_id in waiting:
                with contextlib.suppress(WorkflowAlreadyStartedError):  # a previous pass started it
                    await client.start_workflow(
                        handoff.WORKFLOW,
                        handoff.HandoffInput(transaction=transaction_name(transaction_id)),
                        id=handoff.workflow_id(transaction_id),
                        task_queue=self._task_queue,
                        # The default lets a closed workflow's id start again: a relay that
                        # crashed before marking would then hand a finished transaction on twice.
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    )
            async with self._db.transaction() as session:
                await repository.mark_relayed(session, waiting, utcnow())
            handed += len(waiting)


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
