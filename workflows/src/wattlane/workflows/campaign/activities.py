"""The FirmwareCampaign's activities: each is one call to the CSMS's internal API (the CSMS
holds the stations' sockets and the campaign's record of truth). Refusals that retrying cannot
fix (a malformed request, an unknown campaign) are final; the CSMS being down is retried."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from wattlane.api.csms.v1 import internal_pb2
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.campaign.types import (
    DecisionInput,
    DecisionRecorded,
    DispatchInput,
    DispatchResult,
    Notified,
    NotifyInput,
    Progress,
    SyncInput,
    WaveTally,
)
from wattlane.workflows.csms import CsmsInternal

T = TypeVar("T")
log = logging.getLogger(__name__)


class CampaignActivities:
    """Dispatch, sync and record at the CSMS. Mails to the campaign's owner are not built yet:
    `notify` logs and reports `sent=False` (the decision itself is recorded at the CSMS)."""

    def __init__(self, csms: CsmsInternal | None = None) -> None:
        self._csms = csms

    def _stub(self) -> CsmsInternal:
        if self._csms is None:
            raise ApplicationError("the CSMS is not configured at this worker (WATTLANE_WORKER_CSMS_ADDRESS)")
        return self._csms

    @activity.defn(name="dispatch_campaign_wave")
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """Send the update to the wave's next stations (never one twice: the CSMS claims each)."""
        started = Timestamp()
        if input.wave_started:
            started.FromDatetime(datetime.fromisoformat(input.wave_started))
        request = internal_pb2.DispatchCampaignWaveRequest(
            campaign=input.campaign,
            wave=input.wave,
            limit=input.limit,
            location=input.location,
            signing_certificate=input.signing_certificate,
            signature=input.signature,
            ocpp_retries=input.ocpp_retries,
            ocpp_retry_interval_seconds=input.ocpp_retry_interval_seconds,
            offline_limit_seconds=input.offline_limit_seconds,
            wave_start_time=started if input.wave_started else None,
        )
        answer = await _call(self._stub().stub.DispatchCampaignWave(request))
        return DispatchResult(sent=answer.sent, offline=answer.offline, failed=answer.failed)

    @activity.defn(name="sync_campaign")
    async def sync(self, input: SyncInput) -> Progress:
        """Expire stations past their timeout, then read the campaign's progress."""
        tally = await _call(
            self._stub().stub.SyncCampaign(
                internal_pb2.SyncCampaignRequest(
                    campaign=input.campaign, station_timeout_seconds=input.station_timeout_seconds
                )
            )
        )
        return Progress(
            waves=[WaveTally(w.wave, w.total, w.succeeded, w.failed) for w in tally.waves],
            failures=dict(tally.failures),
        )

    @activity.defn(name="record_campaign_decision")
    async def record_decision(self, input: DecisionInput) -> DecisionRecorded:
        """Store a decision (and the campaign's state) at the CSMS."""
        await _call(
            self._stub().stub.RecordCampaignDecision(
                internal_pb2.RecordCampaignDecisionRequest(
                    campaign=input.campaign,
                    state=input.state,
                    wave=input.wave,
                    actor=input.actor,
                    action=input.action,
                    reason=input.reason,
                )
            )
        )
        return DecisionRecorded()

    @activity.defn(name="notify_campaign_owner")
    async def notify(self, input: NotifyInput) -> Notified:
        """Mail the campaign's creator (not built yet: logged, reported as not sent)."""
        log.warning(
            "campaign mail not sent (not built yet): %s %s: %s", input.campaign, input.event, input.reason
        )
        return Notified(sent=False)


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        if (final := business_error(error)) is not None:
            raise final from None
        raise
