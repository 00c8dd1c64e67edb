"""Property: in random tenant trees with random role holders, no user can read or change any
asset outside their scope through any assets RPC (the shared harness in
wattlane.core.testing.isolation decides what each call must answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

from tests.support.assets import AssetsStack, organization
from wattlane.api.assets.v1 import access_pb2, cards_pb2, locations_pb2, settings_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.common.v1 import audit_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation
from wattlane.identity.permissions import BUILTIN_ROLES
from wattlane.identity.testing import Client, TreeBuilder

from .helpers import CP, location, mask, point, uid

ROLES_BY_KIND = {
    "PARTNER": ["partner-admin", "organization-member"],
    "CUSTOMER": ["organization-admin", "organization-member", "cardholder"],
    "ORGANIZATION": ["organization-admin", "organization-member", "cardholder", "employee"],
}


def probe(
    name: str,
    collection: str,
    permission: str,
    mode: str,
    call: Callable[[Any, Target], Awaitable[Any]],
    **kw: Any,
) -> Probe:
    """A probe calling through the actor's assets client."""
    return Probe(name, collection, permission, mode, lambda a, t: call(a.client, t), **kw)  # type: ignore[arg-type]


P = cp_pb2
PROBES = [
    # Tenants as parents.
    probe(
        "ListLocations(parent)",
        "tenants",
        "locations.read",
        "read",
        lambda c, t: c.locations.ListLocations(locations_pb2.ListLocationsRequest(parent=t.name)),
    ),
    probe(
        "ListChargingPoints(parent)",
        "tenants",
        "stations.read",
        "read",
        lambda c, t: c.charging_points.ListChargingPoints(P.ListChargingPointsRequest(parent=t.name)),
    ),
    probe(
        "ListCards(parent)",
        "tenants",
        "cards.read",
        "read",
        lambda c, t: c.cards.ListCards(cards_pb2.ListCardsRequest(parent=t.name)),
    ),
    probe(
        "GetEffectiveSettings(tenant)",
        "tenants",
        "locations.read",
        "read",
        lambda c, t: c.settings.GetEffectiveSettings(settings_pb2.GetEffectiveSettingsRequest(name=t.name)),
    ),
    probe(
        "CreateLocation(under)",
        "tenants",
        "locations.manage",
        "write",
        lambda c, t: c.locations.CreateLocation(
            locations_pb2.CreateLocationRequest(
                parent=t.name, location=locations_pb2.Location(display_name="x")
            )
        ),
    ),
    probe(
        "CreateCard(public, under)",
        "tenants",
        "cards.manage",
        "write",
        lambda c, t: c.cards.CreateCard(
            cards_pb2.CreateCardRequest(
                parent=t.name, card=cards_pb2.Card(uid=uid(), public_mode=cards_pb2.Card.WHITELIST)
            )
        ),
    ),
    probe(
        "ListAuditEntries(parent)",
        "tenants",
        "audit.read",
        "read",
        lambda c, t: c.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(parent=t.name)),
    ),
    # Organizations.
    probe(
        "GetOrganizationSettings",
        "organizations",
        "locations.read",
        "read",
        lambda c, t: c.settings.GetOrganizationSettings(
            settings_pb2.GetOrganizationSettingsRequest(name=f"{t.name}/assetSettings")
        ),
    ),
    probe(
        "UpdateOrganizationSettings",
        "organizations",
        "locations.manage",
        "write",
        lambda c, t: c.settings.UpdateOrganizationSettings(
            settings_pb2.UpdateOrganizationSettingsRequest(
                settings=settings_pb2.OrganizationSettings(
                    name=f"{t.name}/assetSettings", rate_plan="tariffs/x"
                ),
                update_mask=mask("rate_plan"),
            )
        ),
    ),
    probe(
        "ListWhitelistEntries",
        "organizations",
        "cards.read",
        "read",
        lambda c, t: c.cards.ListWhitelistEntries(cards_pb2.ListWhitelistEntriesRequest(parent=t.name)),
    ),
    probe(
        "CreateWhitelistEntry",
        "organizations",
        "cards.manage",
        "write",
        lambda c, t: c.cards.CreateWhitelistEntry(
            cards_pb2.CreateWhitelistEntryRequest(
                parent=t.name, whitelist_entry=cards_pb2.WhitelistEntry(card="cards/NOPE")
            )
        ),
    ),
    # Locations.
    probe(
        "GetLocation",
        "locations",
        "locations.read",
        "read",
        lambda c, t: c.locations.GetLocation(locations_pb2.GetLocationRequest(name=t.name)),
    ),
    probe(
        "UpdateLocation",
        "locations",
        "locations.manage",
        "write",
        lambda c, t: c.locations.UpdateLocation(
            locations_pb2.UpdateLocationRequest(
                location=locations_pb2.Location(name=t.name, display_name="hijacked"),
                update_mask=mask("display_name"),
            )
        ),
    ),
    probe(
        "DeleteLocation",
        "locations",
        "locations.manage",
        "write",
        lambda c, t: c.locations.DeleteLocation(locations_pb2.DeleteLocationRequest(name=t.name)),
    ),
    probe(
        "GetEffectiveSettings(location)",
        "locations",
        "locations.read",
        "read",
        lambda c, t: c.settings.GetEffectiveSettings(settings_pb2.GetEffectiveSettingsRequest(name=t.name)),
    ),
    probe(
        "ListChargingPoints(location)",
        "locations",
        "stations.read",
        "read",
        lambda c, t: c.charging_points.ListChargingPoints(P.ListChargingPointsRequest(parent=t.name)),
    ),
    probe(
        "CreateChargingPoint(under)",
        "locations",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.CreateChargingPoint(
            P.CreateChargingPointRequest(
                parent=t.name, charging_point=CP(ocpp_identity=f"INTRUDER-{uid()}", current_type=CP.AC)
            )
        ),
    ),
    # Charging points and connectors.
    probe(
        "GetChargingPoint",
        "chargingPoints",
        "stations.read",
        "read",
        lambda c, t: c.charging_points.GetChargingPoint(P.GetChargingPointRequest(name=t.name)),
    ),
    probe(
        "UpdateChargingPoint",
        "chargingPoints",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.UpdateChargingPoint(
            P.UpdateChargingPointRequest(
                charging_point=CP(name=t.name, alias="hijacked"), update_mask=mask("alias")
            )
        ),
    ),
    probe(
        "DeleteChargingPoint",
        "chargingPoints",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.DeleteChargingPoint(P.DeleteChargingPointRequest(name=t.name)),
    ),
    probe(
        "RotateAuthorizationKey",
        "chargingPoints",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.RotateAuthorizationKey(P.RotateAuthorizationKeyRequest(name=t.name)),
    ),
    probe(
        "CreateConnector(under)",
        "chargingPoints",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.CreateConnector(
            P.CreateConnectorRequest(
                parent=t.name, connector=P.Connector(evse_id=9, connector_id=9, type=P.Connector.TYPE_2)
            )
        ),
    ),
    probe(
        "ListConnectors",
        "chargingPoints",
        "stations.read",
        "read",
        lambda c, t: c.charging_points.ListConnectors(P.ListConnectorsRequest(parent=t.name)),
    ),
    probe(
        "GetEffectiveSettings(point)",
        "chargingPoints",
        "stations.read",
        "read",
        lambda c, t: c.settings.GetEffectiveSettings(settings_pb2.GetEffectiveSettingsRequest(name=t.name)),
    ),
    probe(
        "ExplainAccess",
        "chargingPoints",
        "stations.read",
        "read",
        lambda c, t: c.access.ExplainAccess(
            access_pb2.ExplainAccessRequest(charging_point=t.name, id_token="AB")
        ),
    ),
    probe(
        "DeleteConnector",
        "connectors",
        "stations.manage",
        "write",
        lambda c, t: c.charging_points.DeleteConnector(P.DeleteConnectorRequest(name=t.name)),
    ),
    # Cards and whitelists.
    probe(
        "GetCard",
        "cards",
        "cards.read",
        "read",
        lambda c, t: c.cards.GetCard(cards_pb2.GetCardRequest(name=t.name)),
        self_allowed=True,
    ),
    probe(
        "UpdateCard",
        "cards",
        "cards.manage",
        "write",
        lambda c, t: c.cards.UpdateCard(
            cards_pb2.UpdateCardRequest(
                card=cards_pb2.Card(name=t.name, blocked=True), update_mask=mask("blocked")
            )
        ),
    ),
    probe(
        "DeleteCard",
        "cards",
        "cards.manage",
        "write",
        lambda c, t: c.cards.DeleteCard(cards_pb2.DeleteCardRequest(name=t.name)),
    ),
    probe(
        "DeleteWhitelistEntry",
        "whitelistEntries",
        "cards.manage",
        "write",
        lambda c, t: c.cards.DeleteWhitelistEntry(cards_pb2.DeleteWhitelistEntryRequest(name=t.name)),
    ),
]


