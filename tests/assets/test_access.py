"""Access decisions: every access mode against every kind of card, with who pays and why;
DecideAccess for the CSMS and ExplainAccess for support, within scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.assets import AssetsStack, Org, organization
from wattlane.api.assets.v1 import (
    access_pb2,
    cards_pb2,
    charging_points_pb2,
    internal_pb2,
    locations_pb2,
    settings_pb2,
)
from wattlane.api.identity.v1 import accounts_pb2
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.errors import field_violations
from wattlane.identity.testing import TreeBuilder

from .helpers import location, mask, point, uid

D = internal_pb2.AccessDecision
C = cards_pb2.Card


def ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@dataclass
class World:
    org: Org
    site_name: str
    stations: dict[str, str]  # access mode -> OCPP identity
    cards: dict[str, cards_pb2.Card]
    csms: AssetsClient
    admin: AssetsClient  # the organization's administrator


@pytest.fixture(scope="module")
async def world(tree_builder: TreeBuilder, assets_stack: AssetsStack) -> World:
    org = await organization(tree_builder, assets_stack)
    client = assets_stack.client(org.admin)
    site = await location(
        client,
        org.org.name,
        display_name="Amsterdam HQ",
        access_mode=settings_pb2.WHITELIST,
        time_zone="Europe/Lisbon",  # not the default: the decision carries the location's own
    )
    stations = {}
    for mode in ("OPEN", "WHITELIST", "ROAMING", "ROAMING_WHITELIST"):
        station = await point(
            client,
            site.name,
            access_mode=settings_pb2.AccessMode.Value(mode),
            access_mode_override=mode != "WHITELIST",
            charging_enabled=True,  # takes an AC license: only licensed points charge
        )
        stations[mode] = station.ocpp_identity
    listed_user = await tree_builder.member(org.org.name)
    other_user = await tree_builder.member(org.org.name)
    now = dt.datetime.now(dt.UTC)
    cards = {
        "listed": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=listed_user.user.name, card=C(uid=uid()))
        ),
        "private": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=other_user.user.name, card=C(uid=uid()))
        ),
        "blocked": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=listed_user.user.name, card=C(uid=uid(), blocked=True))
        ),
        "expired": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(
                parent=listed_user.user.name, card=C(uid=uid(), valid_to=ts(now - dt.timedelta(days=1)))
            )
        ),
        "own_whitelist": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=org.customer.name, card=C(uid=uid(), public_mode=C.WHITELIST))
        ),
        "own_roaming_free": await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(
                parent=org.customer.name, card=C(uid=uid(), public_mode=C.ROAMING_FREE)
            )
        ),
    }
    other = await organization(tree_builder, assets_stack)
    cards["foreign_public"] = await assets_stack.client(other.admin).cards.CreateCard(
        cards_pb2.CreateCardRequest(parent=other.customer.name, card=C(uid=uid(), public_mode=C.WHITELIST))
    )
    await client.cards.CreateWhitelistEntry(
        cards_pb2.CreateWhitelistEntryRequest(
            parent=org.org.name, whitelist_entry=cards_pb2.WhitelistEntry(user=listed_user.user.name)
        )
    )
    return World(org, site.name, stations, cards, assets_stack.client(assets_stack.csms_token), client)


CASES = [
    ("OPEN", "unknown", D.ACCEPTED, D.FREE, "access mode Open: any card accepted"),
    ("OPEN", "private", D.ACCEPTED, D.FREE, "access mode Open"),
    ("OPEN", "blocked", D.BLOCKED, D.PAYER_UNSPECIFIED, "blocked"),
    ("OPEN", "expired", D.EXPIRED, D.PAYER_UNSPECIFIED, "expired"),
    ("WHITELIST", "listed", D.ACCEPTED, D.FREE, "on the whitelist of location Amsterdam HQ"),
    ("WHITELIST", "own_whitelist", D.ACCEPTED, D.FREE, "whitelist"),
    (
        "WHITELIST",
        "private",
        D.INVALID,
        D.PAYER_UNSPECIFIED,
        "card not on the whitelist of location Amsterdam HQ",
    ),
    ("WHITELIST", "foreign_public", D.INVALID, D.PAYER_UNSPECIFIED, "not on the whitelist"),
    ("WHITELIST", "unknown", D.INVALID, D.PAYER_UNSPECIFIED, "unknown card"),
    ("WHITELIST", "blocked", D.BLOCKED, D.PAYER_UNSPECIFIED, "blocked"),
    ("ROAMING", "foreign_public", D.ACCEPTED, D.ROAMING, "roaming card accepted"),
    ("ROAMING", "own_roaming_free", D.ACCEPTED, D.FREE, "charges free"),
    ("ROAMING", "private", D.ACCEPTED, D.CARDHOLDER, "the cardholder pays"),
    ("ROAMING", "listed", D.ACCEPTED, D.CARDHOLDER, "the cardholder pays"),
    ("ROAMING", "unknown", D.INVALID, D.PAYER_UNSPECIFIED, "unknown card"),
    ("ROAMING_WHITELIST", "listed", D.ACCEPTED, D.FREE, "whitelist"),
    ("ROAMING_WHITELIST", "foreign_public", D.ACCEPTED, D.ROAMING, "Roaming + Whitelist"),
    ("ROAMING_WHITELIST", "expired", D.EXPIRED, D.PAYER_UNSPECIFIED, "expired"),
]


@pytest.mark.parametrize(("mode", "which", "status", "payer", "reason"), CASES)
async def test_decisions(world: World, mode: str, which: str, status: int, payer: int, reason: str) -> None:
    card = world.cards.get(which)
    token = card.uid.lower() if card else "DEADBEEF00"  # UIDs compare case-insensitively
    decision = await world.csms.internal.DecideAccess(
        internal_pb2.DecideAccessRequest(identity=world.stations[mode], id_token=token)
    )
    assert (decision.status, decision.payer) == (status, payer), decision.reason
    assert reason in decision.reason
    assert decision.access_mode == mode and decision.owner_path == world.org.org.path
    assert decision.time_zone == "Europe/Lisbon"  # the CSMS records it on the transaction
    if card is not None:
        assert (decision.card, decision.card_owner, decision.card_owner_path) == (
            card.name,
            card.owner,
            card.owner_path,
        )
        assert decision.cardholder == card.cardholder
        assert decision.HasField("card_expire_time") == card.HasField("valid_to")
    else:
        assert not decision.card


async def test_bad_tokens_and_unknown_stations(world: World, assets_stack: AssetsStack) -> None:
    decision = await world.csms.internal.DecideAccess(
        internal_pb2.DecideAccessRequest(identity=world.stations["OPEN"], id_token="no spaces allowed")
    )
    assert decision.status == D.INVALID and "not a valid card token" in decision.reason
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await world.csms.internal.DecideAccess(
            internal_pb2.DecideAccessRequest(identity="NOBODY", id_token="AB")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(world.org.admin).internal.DecideAccess(
            internal_pb2.DecideAccessRequest(identity=world.stations["OPEN"], id_token="AB")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_explain_access_within_scope(
    world: World, assets_stack: AssetsStack, tree_builder: TreeBuilder
) -> None:
    admin = assets_stack.client(world.org.admin)
    points = await admin.charging_points.ListChargingPoints(
        charging_points_pb2.ListChargingPointsRequest(
            parent=world.site_name, filter=f'ocpp_identity = "{world.stations["WHITELIST"]}"'
        )
    )
    station = points.charging_points[0].name
    mine = await admin.access.ExplainAccess(
        access_pb2.ExplainAccessRequest(charging_point=station, id_token=world.cards["private"].uid)
    )
    assert mine.status == D.INVALID and "card not on the whitelist of location Amsterdam HQ" in mine.reason
    assert mine.card == world.cards["private"].name
    foreign = await admin.access.ExplainAccess(
        access_pb2.ExplainAccessRequest(charging_point=station, id_token=world.cards["foreign_public"].uid)
    )
    assert (
        foreign.status == D.INVALID and not foreign.card and not foreign.card_owner_path
    )  # not theirs to see
    stranger = await tree_builder.member(world.org.partner.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(stranger).access.ExplainAccess(
            access_pb2.ExplainAccessRequest(charging_point=station, id_token="AB")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_local_authorization_lists(world: World, assets_stack: AssetsStack) -> None:
    listed = await world.csms.internal.ListLocalAuthorizations(
        internal_pb2.ListLocalAuthorizationsRequest(identity=world.stations["WHITELIST"])
    )
    assert listed.access_mode == "WHITELIST" and not listed.truncated
    entries = {e.id_token: e for e in listed.entries}
    # The whitelisted holder's cards (accepted, blocked, expired) and the customer's own
    # whitelist card; not the private card of an unlisted member nor another customer's card.
    expected = {
        world.cards["listed"].uid: D.ACCEPTED,
        world.cards["blocked"].uid: D.BLOCKED,
        world.cards["expired"].uid: D.EXPIRED,
        world.cards["own_whitelist"].uid: D.ACCEPTED,
    }
    assert {uid: e.status for uid, e in entries.items()} == expected
    assert entries[world.cards["expired"].uid].HasField("expire_time")
    assert [e.id_token for e in listed.entries] == sorted(expected)
    cut = await world.csms.internal.ListLocalAuthorizations(
        internal_pb2.ListLocalAuthorizationsRequest(identity=world.stations["WHITELIST"], max_entries=2)
    )
    assert len(cut.entries) == 2 and cut.truncated
    for mode in ("OPEN", "ROAMING"):
        empty = await world.csms.internal.ListLocalAuthorizations(
            internal_pb2.ListLocalAuthorizationsRequest(identity=world.stations[mode])
        )
        assert (empty.access_mode, list(empty.entries)) == (mode, [])
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await world.csms.internal.ListLocalAuthorizations(
            internal_pb2.ListLocalAuthorizationsRequest(identity="NOBODY")
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await world.csms.internal.ListLocalAuthorizations(
            internal_pb2.ListLocalAuthorizationsRequest(identity=world.stations["OPEN"], max_entries=-1)
        )
    assert [v.field for v in field_violations(negative.value)] == ["max_entries"]
    with pytest.raises(grpc.aio.AioRpcError) as users:
        await assets_stack.client(world.org.admin).internal.ListLocalAuthorizations(
            internal_pb2.ListLocalAuthorizationsRequest(identity=world.stations["WHITELIST"])
        )
    assert users.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_point_without_its_feature_license_refuses_every_card(
    tree_builder: TreeBuilder, assets_stack: AssetsStack
) -> None:
    """Issue 15: charging not enabled (no AC license allocated; none in the pool) refuses even in
    Open mode, and ExplainAccess says why; enabling charging (a license taken) lets cards in."""
    org = await organization(tree_builder, assets_stack, licenses={accounts_pb2.DC_CHARGING: 1})
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name, access_mode=settings_pb2.OPEN)
    station = await point(client, site.name)
    assert not station.charging_enabled
    csms = assets_stack.client(assets_stack.csms_token)
    decision = await csms.internal.DecideAccess(
        internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token="04A1B2C3D4E5F6")
    )
    assert decision.status == D.INVALID and decision.payer == D.PAYER_UNSPECIFIED
    assert "charging is not enabled" in decision.reason and "AC_CHARGING license" in decision.reason
    explained = await client.access.ExplainAccess(
        access_pb2.ExplainAccessRequest(charging_point=station.name, id_token="04A1B2C3D4E5F6")
    )
    assert explained.status == D.INVALID and "AC_CHARGING license" in explained.reason
    await client.locations.UpdateLocation(
        locations_pb2.UpdateLocationRequest(
            location=locations_pb2.Location(name=site.name, access_mode=settings_pb2.WHITELIST),
            update_mask=mask("access_mode"),
        )
    )
    listed = await client.cards.CreateCard(
        cards_pb2.CreateCardRequest(parent=org.customer.name, card=C(uid=uid(), public_mode=C.WHITELIST))
    )
    refused = await csms.internal.DecideAccess(
        internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token=listed.uid)
    )
    assert refused.status == D.INVALID and "AC_CHARGING license" in refused.reason
    offline = await csms.internal.ListLocalAuthorizations(
        internal_pb2.ListLocalAuthorizationsRequest(identity=station.ocpp_identity)
    )
    assert list(offline.entries) == []  # nothing accepted offline either
    await org.admin.client.licenses.PurchaseLicenses(
        accounts_pb2.PurchaseLicensesRequest(parent=org.org.name, type=accounts_pb2.AC_CHARGING, quantity=1)
    )
    await client.charging_points.UpdateChargingPoint(
        charging_points_pb2.UpdateChargingPointRequest(
            charging_point=charging_points_pb2.ChargingPoint(name=station.name, charging_enabled=True),
            update_mask=mask("charging_enabled"),
        )
    )
    decision = await csms.internal.DecideAccess(
        internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token=listed.uid)
    )
    assert (decision.status, decision.payer) == (D.ACCEPTED, D.FREE), decision.reason
    offline = await csms.internal.ListLocalAuthorizations(
        internal_pb2.ListLocalAuthorizationsRequest(identity=station.ocpp_identity)
    )
    assert len(offline.entries) == 1


async def test_explain_access_reads_a_card_outside_scope_as_unknown(world: World) -> None:
    """Issue 15: ExplainAccess is no oracle for UIDs of other tenants: another customer's card
    (here a public one, which roaming points would let charge on its issuer's account) gets
    exactly the answer of a UID that exists nowhere, under every access mode."""
    client = world.admin
    for mode, identity in world.stations.items():
        points = await client.charging_points.ListChargingPoints(
            charging_points_pb2.ListChargingPointsRequest(
                parent=world.site_name, filter=f'ocpp_identity = "{identity}"'
            )
        )
        station = points.charging_points[0].name
        foreign, unknown = [
            await client.access.ExplainAccess(
                access_pb2.ExplainAccessRequest(charging_point=station, id_token=token)
            )
            for token in (world.cards["foreign_public"].uid, uid())
        ]
        assert foreign == unknown, mode
        # The caller's own cards are still explained as what they are.
        mine = await client.access.ExplainAccess(
            access_pb2.ExplainAccessRequest(charging_point=station, id_token=world.cards["private"].uid)
        )
        assert mine.card == world.cards["private"].name, mode
