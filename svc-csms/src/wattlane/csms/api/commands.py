"""CommandService: remote actions on stations (`stations.remote_action`), scoped by owner path."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import internal_pb2 as assets_internal_pb2
from wattlane.api.csms.v1 import commands_pb2, commands_pb2_grpc
from wattlane.core.audit import AuditLog
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.filtering import Field
from wattlane.core.idempotency import Idempotency
from wattlane.core.listing import list_call
from wattlane.core.scope import EffectiveScope
from wattlane.csms.api.command_convert import STATE, command, ocpp_request, spec
from wattlane.csms.commands import repository, visibility
from wattlane.csms.commands.remote_actions import OcppRequest
from wattlane.csms.commands.runner import CommandRunner, new_request_number, queue_command
from wattlane.csms.models import IDEMPOTENCY_KEYS, Command, Station
from wattlane.csms.names import command_name, parse_command_name, parse_station_name, parse_station_parent
from wattlane.csms.registry.visibility import station_in_scope

# The cards a station may accept offline, from assets (by OCPP identity).
LocalLists = Callable[[str], Awaitable[assets_internal_pb2.LocalAuthorizationList]]
_STATE_NAMES = [commands_pb2.Command.State.Name(v) for v in STATE.values()]
COMMAND_FILTERS = {
    "state": Field(Command.state, "enum", _STATE_NAMES, convert=str.lower),
    "ocpp_action": Field(Command.ocpp_action),
    "create_time": Field(Command.create_time, "timestamp"),
}


def _requested_by() -> str:
    principal = current_caller().principal
    return f"services/{principal.service}" if principal.is_service else f"users/{principal.subject}"


class CommandServicer(commands_pb2_grpc.CommandServiceServicer):
    """Stores, dispatches and reads remote action commands; a created command is audited in the
    transaction that stores it."""

    def __init__(
        self, db: Database, runner: CommandRunner, audit: AuditLog, local_lists: LocalLists | None = None
    ) -> None:
        self.db = db
        self.runner = runner
        self.audit = audit
        self.local_lists = local_lists
        self.idempotency = Idempotency(db, IDEMPOTENCY_KEYS)

    async def _station(self, scope: EffectiveScope, identity: str) -> Station:
        async with self.db.reader() as session:
            return await station_in_scope(session, scope, identity, visibility.REMOTE_ACTION)

    async def _current(self, name: str) -> commands_pb2.Command:
        _, command_id = parse_command_name(name)
        async with self.db.reader() as session:
            row = await repository.get_command(session, command_id)
        assert row is not None  # it was stored with the idempotency key
        return command(row)

    async def _ocpp_request(self, asked: commands_pb2.Command, station: Station) -> OcppRequest:
        local_list = None
        if asked.HasField("send_local_list") and self.local_lists is not None:
            local_list = await self.local_lists(station.identity)
        # Local list versions only grow: seconds since the epoch fit OCPP's integer until 2038.
        return ocpp_request(asked, station.protocol, new_request_number(), local_list, int(time.time()))

    async def CreateCommand(
        self, request: commands_pb2.CreateCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.Command:
        """Stores the command, sends it through the process holding the station's socket and
        returns it with the station's answer. FAILED_PRECONDITION when the station is offline."""
        identity = parse_station_name(request.parent, "parent")
        station = await self._station(await current_caller().scope(), identity)
        if not request.HasField("command"):
            raise InvalidArgument.field("command", "is required")
        replayed = await self.idempotency.replay(request, commands_pb2.Command)
        if replayed is not None:
            return await self._current(replayed.name)
        ocpp = await self._ocpp_request(request.command, station)
        owner = await self.runner.sender(station)
        requested_by = _requested_by()
        fresh: list[Command] = []

        async def write(session: AsyncSession) -> commands_pb2.Command:
            row = queue_command(session, station, spec(request.command), ocpp, requested_by, owner)
            fresh[:] = [row]  # only the attempt that commits counts
            # What was asked, never the payload (a configuration value may be a secret).
            await self.audit.record(
                session,
                resource=command_name(identity, row.id),
                tenant_path=station.owner_path,
                changes={"ocpp_action": row.ocpp_action, "station": request.parent},
            )
            return command(row)

        stored = await self.idempotency.once(request, commands_pb2.Command, write)
        mine = fresh[0] if fresh and command_name(identity, fresh[0].id) == stored.name else None
        if mine is None:  # a concurrent retry stored it first: report, never send twice
            return await self._current(stored.name)
        return command(await self.runner.dispatch(mine, owner))

    async def GetCommand(
        self, request: commands_pb2.GetCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.Command:
        """Gets one command (`stations.remote_action` on its station's owner)."""
        identity, command_id = parse_command_name(request.name)
        scope = await current_caller().scope()
        async with self.db.reader() as session:
            return command(await visibility.command_in_scope(session, scope, identity, command_id))

    async def ListCommands(
        self, request: commands_pb2.ListCommandsRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.ListCommandsResponse:
        """Lists commands newest first (`stations.remote_action`), one station's or all in scope."""
        if not request.parent:
            raise InvalidArgument.field("parent", "is required (stations/{identity} or stations/-)")
        call = await list_call(
            request, "ListCommands", filter_fields=COMMAND_FILTERS, parse_parent=parse_station_parent
        )
        async with self.db.reader(snapshot=False) as session:
            rows = await visibility.list_in_scope(session, call.scope, call.parent_id, call.where, call.page)
        return commands_pb2.ListCommandsResponse(
            commands=[command(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )
