"""CommandService: remote actions on stations (`stations.remote_action`), scoped by owner path."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.api.assets.v1 import internal_pb2 as assets_internal_pb2
from wattlane.api.csms.v1 import commands_pb2, commands_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument, NotFound
from wattlane.core.filtering import Field
from wattlane.core.idempotency import Idempotency
from wattlane.core.listing import list_call
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.api.command_convert import STATE, command, parse_command_name
from wattlane.csms.api.stations import resource_names
from wattlane.csms.commands.remote_actions import ocpp_request
from wattlane.csms.commands.runner import (
    CommandRunner,
    Peers,
    PeerUnreachable,
    command_name,
    fail_unsent,
    forward,
    new_command,
    new_request_number,
    offline,
)
from wattlane.csms.models import IDEMPOTENCY_KEYS, Command, Station
from wattlane.csms.names import parse_station_name, parse_station_parent
from wattlane.csms.registry import repository
from wattlane.csms.registry.leases import Owner, owner_of

PERMISSION = "stations.remote_action"
# The cards a station may accept offline, from assets (by OCPP identity).
LocalLists = Callable[[str], Awaitable[assets_internal_pb2.LocalAuthorizationList]]
ALLOW_COLUMNS = {"locations": Command.location_id, "chargingPoints": Command.charging_point_id}
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
    """Stores, dispatches and reads remote action commands."""

    def __init__(
        self, db: Database, runner: CommandRunner, peers: Peers, local_lists: LocalLists | None = None
    ) -> None:
        self.db = db
        self.runner = runner
        self.peers = peers
        self.local_lists = local_lists
        self.idempotency = Idempotency(db, IDEMPOTENCY_KEYS)

    async def _station(self, scope: EffectiveScope, identity: str) -> Station:
        async with self.db.reader() as session:
            row = await repository.get_station(session, identity)
        if row is None:
            raise NotFound(f"stations/{identity}")
        scope.require(PERMISSION, row.owner_path, f"stations/{identity}", resource_names(row))
        return row

    async def _current(self, name: str) -> commands_pb2.Command:
        _, command_id = parse_command_name(name)
        async with self.db.reader() as session:
            row = await session.get(Command, command_id)
        assert row is not None  # it was stored with the idempotency key
        return command(row)

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
        local_list = None
        if request.command.HasField("send_local_list") and self.local_lists is not None:
            local_list = await self.local_lists(identity)
        # Local list versions only grow: seconds since the epoch fit OCPP's integer until 2038.
        ocpp = ocpp_request(
            request.command, station.protocol, new_request_number(), local_list, int(time.time())
        )
        owner = await self._owner(station)
        requested_by = _requested_by()
        fresh: list[Command] = []

        async def write(session: AsyncSession) -> commands_pb2.Command:
            row = new_command(station, request.command, ocpp, requested_by, owner)
            session.add(row)
            fresh[:] = [row]  # only the attempt that commits counts
            return command(row)

        stored = await self.idempotency.once(request, commands_pb2.Command, write)
        mine = fresh[0] if fresh and command_name(identity, fresh[0].id) == stored.name else None
        if mine is None:  # a concurrent retry stored it first: report, never send twice
            return await self._current(stored.name)
        return command(await self._dispatch(mine, owner))

    async def _owner(self, station: Station) -> Owner:
        """The process to send through: this one when the socket is here (the registry row may
        lag behind by a write-behind flush), else the live owner in the registry."""
        local = self.runner.registry.get(station.identity)
        if local is not None and local.is_open:
            return Owner(self.runner.process, "", station.connection_epoch)
        async with self.db.reader() as session:
            owner = await owner_of(session, station)
        if owner is None:
            raise offline(station.identity)
        return owner

    async def _dispatch(self, row: Command, owner: Owner) -> Command:
        if owner.process == self.runner.process:
            return await self.runner.execute(row.id)
        name = command_name(row.identity, row.id)
        try:
            await forward(self.peers, owner, name)
        except PeerUnreachable as exc:
            await fail_unsent(self.db, row.id, str(exc))
            raise offline(row.identity) from None
        except Exception:
            await fail_unsent(self.db, row.id, "the station's CSMS process did not take the command")
            raise
        async with self.db.reader() as session:
            final = await session.get(Command, row.id)
        assert final is not None
        return final

    async def GetCommand(
        self, request: commands_pb2.GetCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.Command:
        """Gets one command (`stations.remote_action` on its station's owner)."""
        identity, command_id = parse_command_name(request.name)
        scope = await current_caller().scope()
        async with self.db.reader() as session:
            row = await session.get(Command, command_id)
        if row is None or row.identity != identity:
            raise NotFound(request.name)
        names = [f"stations/{identity}", *_resource_names(row)]
        scope.require(PERMISSION, row.owner_path, request.name, names)
        return command(row)

    async def ListCommands(
        self, request: commands_pb2.ListCommandsRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.ListCommandsResponse:
        """Lists commands newest first (`stations.remote_action`), one station's or all in scope."""
        if not request.parent:
            raise InvalidArgument.field("parent", "is required (stations/{identity} or stations/-)")
        call = await list_call(
            request, "ListCommands", filter_fields=COMMAND_FILTERS, parse_parent=parse_station_parent
        )
        where: list[ColumnElement[bool]] = [
            call.scope.filter(PERMISSION, Command.owner_path, ALLOW_COLUMNS),
            call.where,
        ]
        if call.parent_id is not None:
            await self._station(call.scope, call.parent_id)
            where.append(Command.identity == call.parent_id)
        if (before := _before(call.page)) is not None:
            where.append(Command.id < before)
        async with self.db.reader(snapshot=False) as session:
            rows = list(
                await session.scalars(
                    select(Command).where(and_(*where)).order_by(Command.id.desc()).limit(call.page.size + 1)
                )
            )
        return commands_pb2.ListCommandsResponse(
            commands=[command(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )


def _resource_names(row: Command) -> list[str]:
    names = []
    if row.location_id:
        names.append(f"locations/{row.location_id}")
    if row.charging_point_id:
        names.append(f"chargingPoints/{row.charging_point_id}")
    return names


def _before(page: Page) -> str | None:
    """The command id a page continues before (ids are ULIDs: newest first is id order)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, str):
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key
