"""Inherited settings: explicit inherit / override flags at every level, the effective value and
the level it came from, and a property test against a plain reference walk up random trees."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.assets import AssetsStack, Org
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.assets.v1 import internal_pb2, locations_pb2, settings_pb2
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.errors import field_violations
from wattlane.identity.testing import TreeBuilder

from .helpers import CP, location, mask, point

S = settings_pb2


async def set_org(client: AssetsClient, org: str, plan: str, override: bool) -> S.OrganizationSettings:
    return await client.settings.UpdateOrganizationSettings(
        S.UpdateOrganizationSettingsRequest(
            settings=S.OrganizationSettings(
                name=f"{org}/assetSettings", rate_plan=plan, rate_plan_override=override
            ),
            update_mask=mask("rate_plan", "rate_plan_override"),
        )
    )


async def effective(client: AssetsClient, name: str) -> S.EffectiveSettings:
    return await client.settings.GetEffectiveSettings(S.GetEffectiveSettingsRequest(name=name))


async def test_levels_and_sources(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name, access_mode=S.WHITELIST)
    station = await point(client, site.name)
    got = await effective(client, station.name)
    assert (got.rate_plan.value, got.rate_plan.level, got.rate_plan.source) == ("", S.DEFAULT, "")
    assert (got.access_mode.value, got.access_mode.level, got.access_mode.source) == (
        "WHITELIST",
        S.LOCATION,
        site.name,
    )
    await set_org(client, org.org.name, "tariffs/standard", True)
    got = await effective(client, station.name)
    assert (got.rate_plan.value, got.rate_plan.level, got.rate_plan.source) == (
        "tariffs/standard",
        S.ORGANIZATION,
        org.org.name,
    )
    # Changing the organization changes every inheriting child at once.
    await set_org(client, org.org.name, "tariffs/summer", True)
    assert (await effective(client, site.name)).rate_plan.value == "tariffs/summer"
    await client.charging_points.UpdateChargingPoint(
        cp_pb2.UpdateChargingPointRequest(
            charging_point=CP(
                name=station.name,
                rate_plan="tariffs/visitor",
                rate_plan_override=True,
                access_mode=S.OPEN,
                access_mode_override=True,
            ),
            update_mask=mask("rate_plan", "rate_plan_override", "access_mode", "access_mode_override"),
        )
    )
    got = await effective(client, station.name)
    assert (got.rate_plan.value, got.rate_plan.level) == ("tariffs/visitor", S.CHARGING_POINT)
    assert (got.access_mode.value, got.access_mode.source) == ("OPEN", station.name)
    on_org = await effective(client, org.org.name)
    assert on_org.rate_plan.value == "tariffs/summer" and not on_org.HasField("access_mode")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_org(client, org.org.name, "summer", True)
    assert [v.field for v in field_violations(raised.value)] == ["settings.rate_plan"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_org(client, org.customer.name, "tariffs/x", True)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@dataclass(frozen=True)
class Tree:
    """Per organization level (override, plan); the location's (override, plan, access mode);
    per point (rate override, plan, access override, mode)."""

    orgs: list[tuple[bool, str]]
    location: tuple[bool, str, str]
    points: list[tuple[bool, str, bool, str]]


PLANS = st.sampled_from(["", "tariffs/a", "tariffs/b", "tariffs/c"])
MODES = ["OPEN", "WHITELIST", "ROAMING", "ROAMING_WHITELIST"]
trees = st.builds(
    Tree,
    orgs=st.lists(st.tuples(st.booleans(), PLANS), min_size=1, max_size=3),
    location=st.tuples(st.booleans(), PLANS, st.sampled_from(MODES)),
    points=st.lists(
        st.tuples(st.booleans(), PLANS, st.booleans(), st.sampled_from(["", *MODES])), max_size=3
    ),
)


def reference(chain: list[tuple[bool, str, str]], default: tuple[str, str]) -> tuple[str, str]:
    """The first (override, value, source) that overrides, nearest first; else the default."""
    for override, value, source in chain:
        if override:
            return value, source
    return default


@given(tree=trees)
async def test_effective_value_is_the_reference_walk(
    assets_stack: AssetsStack, organization_fixture: Org, tree_builder: TreeBuilder, tree: Tree
) -> None:
    org = organization_fixture
    client = assets_stack.client(org.admin)
    csms = assets_stack.client(assets_stack.csms_token)
    orgs = [org.org]  # the account's organization, then sub-organizations under it
    for _ in range(len(tree.orgs) - 1):
        orgs.append(await tree_builder.tenant(orgs[-1].name, "ORGANIZATION"))
    for tenant, (override, plan) in zip(orgs, tree.orgs, strict=True):
        await set_org(client, tenant.name, plan, override)
    loc_override, loc_plan, loc_mode = tree.location
    site = await location(
        client,
        orgs[-1].name,
        rate_plan=loc_plan,
        rate_plan_override=loc_override,
        access_mode=S.AccessMode.Value(loc_mode),
    )
    org_chain = [(o, p, t.name) for t, (o, p) in reversed(list(zip(orgs, tree.orgs, strict=True)))]
    try:
        got = await effective(client, site.name)
        assert (got.rate_plan.value, got.rate_plan.source) == reference(
            [(loc_override, loc_plan, site.name), *org_chain], ("", "")
        )
        stations = []
        for rate_override, plan, mode_override, mode in tree.points:
            station = await point(
                client,
                site.name,
                rate_plan=plan,
                rate_plan_override=rate_override,
                access_mode=S.AccessMode.Value(mode) if mode else 0,
                access_mode_override=mode_override and bool(mode),
            )
            stations.append(station)
            expected_plan = reference(
                [(rate_override, plan, station.name), (loc_override, loc_plan, site.name), *org_chain],
                ("", ""),
            )
            expected_mode = reference(
                [(mode_override and bool(mode), mode, station.name)], (loc_mode, site.name)
            )
            got = await effective(client, station.name)
            assert (got.rate_plan.value, got.rate_plan.source) == expected_plan
            assert (got.access_mode.value, got.access_mode.source) == expected_mode
            decision = await csms.internal.DecideAccess(
                internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token="UNKNOWN1")
            )
            assert (decision.rate_plan, decision.access_mode) == (expected_plan[0], expected_mode[0])
    finally:
        for station in stations:
            await client.charging_points.DeleteChargingPoint(
                cp_pb2.DeleteChargingPointRequest(name=station.name)
            )
        await client.locations.DeleteLocation(locations_pb2.DeleteLocationRequest(name=site.name))
