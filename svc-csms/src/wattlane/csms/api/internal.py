"""CsmsInternalService: only service tokens holding the named scope may call it."""

from __future__ import annotations

import grpc

from wattlane.api.csms.v1 import commands_pb2, internal_pb2, internal_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.csms import repository
from wattlane.csms.api import convert
from wattlane.csms.api.command_convert import command, parse_command_name
from wattlane.csms.commands import CommandRunner
from wattlane.csms.names import parse_identity

UNCLAIMED_SCOPE = "csms.unclaimed"
COMMANDS_SCOPE = "csms.commands"


class CsmsInternalServicer(internal_pb2_grpc.CsmsInternalServiceServicer):
    """Internal reads for other services."""

    def __init__(self, db: Database, runner: CommandRunner | None = None) -> None:
        self.db = db
        self.runner = runner

    async def GetUnclaimedConnection(
        self, request: internal_pb2.GetUnclaimedConnectionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.UnclaimedConnection:
        """An unknown identity's connection attempts (`csms.unclaimed`); NOT_FOUND if it never tried."""
        current_caller().require_service_scope(UNCLAIMED_SCOPE)
        identity = parse_identity(request.identity)
        async with self.db.reader(snapshot=False) as session:
            row = await repository.get_unclaimed(session, identity)
        if row is None:
            raise NotFound(f"unclaimedConnections/{identity}")
        return convert.unclaimed_internal(row)

    async def ExecuteCommand(
        self, request: internal_pb2.ExecuteCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.Command:
        """Sends a queued command to its station, connected to this process (`csms.commands`);
        returns it in its final state. FAILED_PRECONDITION when the station is not here."""
        current_caller().require_service_scope(COMMANDS_SCOPE)
        identity, command_id = parse_command_name(request.name)
        if self.runner is None:
            raise FailedPrecondition(
                "this CSMS process holds no station connections", reason="STATION_OFFLINE"
            )
        return command(await self.runner.execute(command_id, identity))
