"""LocationService."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import locations_pb2, locations_pb2_grpc, settings_pb2
from wattlane.assets import locations, rules, tariffs
from wattlane.assets.api import messages
from wattlane.assets.models import Location
from wattlane.assets.runtime import Runtime
from wattlane.assets.scoped import owner_visible, parent_in_scope
from wattlane.core.caller import current_caller
from wattlane.core.enums import enum_name
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name

FILTER_FIELDS = {
    "display_name": Field(Location.display_name),
    "city": Field(Location.city),
    "country": Field(Location.country),
    "access_mode": Field(Location.access_mode, "enum", rules.ACCESS_MODES),
    "create_time": Field(Location.create_time, "timestamp"),
}
CREATE_FIELDS = tuple(f for f in locations.UPDATABLE)


def _changes(message: locations_pb2.Location, paths: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for path in paths:
        top = path.split(".", 1)[0]
        if top == "address":
            a = message.address
            changes["address"] = {
                "street": a.street,
                "postal_code": a.postal_code,
                "city": a.city,
                "country": a.country,
            }
        elif top == "access_mode":
            mode = message.access_mode
            changes[top] = enum_name(settings_pb2.AccessMode, mode, "location.access_mode") if mode else ""
        else:
            changes[top] = getattr(message, top)
    return changes


class LocationServicer(locations_pb2_grpc.LocationServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetLocation(
        self, request: locations_pb2.GetLocationRequest, context: grpc.aio.ServicerContext
    ) -> locations_pb2.Location:
        """Gets one location (`locations.read`)."""
        location_id = parse_name(request.name, "locations")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return messages.location(
                await locations.get_in_scope(session, scope, location_id, "locations.read")
            )

    async def ListLocations(
        self, request: locations_pb2.ListLocationsRequest, context: grpc.aio.ServicerContext
    ) -> locations_pb2.ListLocationsResponse:
        """Lists locations under a tenant, or everything in scope (`locations.read`)."""
        call = await list_call(request, "ListLocations", filter_fields=FILTER_FIELDS)
        parent_path = None
        if request.parent:
            parent_path = (
                await parent_in_scope(self.rt.directory, call.scope, request.parent, "locations.read")
            ).path
        async with self.rt.db.reader() as session:
            rows = await locations.list_in_scope(
                session, call.scope, parent_path=parent_path, where=call.where, page=call.page
            )
        return locations_pb2.ListLocationsResponse(
            locations=[messages.location(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def CreateLocation(
        self, request: locations_pb2.CreateLocationRequest, context: grpc.aio.ServicerContext
    ) -> locations_pb2.Location:
        """Creates a location under an organization (`locations.manage`)."""
        parse_name(request.parent, "tenants", "parent")
        fields = _changes(request.location, CREATE_FIELDS)
        scope = await current_caller().scope()
        owner = await owner_visible(self.rt.directory, scope, request.parent)

        async def write(session: AsyncSession) -> locations_pb2.Location:
            row = await locations.create(session, scope, owner, fields)
            await tariffs.check_reference(
                self.rt.tariffs, row.rate_plan, row.owner_path, "location.rate_plan"
            )
            await self.rt.audit.record(
                session, resource=f"locations/{row.id}", tenant_path=row.owner_path, changes=sorted(fields)
            )
            return messages.location(row)

        return await self.rt.idempotency.once(request, locations_pb2.Location, write)

    async def UpdateLocation(
        self, request: locations_pb2.UpdateLocationRequest, context: grpc.aio.ServicerContext
    ) -> locations_pb2.Location:
        """Updates a location (`locations.manage`)."""
        location_id = parse_name(request.location.name, "locations", "location.name")
        changes = _changes(request.location, mask_paths(request.update_mask, locations.UPDATABLE))
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> locations_pb2.Location:
            row = await locations.update(session, scope, location_id, changes, etag=request.location.etag)
            if "rate_plan" in changes or "rate_plan_override" in changes:
                field = "location.rate_plan"
                await tariffs.check_reference(self.rt.tariffs, row.rate_plan, row.owner_path, field)
                capped = await tariffs.capped_points_below(session, location_id=row.id)
                await tariffs.check_max_prices(session, self.rt.tariffs, capped, field)
            await self.rt.audit.record(
                session, resource=f"locations/{row.id}", tenant_path=row.owner_path, changes=sorted(changes)
            )
            return messages.location(row)

        return await self.rt.idempotency.once(request, locations_pb2.Location, write)

    async def DeleteLocation(
        self, request: locations_pb2.DeleteLocationRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a location without charging points (`locations.manage`)."""
        location_id = parse_name(request.name, "locations")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await locations.delete(session, scope, location_id, etag=request.etag)
            await self.rt.audit.record(
                session, resource=f"locations/{row.id}", tenant_path=row.owner_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)
