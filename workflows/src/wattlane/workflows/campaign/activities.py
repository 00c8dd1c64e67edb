"""The FirmwareCampaign's activities: each is one call to the CSMS's internal API (the CSMS
holds the stations' sockets and the campaign's record of truth)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from wattlane.workflows.campaign.types import (
    DecisionInput,
    DecisionRecorded,
    DispatchInput,
    DispatchResult,
    Notified,
    NotifyInput,
    Progress,
    SyncInput,
)


class CampaignActivities:
    """Activity definitions (names and shapes). The CSMS side (internal RPCs that dispatch,
    sync and record) is not built yet: a worker without it fails these non-retryably, so a
    campaign started by mistake stops at once instead of retrying for ever."""

    @activity.defn(name="dispatch_campaign_wave")
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """Send the update to the wave's next stations."""
        raise ApplicationError("the CSMS's campaign dispatch is not available", non_retryable=True)

    @activity.defn(name="sync_campaign")
    async def sync(self, input: SyncInput) -> Progress:
        """Expire stations past their timeout, then read the campaign's progress."""
        raise ApplicationError("the CSMS's campaign progress is not available", non_retryable=True)

    @activity.defn(name="record_campaign_decision")
    async def record_decision(self, input: DecisionInput) -> DecisionRecorded:
        """Store a decision (and the campaign's state) at the CSMS."""
        raise ApplicationError("the CSMS's campaign decisions are not available", non_retryable=True)

    @activity.defn(name="notify_campaign_owner")
    async def notify(self, input: NotifyInput) -> Notified:
        """Mail the campaign's creator."""
        raise ApplicationError("campaign mails are not available", non_retryable=True)
