"""Locations through the public API: validation naming the field, scope, deletes, idempotency."""

from __future__ import annotations

import grpc
import pytest

from tests.support.assets import AssetsStack, Org
from wattlane.api.assets.v1 import locations_pb2, settings_pb2
from wattlane.core.errors import field_violations
from wattlane.identity.testing import TreeBuilder

from .helpers import location, mask, point

L = locations_pb2.Location


async def test_create_get_list_update(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    created = await location(
        client,
        org.org.name,
        address=locations_pb2.Address(street="Dam 1", postal_code="1012 JS", city="Amsterdam", country="nl"),
        time_zone="Europe/Amsterdam",
        latitude=52.37,
        longitude=4.89,
        grid_capacity_w=250_000,
    )
    assert created.parent == org.org.name and created.owner_path == org.org.path
    assert created.address.country == "NL" and created.access_mode == settings_pb2.OPEN
    assert await client.locations.GetLocation(locations_pb2.GetLocationRequest(name=created.name)) == created
    listed = await client.locations.ListLocations(
        locations_pb2.ListLocationsRequest(parent=org.customer.name)
    )
    assert [x.name for x in listed.locations] == [created.name]
    updated = await client.locations.UpdateLocation(
        locations_pb2.UpdateLocationRequest(
            location=L(name=created.name, display_name="HQ", access_mode=settings_pb2.WHITELIST),
            update_mask=mask("display_name", "access_mode"),
        )
    )
    assert updated.display_name == "HQ" and updated.access_mode == settings_pb2.WHITELIST
    assert updated.etag != created.etag


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"display_name": ""}, "location.display_name"),
        ({"grid_capacity_w": -1}, "location.grid_capacity_w"),
        ({"latitude": 91.0}, "location.latitude"),
        ({"longitude": -181.0}, "location.longitude"),
        ({"time_zone": "Mars/Olympus"}, "location.time_zone"),
        ({"access_mode": 999}, "location.access_mode"),
        ({"rate_plan": "plan 7"}, "location.rate_plan"),
        ({"address": locations_pb2.Address(country="Netherlands")}, "location.address.country"),
    ],
)
async def test_bad_locations_name_the_field(
    assets_stack: AssetsStack, org: Org, fields: dict[str, object], field: str
) -> None:
    client = assets_stack.client(org.admin)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await location(client, org.org.name, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == [field]


async def test_unknown_or_wrong_parents(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await location(client, "tenants/NOPE")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await location(client, org.customer.name)  # a customer, not an organization
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await location(client, "organizations/x")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == ["parent"]


async def test_delete_refused_while_points_remain(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    station = await point(client, site.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.locations.DeleteLocation(locations_pb2.DeleteLocationRequest(name=site.name))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    from wattlane.api.assets.v1 import charging_points_pb2

    await client.charging_points.DeleteChargingPoint(
        charging_points_pb2.DeleteChargingPointRequest(name=station.name)
    )
    await client.locations.DeleteLocation(locations_pb2.DeleteLocationRequest(name=site.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.locations.GetLocation(locations_pb2.GetLocationRequest(name=site.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_writes_are_idempotent_by_request_id(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    request = locations_pb2.CreateLocationRequest(
        parent=org.org.name, location=L(display_name="Once"), request_id="create-once"
    )
    first = await client.locations.CreateLocation(request)
    assert await client.locations.CreateLocation(request) == first
    request.location.display_name = "Twice"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.locations.CreateLocation(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listed = await client.locations.ListLocations(locations_pb2.ListLocationsRequest(parent=org.org.name))
    assert len(listed.locations) == 1


async def test_sibling_and_member_scope(assets_stack: AssetsStack, org: Org, tree: TreeBuilder) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    other = await location(client, org.org.name)
    stranger = await tree.member(org.partner.name)  # no role: sees nothing
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(stranger).locations.GetLocation(
            locations_pb2.GetLocationRequest(name=site.name)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    member = await tree.member(
        org.org.name, [("organization-member", org.org.name)], allowed_resources=[site.name]
    )
    mine = await assets_stack.client(member).locations.ListLocations(locations_pb2.ListLocationsRequest())
    assert [x.name for x in mine.locations] == [site.name]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(member).locations.GetLocation(
            locations_pb2.GetLocationRequest(name=other.name)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(member).locations.UpdateLocation(
            locations_pb2.UpdateLocationRequest(
                location=L(name=site.name, display_name="x"), update_mask=mask("display_name")
            )
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
