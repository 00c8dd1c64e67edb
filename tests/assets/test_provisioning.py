"""Datapoints and licenses follow charging points: allocated on add / charging enabled,
released on remove / charging disabled; quota and license failures answer with the right code;
and a failure half-way (identity stopped between two allocations) leaves no point without its
allocations and no allocation without a point once the reconciler has run."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2

from tests.support.assets import (
    ASSETS_SCOPES,
    AssetsStack,
    Org,
    organization,
    service_token,
    start_assets,
)
from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.assets.v1 import locations_pb2
from wattlane.api.identity.v1 import accounts_pb2
from wattlane.core.errors import decode_status, error_info
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, Client, TreeBuilder, start_identity

from .helpers import CP, location, mask, point


async def usage(org: Org) -> tuple[int, list[str]]:
    """Datapoints used on the org's account and the resources holding its licenses."""
    account = await org.admin.client.accounts.GetAccount(
        accounts_pb2.GetAccountRequest(name=org.account.name)
    )
    allocations = await org.admin.client.licenses.ListLicenseAllocations(
        accounts_pb2.ListLicenseAllocationsRequest(parent=org.org.name)
    )
    return account.datapoints_used, sorted(a.resource for a in allocations.license_allocations)


async def test_allocations_follow_the_point(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    plain = await point(client, site.name)
    charging = await point(client, site.name, charging_enabled=True)
    assert await usage(org) == (2, [charging.name])
    enabled = await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(name=plain.name, charging_enabled=True), update_mask=mask("charging_enabled")
        )
    )
    assert enabled.charging_enabled and await usage(org) == (2, sorted([plain.name, charging.name]))
    await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(name=plain.name, charging_enabled=False), update_mask=mask("charging_enabled")
        )
    )
    assert await usage(org) == (2, [charging.name])
    await client.charging_points.DeleteChargingPoint(pb.DeleteChargingPointRequest(name=charging.name))
    assert await usage(org) == (1, [])


async def test_over_quota_is_resource_exhausted_with_used_and_allowed(
    assets_stack: AssetsStack, tree: TreeBuilder
) -> None:
    org = await organization(tree, assets_stack, datapoints=20)
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    await asyncio.gather(*(point(client, site.name) for _ in range(20)))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(raised.value)
    assert info is not None and (info.metadata["used"], info.metadata["allowed"]) == ("20", "20")
    status = decode_status(raised.value)
    assert status is not None and any(d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR) for d in status.details)
    listed = await client.charging_points.ListChargingPoints(
        pb.ListChargingPointsRequest(parent=site.name, page_size=100)
    )
    assert len(listed.charging_points) == 20  # the refused one left nothing behind


