"""Charging points and connectors through the public API: the OCPP identity rules, platform-wide
uniqueness, power and price rules naming the field, scope, updates, deletes, idempotency."""

from __future__ import annotations

import grpc
import pytest

from tests.support.assets import AssetsStack, Org
from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.assets.v1 import settings_pb2
from wattlane.api.identity.v1 import accounts_pb2
from wattlane.core.errors import error_info, field_violations
from wattlane.identity.testing import TreeBuilder

from .helpers import CP, identity, location, mask, point


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ocpp_identity": ""}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": "A" * 49}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": "has space"}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": "user:pass"}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": "slash/y"}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": "ünïcode"}, "charging_point.ocpp_identity"),
        ({"ocpp_identity": ".."}, "charging_point.ocpp_identity"),
        ({"current_type": CP.CURRENT_TYPE_UNSPECIFIED}, "charging_point.current_type"),
        ({"current_type": 999}, "charging_point.current_type"),
        ({"onboarding": 999}, "charging_point.onboarding"),
        ({"access_mode_override": True, "access_mode": 999}, "charging_point.access_mode"),
        ({"max_power_w": -1}, "charging_point.max_power_w"),
        ({"ocpp_version": "1.5"}, "charging_point.ocpp_version"),
        ({"rate_plan": "plans/x"}, "charging_point.rate_plan"),
        ({"max_price_per_kwh": -5, "public": True, "currency": "EUR"}, "charging_point.max_price_per_kwh"),
        ({"max_price_per_kwh": 45, "currency": "EUR"}, "charging_point.max_price_per_kwh"),
        ({"max_price_per_kwh": 45, "public": True}, "charging_point.currency"),
        ({"currency": "euro"}, "charging_point.currency"),
        ({"access_mode_override": True}, "charging_point.access_mode"),
        ({"alias": "x" * 101}, "charging_point.alias"),
    ],
)
async def test_bad_points_name_the_field(
    assets_stack: AssetsStack, org: Org, fields: dict[str, object], field: str
) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == [field]


async def test_the_whole_identity_alphabet_and_48_characters(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    odd = "aZ09*-_=+|@." + identity()
    assert (await point(client, site.name, ocpp_identity=odd)).ocpp_identity == odd
    longest = identity().ljust(48, "x")
    assert (await point(client, site.name, ocpp_identity=longest)).ocpp_identity == longest


async def test_identity_unique_platform_wide(assets_stack: AssetsStack, org: Org, tree: TreeBuilder) -> None:
    from tests.support.assets import organization

    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    taken = identity()
    first = await point(client, site.name, ocpp_identity=taken)
    other = await organization(tree, assets_stack)  # another partner's customer entirely
    other_client = assets_stack.client(other.admin)
    other_site = await location(other_client, other.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(other_client, other_site.name, ocpp_identity=taken)
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(raised.value).reason == "OCPP_IDENTITY_TAKEN"  # type: ignore[union-attr]
    # Once removed, the identity is free again.
    await client.charging_points.DeleteChargingPoint(pb.DeleteChargingPointRequest(name=first.name))
    assert (await point(other_client, other_site.name, ocpp_identity=taken)).ocpp_identity == taken


async def test_unknown_and_foreign_parents(assets_stack: AssetsStack, org: Org, tree: TreeBuilder) -> None:
    client = assets_stack.client(org.admin)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, "locations/NOPE")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, "tenants/x")
    assert [v.field for v in field_violations(raised.value)] == ["parent"]
    from tests.support.assets import organization

    other = await organization(tree, assets_stack)
    foreign = await location(assets_stack.client(other.admin), other.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, foreign.name)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # a sibling's location reads as absent


async def test_get_list_update_and_filters(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    ac = await point(client, site.name, vendor="Alfen", max_power_w=22_000)
    dc = await point(client, site.name, current_type=CP.DC, vendor="ABB", max_power_w=150_000)
    assert ac.owner == org.org.name and ac.owner_path == org.org.path and ac.location == site.name
    assert not ac.has_authorization_key and ac.onboarding == CP.PRE_APPROVED
    got = await client.charging_points.GetChargingPoint(pb.GetChargingPointRequest(name=dc.name))
    assert got == dc
    at_site = await client.charging_points.ListChargingPoints(pb.ListChargingPointsRequest(parent=site.name))
    assert [p.name for p in at_site.charging_points] == [ac.name, dc.name]
    under = await client.charging_points.ListChargingPoints(
        pb.ListChargingPointsRequest(parent=org.customer.name, filter='current_type = DC AND vendor = "ABB"')
    )
    assert [p.name for p in under.charging_points] == [dc.name]
    paged = await client.charging_points.ListChargingPoints(
        pb.ListChargingPointsRequest(parent=site.name, page_size=1)
    )
    rest = await client.charging_points.ListChargingPoints(
        pb.ListChargingPointsRequest(parent=site.name, page_size=1, page_token=paged.next_page_token)
    )
    assert [p.name for p in rest.charging_points] == [dc.name] and not rest.next_page_token
    updated = await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(
                name=ac.name,
                alias="Visitor bay 1",
                public=True,
                max_price_per_kwh=45,
                currency="EUR",
                access_mode=settings_pb2.ROAMING,
                access_mode_override=True,
                etag=ac.etag,
            ),
            update_mask=mask(
                "alias", "public", "max_price_per_kwh", "currency", "access_mode", "access_mode_override"
            ),
        )
    )
    assert (updated.alias, updated.max_price_per_kwh, updated.access_mode) == (
        "Visitor bay 1",
        45,
        settings_pb2.ROAMING,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # the stale etag loses
        await client.charging_points.UpdateChargingPoint(
            pb.UpdateChargingPointRequest(
                charging_point=CP(name=ac.name, alias="x", etag=ac.etag), update_mask=mask("alias")
            )
        )
    assert raised.value.code() == grpc.StatusCode.ABORTED
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # making it private keeps the price: refused
        await client.charging_points.UpdateChargingPoint(
            pb.UpdateChargingPointRequest(
                charging_point=CP(name=ac.name, public=False), update_mask=mask("public")
            )
        )
    assert [v.field for v in field_violations(raised.value)] == ["charging_point.max_price_per_kwh"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.charging_points.UpdateChargingPoint(
            pb.UpdateChargingPointRequest(charging_point=CP(name=ac.name), update_mask=mask("ocpp_identity"))
        )
    assert [v.field for v in field_violations(raised.value)] == ["update_mask"]


async def test_connectors(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    station = await point(client, site.name, max_power_w=22_000)
    C = pb.Connector
    first = await client.charging_points.CreateConnector(
        pb.CreateConnectorRequest(
            parent=station.name, connector=C(evse_id=1, connector_id=1, type=C.TYPE_2, max_power_w=11_000)
        )
    )
    assert first.charging_point == station.name
    for connector, field in (
        (C(evse_id=0, connector_id=1, type=C.TYPE_2), "connector.evse_id"),
        (C(evse_id=1, connector_id=0, type=C.TYPE_2), "connector.connector_id"),
        (C(evse_id=1, connector_id=2), "connector.type"),
        (C(evse_id=1, connector_id=2, type=999), "connector.type"),  # type: ignore[arg-type]
        (C(evse_id=1, connector_id=2, type=C.TYPE_2, max_power_w=-1), "connector.max_power_w"),
        (C(evse_id=1, connector_id=2, type=C.TYPE_2, max_power_w=50_000), "connector.max_power_w"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.charging_points.CreateConnector(
                pb.CreateConnectorRequest(parent=station.name, connector=connector)
            )
        assert [v.field for v in field_violations(raised.value)] == [field]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.charging_points.CreateConnector(
            pb.CreateConnectorRequest(
                parent=station.name, connector=C(evse_id=1, connector_id=1, type=C.TYPE_2)
            )
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    second = await client.charging_points.CreateConnector(
        pb.CreateConnectorRequest(parent=station.name, connector=C(evse_id=2, connector_id=1, type=C.TYPE_2))
    )
    listed = await client.charging_points.ListConnectors(pb.ListConnectorsRequest(parent=station.name))
    assert [c.name for c in listed.connectors] == [first.name, second.name]
    await client.charging_points.DeleteConnector(pb.DeleteConnectorRequest(name=first.name))
    listed = await client.charging_points.ListConnectors(pb.ListConnectorsRequest(parent=station.name))
    assert [c.name for c in listed.connectors] == [second.name]


async def test_create_is_idempotent_and_counts_one_datapoint(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    request = pb.CreateChargingPointRequest(
        parent=site.name, charging_point=CP(ocpp_identity=identity(), current_type=CP.AC), request_id="add-1"
    )
    first = await client.charging_points.CreateChargingPoint(request)
    assert await client.charging_points.CreateChargingPoint(request) == first
    account = await org.admin.client.accounts.GetAccount(
        accounts_pb2.GetAccountRequest(name=org.account.name)
    )
    assert account.datapoints_used == 1
    delete = pb.DeleteChargingPointRequest(name=first.name, request_id="remove-1")
    await client.charging_points.DeleteChargingPoint(delete)
    await client.charging_points.DeleteChargingPoint(delete)  # replayed, not NOT_FOUND
    account = await org.admin.client.accounts.GetAccount(
        accounts_pb2.GetAccountRequest(name=org.account.name)
    )
    assert account.datapoints_used == 0
