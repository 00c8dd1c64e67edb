"""CampaignService: firmware rollout campaigns (`stations.firmware`), scoped by owner path."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.csms.v1 import campaigns_pb2, campaigns_pb2_grpc
from wattlane.contracts import firmware_campaign
from wattlane.contracts.firmware_campaign import CampaignCommand, CampaignInput, StationState
from wattlane.core.audit import AuditLog
from wattlane.core.caller import current_caller
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.filtering import Field
from wattlane.core.idempotency import Idempotency
from wattlane.core.ids import new_id
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.csms.api.campaign_convert import STATE, campaign, campaign_request
from wattlane.csms.campaigns import campaigns, tracking
from wattlane.csms.campaigns.campaigns import CampaignState
from wattlane.csms.campaigns.waves import WavePlan
from wattlane.csms.campaigns.workflow import CampaignWorkflows, outbox_row
from wattlane.csms.models import IDEMPOTENCY_KEYS, CampaignStation, FirmwareCampaign

CAMPAIGN_FILTERS = {
    "state": Field(FirmwareCampaign.state, "enum", list(STATE)),
    "create_time": Field(FirmwareCampaign.create_time, "timestamp"),
}


def _actor() -> str:
    principal = current_caller().principal
    return f"services/{principal.service}" if principal.is_service else f"users/{principal.subject}"


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason or len(reason) > 500:
        raise InvalidArgument.field("reason", "is required (at most 500 characters): say why")
    return reason


class CampaignServicer(campaigns_pb2_grpc.CampaignServiceServicer):
    """Creates, reads and steers campaigns; every change is audited in its transaction. The
    FirmwareCampaign workflow runs each campaign: started through the outbox, steered by updates
    (`workflows`; without Temporal a campaign is stored but does not run)."""

    def __init__(
        self, db: Database, audit: AuditLog, workflows: CampaignWorkflows, *, poll_seconds: int = 30
    ) -> None:
        self.db = db
        self.audit = audit
        self.workflows = workflows
        self.poll_seconds = poll_seconds
        self.idempotency = Idempotency(db, IDEMPOTENCY_KEYS)

    async def _read(self, campaign_id: str) -> campaigns_pb2.Campaign:
        scope = await current_caller().scope()
        async with self.db.reader() as session:
            row = await campaigns.campaign_in_scope(session, scope, campaign_id)
            return campaign(row, await tracking.counts(session, campaign_id))

    async def CreateCampaign(
        self, request: campaigns_pb2.CreateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        """Validates the campaign, resolves its stations and waves, stores it RUNNING and (in the
        same transaction) the outbox row that starts its FirmwareCampaign workflow."""
        if not request.HasField("campaign"):
            raise InvalidArgument.field("campaign", "is required")
        display_name, spec, selection = campaign_request(request.campaign)
        scope = await current_caller().scope()
        replayed = await self.idempotency.replay(request, campaigns_pb2.Campaign)
        if replayed is not None:
            return await self._read(parse_name(replayed.name, "campaigns"))
        actor = _actor()

        async def write(session: AsyncSession) -> campaigns_pb2.Campaign:
            targets = await campaigns.resolve_targets(session, scope, selection, spec.target_version)
            owner = campaigns.owner_path(scope, selection, targets)
            plan = WavePlan(
                spec.canary_stations,
                spec.canary_count,
                spec.percentages,
                spec.exponential_start,
                spec.exponential_factor,
            )
            waves = campaigns.split_waves([t.identity for t in targets], plan)
            now = utcnow()
            row = FirmwareCampaign(
                id=new_id(),
                owner_id=owner.rstrip("/").rsplit("/", 1)[-1],
                owner_path=owner,
                display_name=display_name,
                spec=request.campaign.SerializeToString(),
                target_version=spec.target_version,
                state=CampaignState.RUNNING.value,
                state_reason="",
                current_wave=0,
                target_count=len(targets),
                decisions=[
                    campaigns.decision(now, actor, "CREATE", f"{len(targets)} stations in {len(waves)} waves")
                ],
                creator=actor,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            session.add_all(
                CampaignStation(
                    campaign_id=row.id,
                    identity=identity,
                    wave=wave,
                    state=StationState.QUEUED.value,
                    target_version=spec.target_version,
                    window_seconds=spec.station_timeout_seconds,
                    update_time=now,
                )
                for wave, members in enumerate(waves)
                for identity in members
            )
            await session.flush()
            workflow_input = CampaignInput(
                campaigns.campaign_name(row.id), spec, len(waves), poll_seconds=self.poll_seconds
            )
            session.add(outbox_row(row.id, workflow_input))
            await self.audit.record(
                session,
                resource=campaigns.campaign_name(row.id),
                tenant_path=owner,
                changes={"target_version": spec.target_version, "targets": len(targets), "waves": len(waves)},
            )
            return campaign(row, await tracking.counts(session, row.id))

        created = await self.idempotency.once(request, campaigns_pb2.Campaign, write)
        self.workflows.kick()  # start its workflow now, not at the next tick
        return created

    async def GetCampaign(
        self, request: campaigns_pb2.GetCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        """Gets one campaign with its progress (`stations.firmware` on its owner)."""
        return await self._read(parse_name(request.name, "campaigns"))

    async def ListCampaigns(
        self, request: campaigns_pb2.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.ListCampaignsResponse:
        """Lists the campaigns in scope, newest first."""
        call = await list_call(request, "ListCampaigns", filter_fields=CAMPAIGN_FILTERS)
        async with self.db.reader(snapshot=False) as session:
            rows = await campaigns.list_in_scope(session, call.scope, call.where, call.page)
            listed = [campaign(r, await tracking.counts(session, r.id)) for r in rows[: call.page.size]]
        return campaigns_pb2.ListCampaignsResponse(
            campaigns=listed, next_page_token=call.page.next_token(rows, lambda r: r.id)
        )

    async def _decide(self, name: str, reason_text: str, action: str, update: str) -> campaigns_pb2.Campaign:
        """Checks the caller's permission and the campaign's state here, then sends the decision
        to the campaign's workflow, which records it (who and why) before it answers."""
        campaign_id = parse_name(name, "campaigns")
        reason = _reason(reason_text)
        scope = await current_caller().scope()
        actor = _actor()
        async with self.db.reader() as session:
            row = await campaigns.campaign_in_scope(session, scope, campaign_id)
            campaigns.check_transition(row, action)
            owner_path = row.owner_path
        status = await self.workflows.decide(campaign_id, update, CampaignCommand(actor, reason))
        async with self.db.transaction() as session:
            await self.audit.record(
                session,
                resource=campaigns.campaign_name(campaign_id),
                tenant_path=owner_path,
                changes={"state": status.state, "reason": reason},
            )
        return await self._read(campaign_id)

    async def PauseCampaign(
        self, request: campaigns_pb2.PauseCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        """Pauses a running campaign (its workflow's `pause` update), recording who and why;
        FAILED_PRECONDITION without Temporal."""
        return await self._decide(request.name, request.reason, "PAUSE", firmware_campaign.PAUSE)

    async def ResumeCampaign(
        self, request: campaigns_pb2.ResumeCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        """Resumes a paused campaign (a held gate counts as passed), recording who and why;
        FAILED_PRECONDITION without Temporal."""
        return await self._decide(request.name, request.reason, "RESUME", firmware_campaign.RESUME)

    async def CancelCampaign(
        self, request: campaigns_pb2.CancelCampaignRequest, context: grpc.aio.ServicerContext
    ) -> campaigns_pb2.Campaign:
        """Cancels a campaign for good (stations not sent yet are not sent), recording who and
        why; FAILED_PRECONDITION without Temporal."""
        return await self._decide(request.name, request.reason, "CANCEL", firmware_campaign.CANCEL)
