"""ChargingPointService."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.assets.v1 import charging_points_pb2_grpc, settings_pb2
from wattlane.assets import charging_points, connectors, credentials, locations, tariffs
from wattlane.assets.api import messages
from wattlane.assets.models import ChargingPoint
from wattlane.assets.provisioning import Provisioning
from wattlane.assets.runtime import Runtime
from wattlane.assets.scoped import parent_in_scope
from wattlane.core.caller import current_caller
from wattlane.core.enums import enum_name
from wattlane.core.errors import InvalidArgument
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.idempotency import Idempotency
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name

FILTER_FIELDS = {
    "ocpp_identity": Field(ChargingPoint.ocpp_identity),
    "alias": Field(ChargingPoint.alias),
    "vendor": Field(ChargingPoint.vendor),
    "model": Field(ChargingPoint.model),
    "current_type": Field(ChargingPoint.current_type, "enum", charging_points.CURRENT_TYPES),
    "public": Field(ChargingPoint.public, "bool"),
    "charging_enabled": Field(ChargingPoint.charging_enabled, "bool"),
    "create_time": Field(ChargingPoint.create_time, "timestamp"),
}
CREATE_ONLY = ("ocpp_identity", "current_type", "onboarding")
M = TypeVar("M", bound=Message)


def _fields(message: pb.ChargingPoint, paths: Iterable[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for path in paths:
        top = path.split(".", 1)[0]
        value = getattr(message, top)
        if top == "access_mode":
            value = enum_name(settings_pb2.AccessMode, value, "charging_point.access_mode") if value else ""
        elif top == "current_type":
            value = (
                enum_name(pb.ChargingPoint.CurrentType, value, "charging_point.current_type") if value else ""
            )
        elif top == "onboarding":
            value = (
                enum_name(pb.ChargingPoint.Onboarding, value, "charging_point.onboarding") if value else ""
            )
        fields[top] = value
    return fields


@dataclass(frozen=True)
class _RequestOnce(Generic[M]):
    """Provisioning's `Once` for the current RPC: core's idempotency keyed by its request."""

    idempotency: Idempotency
    request: Message
    response_type: type[M]

    async def replay(self) -> M | None:
        return await self.idempotency.replay(self.request, self.response_type)

    async def run(self, write: Callable[[AsyncSession], Awaitable[M]]) -> M:
        return await self.idempotency.once(self.request, self.response_type, write)


class ChargingPointServicer(charging_points_pb2_grpc.ChargingPointServiceServicer):
    def __init__(self, rt: Runtime, provisioning: Provisioning) -> None:
        self.rt = rt
        self.provisioning = provisioning

    async def GetChargingPoint(
        self, request: pb.GetChargingPointRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChargingPoint:
        """Gets one charging point (`stations.read`)."""
        point_id = parse_name(request.name, "chargingPoints")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return messages.charging_point(
                await charging_points.get_in_scope(session, scope, point_id, "stations.read")
            )

    async def ListChargingPoints(
        self, request: pb.ListChargingPointsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChargingPointsResponse:
        """Lists charging points at a location or under a tenant, or all in scope (`stations.read`)."""
        is_location = request.parent.startswith("locations/")
        call = await list_call(
            request,
            "ListChargingPoints",
            filter_fields=FILTER_FIELDS,
            parent_collection="locations" if is_location else "tenants",
        )
        parent_path = location_id = None
        if is_location:
            location_id = call.parent_id
        elif request.parent:
            parent_path = (
                await parent_in_scope(self.rt.directory, call.scope, request.parent, "stations.read")
            ).path
        async with self.rt.db.reader() as session:
            if location_id is not None:
                await locations.get_in_scope(session, call.scope, location_id, "stations.read")
            rows = await charging_points.list_in_scope(
                session,
                call.scope,
                parent_path=parent_path,
                location_id=location_id,
                where=call.where,
                page=call.page,
            )
        return pb.ListChargingPointsResponse(
            charging_points=[messages.charging_point(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def CreateChargingPoint(
        self, request: pb.CreateChargingPointRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChargingPoint:
        """Adds a charging point to a location with its datapoint and license (`stations.manage`)."""
        location_id = parse_name(request.parent, "locations", "parent")
        fields = _fields(request.charging_point, (*CREATE_ONLY, *charging_points.UPDATABLE))
        scope = await current_caller().scope()
        return await self.provisioning.add(
            scope,
            location_id,
            fields,
            once=_RequestOnce(self.rt.idempotency, request, pb.ChargingPoint),
            respond=messages.charging_point,
            audit_fields=sorted(fields),
        )

    async def UpdateChargingPoint(
        self, request: pb.UpdateChargingPointRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChargingPoint:
        """Updates a charging point (`stations.manage`); enabling charging takes a license first,
        and enabling or disabling it needs `licenses.use` (alone: what organization members hold)."""
        point_id = parse_name(request.charging_point.name, "chargingPoints", "charging_point.name")
        changes = _fields(request.charging_point, mask_paths(request.update_mask, charging_points.UPDATABLE))
        scope = await current_caller().scope()
        replayed = await self.rt.idempotency.replay(request, pb.ChargingPoint)
        if replayed is not None:
            return replayed
        async with self.rt.db.reader() as session:
            before = await charging_points.get_for_update(session, scope, point_id, changes)
        enable = "charging_enabled" in changes and changes["charging_enabled"] and not before.charging_enabled
        disable = (
            "charging_enabled" in changes and not changes["charging_enabled"] and before.charging_enabled
        )
        if enable:
            await self.provisioning.set_charging(before, True)

        async def write(session: AsyncSession) -> pb.ChargingPoint:
            row = await charging_points.update(
                session, scope, point_id, changes, etag=request.charging_point.etag
            )
            await tariffs.check_point(session, self.rt.tariffs, row, changes)
            await self.rt.audit.record(
                session,
                resource=f"chargingPoints/{row.id}",
                tenant_path=row.owner_path,
                changes=sorted(changes),
            )
            return messages.charging_point(row)

        try:
            result = await self.rt.idempotency.once(request, pb.ChargingPoint, write)
        except BaseException:
            if enable:
                await self.provisioning.set_charging(before, False)
            raise
        if disable:
            await self.provisioning.set_charging(before, False)
        return result

    async def DeleteChargingPoint(
        self, request: pb.DeleteChargingPointRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Removes a charging point and releases its datapoint and license (`stations.manage`)."""
        point_id = parse_name(request.name, "chargingPoints")
        scope = await current_caller().scope()
        return await self.provisioning.remove(
            scope,
            point_id,
            etag=request.etag,
            once=_RequestOnce(self.rt.idempotency, request, empty_pb2.Empty),
            respond=lambda _point: empty_pb2.Empty(),
        )

    async def RotateAuthorizationKey(
        self, request: pb.RotateAuthorizationKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateAuthorizationKeyResponse:
        """Sets a new random AuthorizationKey and returns it once (`stations.manage`)."""
        point_id = parse_name(request.name, "chargingPoints")
        scope = await current_caller().scope()
        issued: list[str] = []

        async def write(session: AsyncSession) -> pb.RotateAuthorizationKeyResponse:
            row = await charging_points.get_in_scope(
                session, scope, point_id, "stations.manage", for_update=True
            )
            issued.append(credentials.rotate(row))
            row.version += 1
            await self.rt.audit.record(
                session,
                resource=f"chargingPoints/{row.id}",
                tenant_path=row.owner_path,
                changes=["authorization_key"],
            )
            # The stored (replayable) response never holds the key.
            return pb.RotateAuthorizationKeyResponse(charging_point=messages.charging_point(row))

        response = await self.rt.idempotency.once(request, pb.RotateAuthorizationKeyResponse, write)
        if issued:
            response.authorization_key = issued[0]
        return response

    async def CreateConnector(
        self, request: pb.CreateConnectorRequest, context: grpc.aio.ServicerContext
    ) -> pb.Connector:
        """Adds a connector to a charging point (`stations.manage`)."""
        point_id = parse_name(request.parent, "chargingPoints", "parent")
        c = request.connector
        fields = {
            "evse_id": c.evse_id,
            "connector_id": c.connector_id,
            "type": enum_name(pb.Connector.Type, c.type, "connector.type") if c.type else "",
            "max_power_w": c.max_power_w,
        }
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> pb.Connector:
            row = await connectors.create(session, scope, point_id, fields)
            await self.rt.audit.record(
                session,
                resource=connectors.connector_name(row.id),
                tenant_path=row.owner_path,
                changes=sorted(fields),
            )
            return messages.connector(row)

        return await self.rt.idempotency.once(request, pb.Connector, write)

    async def ListConnectors(
        self, request: pb.ListConnectorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConnectorsResponse:
        """Lists a charging point's connectors (`stations.read`)."""
        if not request.parent:
            raise InvalidArgument.field("parent", "is required (chargingPoints/{id})")
        call = await list_call(request, "ListConnectors", parent_collection="chargingPoints")
        assert call.parent_id is not None
        async with self.rt.db.reader() as session:
            rows = await connectors.list_of_point(session, call.scope, call.parent_id, call.page)
        return pb.ListConnectorsResponse(
            connectors=[messages.connector(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: (r.evse_id, r.connector_id)),
        )

    async def DeleteConnector(
        self, request: pb.DeleteConnectorRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Removes a connector (`stations.manage`)."""
        connector_id = parse_name(request.name, "connectors")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row, point = await connectors.get_in_scope(session, scope, connector_id, "stations.manage")
            await session.delete(row)
            await self.rt.audit.record(
                session, resource=request.name, tenant_path=point.owner_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)
