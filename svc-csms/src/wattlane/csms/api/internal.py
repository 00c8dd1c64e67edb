"""CsmsInternalService: only service tokens holding the named scope may call it."""

from __future__ import annotations

import grpc

from wattlane.api.csms.v1 import commands_pb2, internal_pb2, internal_pb2_grpc
from wattlane.contracts import scopes
from wattlane.core.audit import AuditLog
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.api import station_views
from wattlane.csms.api.command_convert import command
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
