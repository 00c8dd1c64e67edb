"""The handoff's activities: billing seals the transaction's charge record (an upsert by
transaction id), then the CSMS records the delivery (idempotent per transaction)."""

from __future__ import annotations

import logging

import grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from wattlane.api.csms.v1 import internal_pb2
from wattlane.core.clients.billing import BillingClient
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.handoff.types import WORKFLOW, ChargeRecorded, HandoffInput, HandoffResult

log = logging.getLogger(__name__)


class HandoffActivities:
    def __init__(self, csms: CsmsInternal, billing: BillingClient | None = None) -> None:
        self._csms = csms
        self._billing = billing

    @activity.defn(name="record_charge")
    async def record_charge(self, input: HandoffInput) -> ChargeRecorded:
        """Have billing seal the transaction's charge record; a repeat returns the same record.

        Every refusal but a malformed name is retried (capped backoff, no limit): billing down,
        the CSMS unreachable from billing, even a missing permission are fixed by bringing the
        parts back or correcting their configuration, and a failed workflow would lose the
        transaction's record. A worker without billing configured retries too."""
        if self._billing is None:
            raise ApplicationError(
                "billing is not configured at this worker (WATTLANE_WORKER_BILLING_ADDRESS)"
            )
        try:
            record = await self._billing.record_charge(input.transaction, activity.info().workflow_id or "")
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT and (final := business_error(error)):
                raise final from None
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                log.warning(
                    "billing refused the charge record of %s (%s: %s); retrying",
                    input.transaction,
                    error.code().name,
                    error.details(),
                )
            raise
        return ChargeRecorded(charge_record=record.name)

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
