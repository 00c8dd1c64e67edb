"""The demo's assets `wattlane up` seeds through the public API, as the demo organizations'
administrators: locations, charging points with their station keys, connectors, cards and a
whitelist. Seeding again finds what exists and adds nothing.

A station key is shown only when it is made, so the keys of the demo stations are kept in the
data directory (`station-keys.json`, readable by its owner only) for the banner and for
simulated stations to connect with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import field_mask_pb2

from wattlane.api.assets.v1 import cards_pb2, locations_pb2, settings_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.identity.v1 import tenants_pb2, users_pb2
from wattlane.cli.demo import DEMO_PASSWORD
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.identity import IdentityClient

CP = cp_pb2.ChargingPoint
C = cards_pb2.Card


@dataclass(frozen=True)
class DemoPoint:
    identity: str
    current: CP.CurrentType.ValueType
    watts: int
    charging: bool  # charging enabled: takes an AC / DC license
    ocpp_version: str = "1.6"  # registered in assets; its simulated station speaks this version


@dataclass(frozen=True)
class DemoSite:
    admin: str  # the organization administrator who adds it
    organization: str
    name: str
    city: str
    mode: settings_pb2.AccessMode.ValueType
    points: tuple[DemoPoint, ...]
    time_zone: str = "Europe/Amsterdam"  # local-time tariff restrictions are read in it
    # The demo cards drivers charge with here (the simulated stations' sessions, at points with
    # charging enabled): cards its access mode accepts, so every session becomes a transaction.
    cards: tuple[str, ...] = ()


DIRK, EVA, VISITOR = "04A1B2C3D4E5F6", "04E7A0000000EA", "NLTNM0000000042"
SITES = (
    DemoSite(
        "admin@acme.example",
        "Acme HQ Amsterdam",
        "Amsterdam HQ",
        "Amsterdam",
        settings_pb2.WHITELIST,
        (
            DemoPoint("ACME-AMS-01", CP.AC, 22_000, True),
            DemoPoint("ACME-AMS-02", CP.AC, 22_000, True),
            DemoPoint("ACME-AMS-DC1", CP.DC, 50_000, True, "2.0.1"),
        ),
        cards=(DIRK, EVA),  # whitelisted at Acme HQ
    ),
    DemoSite(
        "admin@acme.example",
        "Acme Depot Utrecht",
        "Utrecht Depot",
        "Utrecht",
        settings_pb2.OPEN,
        (DemoPoint("ACME-UTR-01", CP.AC, 11_000, False),),
    ),
    DemoSite(
        "admin@globex.example",
        "Globex London",
        "London Office",
        "London",
        settings_pb2.ROAMING,
        (DemoPoint("GLOBEX-LON-01", CP.AC, 7_400, False, "2.0.1"),),
        time_zone="Europe/London",
    ),
)
# (cardholder e-mail, UID, label): the drivers' cards are on Acme HQ's whitelist.
CARDS = (
    ("driver@acme.example", DIRK, "Dirk's card"),
    ("eva@acme.example", EVA, "Eva's tag"),
)
ROAMING_CARD = (VISITOR, "Visitor roaming card")


@dataclass(frozen=True)
class DemoStation:
    identity: str
    location: str
    key: str  # AuthorizationKey ("" if it was made before and not kept)
    ocpp_version: str  # as registered in assets: "1.6" or "2.0.1"
    max_power_w: int
    cards: tuple[str, ...]  # the demo cards its sessions charge with (none: it has no sessions)


@dataclass(frozen=True)
class SeededAssets:
    stations: list[DemoStation]
    cards: list[str]  # "UID (label, holder)"


async def _location(client: AssetsClient, org: str, site: DemoSite) -> locations_pb2.Location:
    found = await client.locations.ListLocations(
        locations_pb2.ListLocationsRequest(parent=org, filter=f'display_name = "{site.name}"')
    )
    if found.locations:
        return found.locations[0]
    location = locations_pb2.Location(
        display_name=site.name,
        address=locations_pb2.Address(city=site.city),
        access_mode=site.mode,
        grid_capacity_w=100_000,
        time_zone=site.time_zone,
    )
    return await client.locations.CreateLocation(
        locations_pb2.CreateLocationRequest(parent=org, location=location)
    )


async def _station(
    client: AssetsClient, site: str, demo: DemoPoint, cards: tuple[str, ...], keys: dict[str, str]
) -> DemoStation:
    found = await client.charging_points.ListChargingPoints(
        cp_pb2.ListChargingPointsRequest(parent=site, filter=f'ocpp_identity = "{demo.identity}"')
    )
    if found.charging_points and found.charging_points[0].ocpp_version != demo.ocpp_version:
        # A data directory seeded before the demo registered each point's version: make the
        # registration say what the simulated station speaks.
        fixed = CP(name=found.charging_points[0].name, ocpp_version=demo.ocpp_version)
        await client.charging_points.UpdateChargingPoint(
            cp_pb2.UpdateChargingPointRequest(
                charging_point=fixed, update_mask=field_mask_pb2.FieldMask(paths=["ocpp_version"])
            )
        )
    if not found.charging_points:
        ac = demo.current == CP.AC
        point = CP(
            ocpp_identity=demo.identity,
            current_type=demo.current,
            max_power_w=demo.watts,
            charging_enabled=demo.charging,
            vendor="Alfen" if ac else "ABB",
            model="Eve" if ac else "Terra 54",
            ocpp_version=demo.ocpp_version,
        )
        point = await client.charging_points.CreateChargingPoint(
            cp_pb2.CreateChargingPointRequest(parent=site, charging_point=point)
        )
        plug = cp_pb2.Connector.TYPE_2 if ac else cp_pb2.Connector.CCS2
        connector = cp_pb2.Connector(evse_id=1, connector_id=1, type=plug, max_power_w=demo.watts)
        await client.charging_points.CreateConnector(
            cp_pb2.CreateConnectorRequest(parent=point.name, connector=connector)
        )
        rotated = await client.charging_points.RotateAuthorizationKey(
            cp_pb2.RotateAuthorizationKeyRequest(name=point.name)
        )
        keys[demo.identity] = rotated.authorization_key
    key = keys.get(demo.identity, "")
    # Only a point with charging enabled (a charging license) has drivers charging by themselves.
    return DemoStation(
        demo.identity, site, key, demo.ocpp_version, demo.watts, cards if demo.charging else ()
    )


async def _user_name(admin: IdentityClient, email: str) -> str:
    found = await admin.users.ListUsers(users_pb2.ListUsersRequest(filter=f'email = "{email}"'))
    return found.users[0].name


async def _card(client: AssetsClient, parent: str, card: cards_pb2.Card) -> cards_pb2.Card:
    found = await client.cards.ListCards(
        cards_pb2.ListCardsRequest(parent=parent, filter=f'uid = "{card.uid}"')
    )
    if found.cards:
        return found.cards[0]
    return await client.cards.CreateCard(cards_pb2.CreateCardRequest(parent=parent, card=card))


async def _login(target: str, email: str, password: str) -> IdentityClient:
    return await IdentityClient(target, max_attempts=4).login(email, password)


async def seed(identity_target: str, assets_target: str, data: Path, admin_password: str) -> SeededAssets:
    """Seed (or find) the demo's assets; station keys are kept in `data/station-keys.json`."""
    keys_file = data / "station-keys.json"
    keys: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    operator = await _login(identity_target, "admin@wattlane.local", admin_password)
    org_admins: dict[str, IdentityClient] = {}
    clients: list[AssetsClient] = []
    try:
        stations: list[DemoStation] = []
        orgs: dict[str, tuple[str, AssetsClient]] = {}
        for demo in SITES:
            if demo.admin not in org_admins:
                org_admins[demo.admin] = await _login(identity_target, demo.admin, DEMO_PASSWORD)
            client = AssetsClient(assets_target, org_admins[demo.admin].token, max_attempts=4)
            clients.append(client)
            found = await operator.tenants.ListTenants(
                tenants_pb2.ListTenantsRequest(filter=f'display_name = "{demo.organization}"')
            )
            org = found.tenants[0].name
            orgs[demo.organization] = (org, client)
            site = await _location(client, org, demo)
            for point in demo.points:
                stations.append(await _station(client, site.name, point, demo.cards, keys))
        keys_file.write_text(json.dumps(keys, indent=2))
        keys_file.chmod(0o600)
        hq, acme = orgs["Acme HQ Amsterdam"]
        cards = []
        for email, uid, label in CARDS:
            card = await _card(acme, await _user_name(operator, email), C(uid=uid, label=label))
            listed = await acme.cards.ListWhitelistEntries(cards_pb2.ListWhitelistEntriesRequest(parent=hq))
            if not any(e.card == card.name for e in listed.whitelist_entries):
                entry = cards_pb2.WhitelistEntry(card=card.name)
                await acme.cards.CreateWhitelistEntry(
                    cards_pb2.CreateWhitelistEntryRequest(parent=hq, whitelist_entry=entry)
                )
            cards.append(f"{uid} ({label}, {email}, whitelisted at Amsterdam HQ)")
        customer = (await operator.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=hq))).parent
        uid, label = ROAMING_CARD
        await _card(acme, customer, C(uid=uid, label=label, public_mode=C.ROAMING_FREE, issuer="NL-TNM"))
        cards.append(f"{uid} ({label}, public card of Acme Logistics: roaming free)")
        return SeededAssets(stations, cards)
    finally:
        for c in clients:
            await c.close()
        for admin in org_admins.values():
            await admin.close()
        await operator.close()


def banner(seeded: SeededAssets) -> list[str]:
    """Lines for the `wattlane up` banner: stations with their keys, and cards."""
    lines = ["Demo charging stations (OCPP identity, AuthorizationKey; kept in station-keys.json):"]
    lines += [f"   {s.identity:<16} {s.key or '(made before; key not kept)'}" for s in seeded.stations]
    lines += ["Demo cards:", *(f"   {c}" for c in seeded.cards), ""]
    return lines
