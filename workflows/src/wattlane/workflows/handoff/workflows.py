"""TransactionHandoff: deliver one completed transaction, retried until the consumer takes it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from wattlane.contracts.handoff import WORKFLOW, HandoffInput, HandoffResult
    from wattlane.workflows.handoff.activities import HandoffActivities

# Billing may be down for a while: keep trying (capped backoff) rather than lose a transaction.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=WORKFLOW)
class TransactionHandoff:
    @workflow.run
    async def run(self, input: HandoffInput) -> HandoffResult:
        return await workflow.execute_activity_method(
            HandoffActivities.record,
            input,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
