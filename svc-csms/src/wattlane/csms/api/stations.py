"""StationService: stations, their message log and unclaimed connection attempts, by scope."""

from __future__ import annotations

import grpc

from wattlane.api.csms.v1 import stations_pb2, stations_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.csms.api import station_views
from wattlane.csms.models import Message, Station, UnclaimedConnection
from wattlane.csms.names import parse_station_name, parse_station_parent
from wattlane.csms.registry import repository, visibility

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
    "trace_id": Field(Message.trace_id),  # the frames a traced request sent (and their answers)
}
UNCLAIMED_FILTERS = {
    "identity": Field(UnclaimedConnection.identity),
    "protocol": Field(UnclaimedConnection.protocol),
    "last_attempt_time": Field(UnclaimedConnection.last_attempt_time, "timestamp"),
}


class StationServicer(stations_pb2_grpc.StationServiceServicer):
    """Reads of the station registry and the message log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetStation(
        self, request: stations_pb2.GetStationRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.Station:
        """Gets one station with its connectors (`stations.read`)."""
        identity = parse_station_name(request.name)
        scope = await current_caller().scope()
        async with self.db.reader() as session:
            row = await visibility.station_in_scope(session, scope, identity, visibility.READ)
            connectors = await repository.connectors_of(session, [identity])
        return station_views.station(row, connectors[identity])

    async def ListStations(
        self, request: stations_pb2.ListStationsRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.ListStationsResponse:
        """Lists the stations in scope by identity (`stations.read`)."""
        call = await list_call(request, "ListStations", filter_fields=STATION_FILTERS)
        page = call.page
        async with self.db.reader(snapshot=False) as session:
            rows = await visibility.list_stations(session, call.scope, call.where, page)
            shown = rows[: page.size]
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
        async with self.db.reader(snapshot=False) as session:
            rows = await visibility.list_messages(session, call.scope, call.parent_id, call.where, call.page)
        return stations_pb2.ListStationMessagesResponse(
            messages=[station_views.station_message(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def ListUnclaimedConnections(
        self, request: stations_pb2.ListUnclaimedConnectionsRequest, context: grpc.aio.ServicerContext
    ) -> stations_pb2.ListUnclaimedConnectionsResponse:
        """Lists unclaimed connection attempts (operator-level `stations.read` only)."""
        call = await list_call(request, "ListUnclaimedConnections", filter_fields=UNCLAIMED_FILTERS)
        async with self.db.reader(snapshot=False) as session:
            rows = await visibility.list_unclaimed(session, call.scope, call.where, call.page)
        return stations_pb2.ListUnclaimedConnectionsResponse(
            connections=[station_views.unclaimed(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.identity),
        )
