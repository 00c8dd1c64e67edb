"""CsmsInternalService: only service tokens holding the named scope may call it."""

from __future__ import annotations

import datetime as dt

import grpc

from wattlane.api.csms.v1 import commands_pb2, internal_pb2, internal_pb2_grpc
from wattlane.contracts import scopes
from wattlane.contracts.firmware_campaign import StationState
from wattlane.core.audit import AuditLog
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.names import parse_name
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.api import station_views
from wattlane.csms.api.command_convert import command
from wattlane.csms.campaigns import dispatch, tracking
from wattlane.csms.campaigns.campaigns import CampaignState
from wattlane.csms.commands.runner import CommandRunner
from wattlane.csms.names import parse_command_name, parse_identity, parse_transaction_name
from wattlane.csms.registry import repository
from wattlane.csms.transactions import repository as transactions
from wattlane.csms.transactions.handoff import record_delivery


class CsmsInternalServicer(internal_pb2_grpc.CsmsInternalServiceServicer):
    """Internal reads and writes for other services (writes audited in their transaction)."""

    def __init__(self, db: Database, audit: AuditLog, runner: CommandRunner | None = None) -> None:
        self.db = db
        self.audit = audit
        self.runner = runner

    async def GetUnclaimedConnection(
        self, request: internal_pb2.GetUnclaimedConnectionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.UnclaimedConnection:
        """An unknown identity's connection attempts (`csms.unclaimed`); NOT_FOUND if it never tried."""
        current_caller().require_service_scope(scopes.CSMS_UNCLAIMED)
        identity = parse_identity(request.identity)
        async with self.db.reader(snapshot=False) as session:
            row = await repository.get_unclaimed(session, identity)
        if row is None:
            raise NotFound(f"unclaimedConnections/{identity}")
        return station_views.unclaimed_internal(row)

    async def RecordHandoff(
        self, request: internal_pb2.RecordHandoffRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.Handoff:
        """Record a completed transaction's handoff once (`csms.handoff`); repeats are counted."""
        current_caller().require_service_scope(scopes.CSMS_HANDOFF)
        transaction_id = parse_transaction_name(request.transaction, "transaction")
        if not request.workflow_id or len(request.workflow_id) > 64:
            raise InvalidArgument.field("workflow_id", "is required (at most 64 characters)")
        async with self.db.transaction() as session:
            row = await record_delivery(
                session, transaction_id, request.workflow_id, name=request.transaction
            )
            transaction = await transactions.get_transaction(session, transaction_id)
            assert transaction is not None  # record_delivery found it
            await self.audit.record(
                session,
                resource=request.transaction,
                tenant_path=transaction.owner_path,
                changes={"workflow_id": row.workflow_id, "deliveries": row.deliveries},
            )
        return internal_pb2.Handoff(
            transaction=request.transaction,
            workflow_id=row.workflow_id,
            deliveries=row.deliveries,
            first_time=to_timestamp(row.first_time),
        )

    async def ExecuteCommand(
        self, request: internal_pb2.ExecuteCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.Command:
        """Sends a queued command to its station, connected to this process (`csms.commands`);
        returns it in its final state. FAILED_PRECONDITION when the station is not here."""
        current_caller().require_service_scope(scopes.CSMS_COMMANDS)
        identity, command_id = parse_command_name(request.name)
        if self.runner is None:
            raise FailedPrecondition(
                "this CSMS process holds no station connections", reason="STATION_OFFLINE"
            )
        return command(await self.runner.execute(command_id, identity))

    def _runner(self) -> CommandRunner:
        if self.runner is None:
            raise FailedPrecondition(
                "this CSMS process holds no station connections", reason="STATION_OFFLINE"
            )
        return self.runner

    async def DispatchCampaignWave(
        self, request: internal_pb2.DispatchCampaignWaveRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.DispatchCampaignWaveResponse:
        """Sends the campaign's update to the wave's queued, online stations (`csms.campaigns`)."""
        current_caller().require_service_scope(scopes.CSMS_CAMPAIGNS)
        campaign_id = parse_name(request.campaign, "campaigns", "campaign")
        firmware = dispatch.Firmware(
            request.location,
            request.signing_certificate,
            request.signature,
            request.ocpp_retries,
            request.ocpp_retry_interval_seconds,
        )
        result = await dispatch.dispatch_wave(
            self.db,
            self._runner(),
            campaign_id,
            request.wave,
            firmware,
            limit=request.limit,
            wave_started=request.wave_start_time.ToDatetime(dt.UTC)
            if request.HasField("wave_start_time")
            else None,
            offline_limit_seconds=request.offline_limit_seconds or 24 * 3600,
        )
        return internal_pb2.DispatchCampaignWaveResponse(
            sent=result.sent, offline=result.offline, failed=result.failed
        )

    async def SyncCampaign(
        self, request: internal_pb2.SyncCampaignRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.CampaignTally:
        """Times out stuck stations, then returns the campaign's progress (`csms.campaigns`)."""
        current_caller().require_service_scope(scopes.CSMS_CAMPAIGNS)
        campaign_id = parse_name(request.campaign, "campaigns", "campaign")
        if request.station_timeout_seconds <= 0:
            raise InvalidArgument.field("station_timeout_seconds", "must be positive")
        timed_out = await dispatch.expire(self.db, campaign_id, request.station_timeout_seconds)
        async with self.db.reader(snapshot=False) as session:
            counts = await tracking.counts(session, campaign_id)
        tally = internal_pb2.CampaignTally(timed_out=timed_out)
        waves: dict[int, internal_pb2.CampaignWaveTally] = {}
        for (wave, state, failure), n in sorted(counts.items()):
            entry = waves.setdefault(wave, internal_pb2.CampaignWaveTally(wave=wave))
            entry.total += n
            if state == StationState.VERIFIED.value:
                entry.succeeded += n
            elif state == StationState.FAILED.value:
                entry.failed += n
                tally.failures[failure] = tally.failures.get(failure, 0) + n
        tally.waves.extend(waves[w] for w in sorted(waves))
        return tally

    async def RecordCampaignDecision(
        self, request: internal_pb2.RecordCampaignDecisionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.RecordCampaignDecisionResponse:
        """Records a decision and the campaign's new state, once (`csms.campaigns`)."""
        current_caller().require_service_scope(scopes.CSMS_CAMPAIGNS)
        campaign_id = parse_name(request.campaign, "campaigns", "campaign")
        try:
            state = CampaignState(request.state)
        except ValueError:
            raise InvalidArgument.field("state", f"is not a campaign state: {request.state[:20]!r}") from None
        for field in ("actor", "action", "reason"):
            if not getattr(request, field):
                raise InvalidArgument.field(field, "is required")
        await dispatch.record_decision(
            self.db,
            campaign_id,
            state,
            request.wave,
            request.actor,
            request.action[:32],
            request.reason[:500],
        )
        return internal_pb2.RecordCampaignDecisionResponse()
