"""The handoff activity: record the delivery at the CSMS (idempotent per transaction) until
billing exists to take it."""

from __future__ import annotations

import grpc
from temporalio import activity

from wattlane.api.csms.v1 import internal_pb2
from wattlane.contracts.handoff import WORKFLOW, HandoffInput, HandoffResult
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.csms import CsmsInternal


class HandoffActivities:
    def __init__(self, csms: CsmsInternal) -> None:
        self._csms = csms

    @activity.defn(name="record_transaction_handoff")
    async def record(self, input: HandoffInput) -> HandoffResult:
        """Record the handoff; a retry after a lost answer is counted, not duplicated."""
        try:
            handoff = await self._csms.stub.RecordHandoff(
                internal_pb2.RecordHandoffRequest(
                    transaction=input.transaction, workflow_id=activity.info().workflow_id or ""
                )
            )
        except grpc.aio.AioRpcError as error:
            if (final := business_error(error)) is not None:
                raise final from None
            raise
        outcomes.record(WORKFLOW, "recorded" if handoff.deliveries == 1 else "redelivered")
        return HandoffResult(deliveries=handoff.deliveries)
