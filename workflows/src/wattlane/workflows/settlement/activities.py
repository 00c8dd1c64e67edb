"""The settlement's activities: billing's settlement RPCs through the billing client, with the
worker's service token (`billing.settlement`)."""

from __future__ import annotations

import logging

import grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from wattlane.contracts.settlement import WORKFLOW
from wattlane.core.clients.billing import BillingClient
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.settlement.types import (
    ChunkResult,
    Recipient,
    RecipientsPage,
    RecipientsRequest,
    SettleRequest,
)

log = logging.getLogger(__name__)


def _final_or_raise(error: grpc.aio.AioRpcError, what: str) -> ApplicationError:
    """A refusal retrying cannot change ends the activity; anything else is retried (logged
    unless billing is merely down)."""
    if (final := business_error(error)) is not None:
        return final
    if error.code() != grpc.StatusCode.UNAVAILABLE:
        log.warning("billing refused %s (%s: %s); retrying", what, error.code().name, error.details())
    raise error


class SettlementActivities:
    def __init__(self, billing: BillingClient | None) -> None:
        self._billing = billing

    def _client(self) -> BillingClient:
        if self._billing is None:  # retried: configuring billing fixes it
            raise ApplicationError(
                "billing is not configured at this worker (WATTLANE_WORKER_BILLING_ADDRESS)"
            )
        return self._billing

    @activity.defn(name="list_settlement_recipients")
    async def list_recipients(self, request: RecipientsRequest) -> RecipientsPage:
        """One page of the month's recipients (payers with open charge records)."""
        period = request.period
        try:
            response = await self._client().list_settlement_recipients(
                period.issuer, period.month, period.time_zone, request.page_size, request.page_token
            )
        except grpc.aio.AioRpcError as error:
            raise _final_or_raise(error, f"the recipients of {period.issuer} {period.month}") from None
        return RecipientsPage(
            [Recipient(r.payer, r.currency) for r in response.recipients], response.next_page_token
        )

    @activity.defn(name="settle_recipients")
    async def settle(self, request: SettleRequest) -> ChunkResult:
        """Invoice the recipients (billing makes each invoice once: a retry returns them)."""
        period = request.period
        try:
            response = await self._client().settle_recipients(
                period.issuer,
                period.month,
                period.time_zone,
                [(r.payer, r.currency) for r in request.recipients],
                request.vat_country,
            )
        except grpc.aio.AioRpcError as error:
            raise _final_or_raise(error, f"the settlement of {period.issuer} {period.month}") from None
        result = ChunkResult()
        for settled in response.settled:
            if settled.skipped_reason:
                log.warning("settlement of %s %s: %s", period.issuer, period.month, settled.skipped_reason)
            result = result + ChunkResult(
                created=int(settled.created),
                existing=int(bool(settled.invoice) and not settled.created),
                charge_records=settled.charge_records,
                skipped=int(bool(settled.skipped_reason)),
            )
        outcomes.record(WORKFLOW, "invoiced", result.created)
        outcomes.record(WORKFLOW, "already_invoiced", result.existing)
        outcomes.record(WORKFLOW, "skipped", result.skipped)
        return result