def list_probes() -> list[ListProbe]:
    async def locations(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.locations.ListLocations(locations_pb2.ListLocationsRequest(page_size=1000))
        return [(x.name, x.owner_path) for x in page.locations]

    async def points(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.charging_points.ListChargingPoints(
            P.ListChargingPointsRequest(page_size=1000)
        )
        return [(x.name, x.owner_path) for x in page.charging_points]

    async def cards(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.cards.ListCards(cards_pb2.ListCardsRequest(page_size=1000))
        return [(x.name, x.owner_path) for x in page.cards]

    async def audit(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000))
        return [(x.name, x.tenant_path) for x in page.audit_entries]

    return [
        ListProbe("ListLocations", locations),
        ListProbe("ListChargingPoints", points),
        ListProbe("ListCards", cards),
        ListProbe("ListAuditEntries", audit),
    ]


@dataclass
class World:
    actors: list[Actor]
    targets: list[Target]
    holders: dict[str, str]  # card name -> cardholder user name


shapes = st.lists(
    st.lists(st.integers(1, 2), min_size=1, max_size=2), min_size=2, max_size=3
)  # partners → customers → orgs


async def build_world(
    tree: TreeBuilder, stack: AssetsStack, shape: list[list[int]], data: st.DataObject
) -> World:
    nodes: list[tenants_pb2.Tenant] = []
    targets: list[Target] = []
    orgs: list[tuple[tenants_pb2.Tenant, AssetsClient]] = []
    for customers in shape:
        first = await organization(tree, stack)  # a partner, customer and org with an account
        nodes += [first.partner, first.customer, first.org]
        admin = stack.client(first.admin)
        orgs.append((first.org, admin))
        for _ in range(customers[0] - 1):  # more organizations of the same customer (no account: no points)
            nodes.append(await tree.tenant(first.customer.name, "ORGANIZATION"))
        for _ in customers[1:]:
            extra = await tree.tenant(first.partner.name, "CUSTOMER")
            nodes.append(extra)
            nodes.append(await tree.tenant(extra.name, "ORGANIZATION"))
    targets += [Target(t.name, "tenants", t.path) for t in nodes]
    targets += [
        Target(t.name, "organizations", t.path) for t in nodes if t.kind == tenants_pb2.Tenant.ORGANIZATION
    ]
    holders: dict[str, str] = {}
    for org, admin in orgs:
        site = await location(admin, org.name)
        station = await point(admin, site.name)
        connector = await admin.charging_points.CreateConnector(
            P.CreateConnectorRequest(
                parent=station.name, connector=P.Connector(evse_id=1, connector_id=1, type=P.Connector.TYPE_2)
            )
        )
        holder = await tree.member(org.name, [("cardholder", org.name)])
        tag = await admin.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=holder.user.name, card=cards_pb2.Card(uid=uid()))
        )
        holders[tag.name] = holder.user.name
        entry = await admin.cards.CreateWhitelistEntry(
            cards_pb2.CreateWhitelistEntryRequest(
                parent=org.name, whitelist_entry=cards_pb2.WhitelistEntry(card=tag.name)
            )
        )
        targets += [
            Target(site.name, "locations", org.path),
            Target(station.name, "chargingPoints", org.path),
            Target(connector.name, "connectors", org.path),
            Target(tag.name, "cards", org.path, owner_user=holder.user.name),
            Target(entry.name, "whitelistEntries", org.path),
        ]
    actors: list[Actor] = []
    for i in range(data.draw(st.integers(2, 5), label="actors")):
        home = data.draw(
            st.sampled_from([n for n in nodes if n.kind != tenants_pb2.Tenant.OPERATOR]), label=f"home{i}"
        )
        kind = tenants_pb2.Tenant.Kind.Name(home.kind)
        role = data.draw(st.sampled_from(ROLES_BY_KIND[kind]), label=f"role{i}")
        propagate = data.draw(st.booleans(), label=f"propagate{i}")
        member = await tree.member(home.name, [(role, home.name)], propagate=propagate)
        grant = Grant(home.path, propagate, frozenset(BUILTIN_ROLES[role][2]))
        actors.append(Actor(f"{role}@{kind.lower()}{i}", stack.client(member), member.user.name, [grant]))
    return World(actors, targets, holders)