async def test_no_license_is_failed_precondition_and_releases_the_datapoint(
    assets_stack: AssetsStack, tree: TreeBuilder
) -> None:
    org = await organization(tree, assets_stack, licenses={accounts_pb2.AC_CHARGING: 1})
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name, current_type=CP.DC, charging_enabled=True)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "DC_CHARGING" in (raised.value.details() or "")
    assert await usage(org) == (0, [])
    ac = await point(client, site.name, charging_enabled=True)
    other = await point(client, site.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # the only AC license is taken
        await client.charging_points.UpdateChargingPoint(
            pb.UpdateChargingPointRequest(
                charging_point=CP(name=other.name, charging_enabled=True),
                update_mask=mask("charging_enabled"),
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    got = await client.charging_points.GetChargingPoint(pb.GetChargingPointRequest(name=other.name))
    assert not got.charging_enabled and await usage(org) == (2, [ac.name])


async def test_without_an_account_nothing_is_added(assets_stack: AssetsStack, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    boss = await tree.member(customer.name, [("organization-admin", customer.name)])
    client = assets_stack.client(boss)
    site = await location(client, org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "NO_ACCOUNT"  # type: ignore[union-attr]
    listed = await client.charging_points.ListChargingPoints(pb.ListChargingPointsRequest(parent=site.name))
    assert not listed.charging_points


@dataclasses.dataclass
class Private:
    """An identity and an assets of this test alone (the test stops and restarts identity)."""

    identity: IdentityService
    admin: Client
    assets_target: str
    pause: dict[str, asyncio.Event]


@pytest.fixture
async def private(databases: DatabaseFactory) -> AsyncIterator[tuple[Private, AssetsStack]]:
    identity = await start_identity(await databases.create("identity_private"))
    admin = await Client(f"127.0.0.1:{identity.port}").login(ADMIN_EMAIL, ADMIN_PASSWORD)
    client_id, secret, _ = await service_token(admin, ASSETS_SCOPES, "assets")
    _, _, csms_token = await service_token(admin, ["assets.stations"], "csms")
    _, _, worker_token = await service_token(admin, ["identity.applications"], "worker")
    stops: dict[str, asyncio.Event] = {}

    async def hook(step: str) -> None:
        if step in stops:
            stops[step].set()
            await identity.stop()  # identity dies right after this allocation

    assets = await start_assets(
        await databases.create("assets_private"),
        identity.port,
        client_id,
        secret,
        step_hook=hook,
        reconcile_seconds=3600,
    )
    from wattlane.api.identity.v1 import internal_pb2_grpc
    from wattlane.core.client import channel

    ch = channel(f"127.0.0.1:{identity.port}", token=worker_token, max_attempts=1)
    stack = AssetsStack(
        assets, f"127.0.0.1:{assets.port}", csms_token, internal_pb2_grpc.IdentityInternalServiceStub(ch)
    )
    yield Private(identity, admin, stack.target, stops), stack
    await ch.close(None)
    await assets.stop()
    await admin.close()
    await identity.stop()


async def test_identity_dying_half_way_leaves_nothing_half_done(private: tuple[Private, AssetsStack]) -> None:
    world, stack = private
    tree = TreeBuilder(world.admin)
    org = await organization(tree, stack)
    client = stack.client(org.admin)
    site = await location(client, org.org.name)
    kept = await point(client, site.name, charging_enabled=True)
    world.pause["datapoint"] = asyncio.Event()  # stop identity after the datapoint, before the license
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name, ocpp_identity="HALFWAY-1", charging_enabled=True)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert world.pause["datapoint"].is_set()
    del world.pause["datapoint"]
    # Identity is down: the half-added point is invisible, its identity still reserved.
    listed = await client.charging_points.ListChargingPoints(pb.ListChargingPointsRequest(parent=site.name))
    assert [p.name for p in listed.charging_points] == [kept.name]
    # Identity comes back on its port and database; the reconciler releases the datapoint.
    restarted = IdentityService(dataclasses.replace(world.identity.settings, port=world.identity.port))
    await restarted.start()
    try:
        for _ in range(50):
            if await stack.service.provisioning.reconcile(older_than=0):
                break
            await asyncio.sleep(0.2)
        assert await usage(org) == (1, [kept.name])
        # The identity is free again, and a clean add works.
        again = await point(client, site.name, ocpp_identity="HALFWAY-1", charging_enabled=True)
        assert await usage(org) == (2, sorted([kept.name, again.name]))
    finally:
        await restarted.stop()


async def test_identity_down_during_a_removal_is_finished_later(private: tuple[Private, AssetsStack]) -> None:
    world, stack = private
    org = await organization(TreeBuilder(world.admin), stack)
    client = stack.client(org.admin)
    site = await location(client, org.org.name)
    doomed = await point(client, site.name, charging_enabled=True)
    assert await usage(org) == (1, [doomed.name])
    await world.identity.stop()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.charging_points.DeleteChargingPoint(pb.DeleteChargingPointRequest(name=doomed.name))
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    # Already invisible: its removal is under way; its allocations still count.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.charging_points.GetChargingPoint(pb.GetChargingPointRequest(name=doomed.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    restarted = IdentityService(dataclasses.replace(world.identity.settings, port=world.identity.port))
    await restarted.start()
    try:
        for _ in range(50):
            if await stack.service.provisioning.reconcile(older_than=0):
                break
            await asyncio.sleep(0.2)
        assert await usage(org) == (0, [])
        # The location has no charging points left: it can go.
        await client.locations.DeleteLocation(locations_pb2.DeleteLocationRequest(name=site.name))
    finally:
        await restarted.stop()


async def test_an_organization_member_uses_a_license_but_configures_nothing(
    assets_stack: AssetsStack, org: Org, tree: TreeBuilder
) -> None:
    """Issue 15: organization-member holds `licenses.use` (the Floem seed: members use the
    organization's licenses to activate charging), so it enables and disables charging; any other
    change to the point still needs `stations.manage`."""
    site = await location(assets_stack.client(org.admin), org.org.name)
    plain = await point(assets_stack.client(org.admin), site.name)
    member = await tree.member(org.org.name, [("organization-member", org.org.name)])
    client = assets_stack.client(member)
    enabled = await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(name=plain.name, charging_enabled=True), update_mask=mask("charging_enabled")
        )
    )
    assert enabled.charging_enabled and plain.name in (await usage(org))[1]
    for paths, values in ((["alias"], CP(alias="mine")), (["charging_enabled", "alias"], CP(alias="m"))):
        values.name = plain.name
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.charging_points.UpdateChargingPoint(
                pb.UpdateChargingPointRequest(charging_point=values, update_mask=mask(*paths))
            )
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "stations.manage" in (raised.value.details() or "")
    await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(name=plain.name, charging_enabled=False), update_mask=mask("charging_enabled")
        )
    )
    assert plain.name not in (await usage(org))[1]
