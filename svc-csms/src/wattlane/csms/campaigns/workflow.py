"""The CSMS's side of the FirmwareCampaign workflow: starting it and sending it people's decisions.

Creating a campaign writes an outbox row (with the workflow's input) in the same database
transaction; core's outbox relay then starts the workflow under the id derived from the campaign
id, so a start lost to a crash is retried on the next pass and a repeated one is rejected as
already started (and counts as delivered). Pause, resume and cancel go to the workflow as
updates: it owns the campaign's state, and records each decision (with who and why) back here
through RecordCampaignDecision."""

from __future__ import annotations

import logging

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from wattlane.contracts import firmware_campaign
from wattlane.contracts.firmware_campaign import CampaignCommand, CampaignInput, CampaignStatus
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, Unavailable
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient, send_update
from wattlane.csms.models import CampaignOutbox

log = logging.getLogger("wattlane.csms.campaigns")

OUTBOX = OutboxTable(
    "campaigns",
    key=CampaignOutbox.campaign_id,
    created=CampaignOutbox.create_time,
    waiting=CampaignOutbox.relay_time.is_(None),
    done=lambda at: {"relay_time": at},
)
_CONVERTER = DataConverter.default.payload_converter


def outbox_row(campaign_id: str, input: CampaignInput) -> CampaignOutbox:
    """The outbox row that starts the campaign's workflow with `input` (add it in the
    transaction that creates the campaign)."""
    payload = _CONVERTER.to_payloads([input])[0]
    return CampaignOutbox(campaign_id=campaign_id, input=payload.SerializeToString(), create_time=utcnow())


def _input(row: CampaignOutbox) -> CampaignInput:
    payload = Payload.FromString(row.input)
    decoded = _CONVERTER.from_payloads([payload], [CampaignInput])[0]
    assert isinstance(decoded, CampaignInput)
    return decoded


class CampaignWorkflows:
    """Starts FirmwareCampaign workflows (core's outbox relay) and sends them decisions."""

    def __init__(
        self,
        db: Database,
        temporal: LazyClient,
        *,
        task_queue: str = firmware_campaign.TASK_QUEUE,
        interval: float = 2.0,
    ) -> None:
        self.db = db
        self._temporal_link = temporal
        self._task_queue = task_queue
        self.relay = WorkflowRelay(db, temporal, OUTBOX, self.start_for, interval=interval)

    @property
    def configured(self) -> bool:
        """Whether a Temporal address is configured (campaigns only run with one)."""
        return self._temporal_link.configured

    async def start_for(self, campaign_id: str) -> WorkflowStart:
        """What the campaign's outbox row starts: its workflow, with the input stored at creation."""
        async with self.db.reader() as session:
            row = await session.get(CampaignOutbox, campaign_id)
        if row is None:  # the campaign (and its row) was deleted: nothing left to start
            raise LookupError(f"campaigns/{campaign_id} has no outbox row")
        return WorkflowStart(
            firmware_campaign.WORKFLOW,
            _input(row),
            id=firmware_campaign.workflow_id(campaign_id),
            task_queue=self._task_queue,
        )

    def kick(self) -> None:
        """Start waiting workflows now (called after a campaign commits)."""
        self.relay.kick()

    async def _temporal(self) -> Client:
        if not self.configured:
            # Not UNAVAILABLE: retrying will not help until the CSMS is configured with Temporal.
            raise FailedPrecondition(
                "campaigns are run by Temporal, and none is configured (WATTLANE_CSMS_TEMPORAL_ADDRESS)",
                reason="TEMPORAL_NOT_CONFIGURED",
            )
        try:
            return await self._temporal_link.get()
        except ConnectionError as error:
            raise Unavailable(f"Temporal is unavailable: {error}") from None

    async def ensure_started(self, campaign_id: str) -> None:
        """Make sure the campaign's workflow exists (the relay may not have got to it yet)."""
        await self._temporal()
        try:
            await self.relay.deliver(campaign_id)
        except RPCError as error:
            raise Unavailable(f"Temporal refused to start the campaign's workflow: {error.message}") from None

    async def decide(self, campaign_id: str, update: str, command: CampaignCommand) -> CampaignStatus:
        """Send `update` (pause, resume or cancel) to the campaign's workflow; returns its status
        after the decision. FAILED_PRECONDITION when the workflow refuses it (wrong state) or has
        ended or no Temporal is configured, UNAVAILABLE when Temporal cannot be reached."""
        client = await self._temporal()
        name = f"campaigns/{campaign_id}"
        status = await send_update(
            client,
            firmware_campaign.workflow_id(campaign_id),
            update,
            command,
            CampaignStatus,
            start=lambda: self.ensure_started(campaign_id),
            ended=lambda: FailedPrecondition(f"{name} has ended", reason="CAMPAIGN_ENDED"),
            what=f"the workflow of {name}",
        )
        log.info("%s %s by %s", name, update, command.actor, extra={"campaign": name, "state": status.state})
        return status
