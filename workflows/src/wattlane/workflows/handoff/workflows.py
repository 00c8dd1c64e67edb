"""TransactionHandoff: billing seals the completed transaction's charge record, then the CSMS
records the delivery; each step retried until it is taken."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from wattlane.workflows.handoff.activities import HandoffActivities
    from wattlane.workflows.handoff.types import WORKFLOW, HandoffInput, HandoffResult

# Billing may be down for a while: keep trying (capped backoff) rather than lose a transaction.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
# Workflows started before billing existed (histories without it) only record the delivery.
RECORD_CHARGE_PATCH = "record-charge"


@workflow.defn(name=WORKFLOW)
class TransactionHandoff:
    @workflow.run
    async def run(self, input: HandoffInput) -> HandoffResult:
        charge_record = ""
        if workflow.patched(RECORD_CHARGE_PATCH):
            recorded = await workflow.execute_activity_method(
                HandoffActivities.record_charge,
                input,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            charge_record = recorded.charge_record
        result = await workflow.execute_activity_method(
            HandoffActivities.record,
            input,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        return dataclasses.replace(result, charge_record=charge_record) if charge_record else result