async def snapshot(admin: AssetsClient, world: World) -> list[object]:
    """Everything the world's assets hold, read as the operator admin."""
    out: list[object] = []
    for t in world.targets:
        if t.collection == "locations":
            out.append(await admin.locations.GetLocation(locations_pb2.GetLocationRequest(name=t.name)))
        elif t.collection == "chargingPoints":
            out.append(await admin.charging_points.GetChargingPoint(P.GetChargingPointRequest(name=t.name)))
            out.append(await admin.charging_points.ListConnectors(P.ListConnectorsRequest(parent=t.name)))
        elif t.collection == "cards":
            out.append(await admin.cards.GetCard(cards_pb2.GetCardRequest(name=t.name)))
        elif t.collection == "organizations":
            out.append(
                await admin.cards.ListWhitelistEntries(cards_pb2.ListWhitelistEntriesRequest(parent=t.name))
            )
            out.append(await admin.locations.ListLocations(locations_pb2.ListLocationsRequest(parent=t.name)))
    return out


# Each example builds a whole tree over gRPC and probes ~1,000 calls: bounded worlds in CI, no
# shrinking (the failing world is noted). HYPOTHESIS_PROFILE=thorough runs more.
@pytest.mark.timeout(900)
@settings(
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    max_examples=4 if settings().max_examples <= 12 else settings().max_examples,
)
@given(shape=shapes, data=st.data())
async def test_no_user_reaches_outside_their_scope(
    admin: Client, assets_stack: AssetsStack, shape: list[list[int]], data: st.DataObject
) -> None:
    tree = TreeBuilder(admin)
    operator = assets_stack.client(admin)
    try:
        world = await build_world(tree, assets_stack, shape, data)
        note(
            "actors: "
            + "; ".join(f"{a.label} {[(g.path, g.subtree) for g in a.grants]}" for a in world.actors)
        )
        before = await snapshot(operator, world)
        violations = await check_isolation(
            world.actors,
            world.targets,
            PROBES,
            list_probes(),
            sees=lambda actor, name, path: actor.sees(path) or world.holders.get(name) == actor.user_name,
        )
        assert violations == [], "\n".join(map(str, violations))
        assert await snapshot(operator, world) == before, "an out-of-scope call changed the world"
    finally:
        await operator.close()
        await tree.close()
