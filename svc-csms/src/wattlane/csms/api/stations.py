"""StationService: stations, their message log and unclaimed connection attempts, by scope."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from wattlane.api.csms.v1 import stations_pb2, stations_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument, NotFound, PermissionDenied
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.api import station_views
from wattlane.csms.models import Message, Station, UnclaimedConnection
from wattlane.csms.names import parse_station_name, parse_station_parent, station_name
from wattlane.csms.registry import repository

PERMISSION = "stations.read"
# Grants restricted to chosen locations / charging points admit only those stations.
ALLOW_COLUMNS = {"locations": Station.location_id, "chargingPoints": Station.charging_point_id}

STATION_FILTERS = {
    "identity": Field(Station.identity),
    "online": Field(Station.online, "bool"),
    "protocol": Field(Station.protocol),
    "vendor": Field(Station.vendor),
    "model": Field(Station.model),
    "owner": Field(Station.owner_id, convert=lambda raw: raw.removeprefix("tenants/")),
    "last_seen_time": Field(Station.last_seen_time, "timestamp"),
}
MESSAGE_FILTERS = {
    "action": Field(Message.action),
    "direction": Field(Message.direction, "enum", ["IN", "OUT"], convert=str.lower),
    "message_id": Field(Message.message_id),
    "message_type": Field(Message.message_type, "int"),
    "error": Field(Message.error, "bool"),
    "time": Field(Message.time, "timestamp"),
}
UNCLAIMED_FILTERS = {
    "identity": Field(UnclaimedConnection.identity),
    "protocol": Field(UnclaimedConnection.protocol),
    "last_attempt_time": Field(UnclaimedConnection.last_attempt_time, "timestamp"),
}


def resource_names(row: Station) -> list[str]:
    """The assets resources a station sits in (for grants restricted to some of them)."""
    names = []
    if row.location_id:
        names.append(f"locations/{row.location_id}")
    if row.charging_point_id:
        names.append(f"chargingPoints/{row.charging_point_id}")
    return names


def operator_level(scope: EffectiveScope) -> bool:
    """Holds `stations.read` on the whole tree, unrestricted (the root path is `/{id}/`)."""
    return any(
        g.subtree and g.allowed is None and g.path.count("/") == 2 for g in scope.grants_for(PERMISSION)
    )


def _before_id(page: Page) -> int | None:
    """The message id a page token continues before (newest first)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, int) or isinstance(key, bool) or key < 0:
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


class StationServicer(stations_pb2_grpc.StationServiceServicer):
    """Reads of the station registry and the message log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _visible_station(self, scope: EffectiveScope, identity: str) -> Station:
        async with self.db.reader() as session:
            row = await repository.get_station(session, identity)
        name = station_name(identity)
        if row is None:
            raise NotFound(name)
        scope.require(PERMISSION, row.owner_path, name, resource_names(row))
        return row

    async def GetStation(
        self, request: stations_pb2.GetStationRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.Station:
        """Gets one station with its connectors (`stations.read`)."""
        identity = parse_station_name(request.name)
        scope = await current_caller().scope()
        row = await self._visible_station(scope, identity)
        async with self.db.reader() as session:
            connectors = await repository.connectors_of(session, [identity])
        return station_views.station(row, connectors[identity])

    async def ListStations(
        self, request: stations_pb2.ListStationsRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.ListStationsResponse:
        """Lists the stations in scope by identity (`stations.read`)."""
        call = await list_call(request, "ListStations", filter_fields=STATION_FILTERS)
        page = call.page
        where: list[ColumnElement[bool]] = [
            call.scope.filter(PERMISSION, Station.owner_path, ALLOW_COLUMNS),
            call.where,
        ]
        if (after := page.keyset([Station.identity])) is not None:
            where.append(after)
        async with self.db.reader(snapshot=False) as session:
            rows = await repository.list_stations(session, and_(*where), page.size + 1)
            shown: Sequence[Station] = rows[: page.size]
            connectors = await repository.connectors_of(session, [r.identity for r in shown])
        return stations_pb2.ListStationsResponse(
            stations=[station_views.station(r, connectors[r.identity]) for r in shown],
            next_page_token=page.next_token(rows, lambda r: r.identity),
        )

    async def ListStationMessages(
        self, request: stations_pb2.ListStationMessagesRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.ListStationMessagesResponse:
        """Lists a station's message log (or every visible station's), newest first."""
        if not request.parent:
            raise InvalidArgument.field("parent", "is required (stations/{identity} or stations/-)")
        call = await list_call(
            request, "ListStationMessages", filter_fields=MESSAGE_FILTERS, parse_parent=parse_station_parent
        )
        if call.parent_id is not None:
            await self._visible_station(call.scope, call.parent_id)
            in_scope = Message.identity == call.parent_id
        else:
            in_scope = repository.station_in(call.scope.filter(PERMISSION, Station.owner_path, ALLOW_COLUMNS))
        page = call.page
        async with self.db.reader(snapshot=False) as session:
            rows = await repository.list_messages(
                session, and_(in_scope, call.where), _before_id(page), page.size + 1
            )
        return stations_pb2.ListStationMessagesResponse(
            messages=[station_views.station_message(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def ListUnclaimedConnections(
        self, request: stations_pb2.ListUnclaimedConnectionsRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.ListUnclaimedConnectionsResponse:
        """Lists unclaimed connection attempts (operator-level `stations.read` only)."""
        call = await list_call(request, "ListUnclaimedConnections", filter_fields=UNCLAIMED_FILTERS)
        if not operator_level(call.scope):
            raise PermissionDenied(PERMISSION, "unclaimed connections (operator level)")
        page = call.page
        where = [call.where]
        if (after := page.keyset([UnclaimedConnection.identity])) is not None:
            where.append(after)
        async with self.db.reader(snapshot=False) as session:
            rows = await repository.list_unclaimed(session, and_(*where), page.size + 1)
        return stations_pb2.ListUnclaimedConnectionsResponse(
            connections=[station_views.unclaimed(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.identity),
        )
