"""The CSMS with the real assets service (and identity): a charging point created in assets
connects with the key assets issued, is recorded with assets' owner, location and charging point,
keeps working across a key rotation, and is authorized by assets' access decisions."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from tests.support.assets import CSMS_SCOPES, AssetsStack, Org, organization, service_token
from wattlane.api.assets.v1 import cards_pb2, locations_pb2, settings_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.assets.v1 import internal_pb2 as assets_internal
from wattlane.api.csms.v1 import commands_pb2, stations_pb2
from wattlane.assets.onboarding import GrpcCsmsLink
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.providers.assets import AssetsStations
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client, TreeBuilder
from wattlane.simulator.station import SimStation, default_handlers


@pytest.fixture
async def csms(
    databases: DatabaseFactory, identity: IdentityService, admin: Client, assets_stack: AssetsStack
) -> AsyncIterator[CsmsService]:
    client_id, secret, _ = await service_token(admin, CSMS_SCOPES, "csms")
    service = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmsassets"),
            identity_address=f"127.0.0.1:{identity.port}",
            client_id=client_id,
            client_secret=secret,
            assets_address=assets_stack.target,
        )
    )
    await service.start()
    yield service
    await service.stop()


async def test_a_charging_point_from_assets_connects_and_is_scoped_by_its_owner(
    csms: CsmsService, assets_stack: AssetsStack, tree: TreeBuilder
) -> None:
    org: Org = await organization(tree, assets_stack)
    client = assets_stack.client(org.admin)
    site = await client.locations.CreateLocation(
        locations_pb2.CreateLocationRequest(
            parent=org.org.name, location=locations_pb2.Location(display_name="HQ")
        )
    )
    identity = f"CSMS-{secrets.token_hex(4)}"
    point = await client.charging_points.CreateChargingPoint(
        cp_pb2.CreateChargingPointRequest(
            parent=site.name,
            charging_point=cp_pb2.ChargingPoint(ocpp_identity=identity, current_type=cp_pb2.ChargingPoint.AC),
        )
    )
    key = (
        await client.charging_points.RotateAuthorizationKey(
            cp_pb2.RotateAuthorizationKeyRequest(name=point.name)
        )
    ).authorization_key
    url = f"ws://127.0.0.1:{csms.port}/ocpp"

    station = SimStation(identity, url, protocol="ocpp2.0.1", password=key)
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    card = "04A1B2C3D4E5F6"
    expected = await assets_stack.client(assets_stack.csms_token).internal.DecideAccess(
        assets_internal.DecideAccessRequest(identity=identity, id_token=card, token_type="ISO14443")
    )
    # Charging is not enabled at the point (no license allocated): the CSMS refuses the card too.
    assert expected.status == assets_internal.AccessDecision.INVALID and "license" in expected.reason
    answer = await station.authorize(card)
    assert (
        answer["idTokenInfo"]["status"] == assets_internal.AccessDecision.Status.Name(expected.status).title()
    )
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    await station.close()

    viewer = CsmsClient(f"127.0.0.1:{csms.grpc_port}", org.admin.client.token)
    try:
        seen = await viewer.stations.GetStation(stations_pb2.GetStationRequest(name=f"stations/{identity}"))
        assert seen.owner == org.org.name and seen.boot.accepted
    finally:
        await viewer.close()

    # A rotation: the new key gets in at once (the cached verifier is refreshed), the old is refused.
    new_key = (
        await client.charging_points.RotateAuthorizationKey(
            cp_pb2.RotateAuthorizationKeyRequest(name=point.name)
        )
    ).authorization_key
    credentials = csms.csms.providers.credentials if csms.csms else None
    inner = getattr(credentials, "inner", None)
    assert isinstance(inner, AssetsStations)
    inner.refetch_interval = 0.0  # the fetch just happened; by default a second passes between refetches
    rotated = SimStation(identity, url, protocol="ocpp2.0.1", password=new_key)
    await rotated.connect()
    await rotated.close()
    stale = SimStation(identity, url, protocol="ocpp2.0.1", password=key)
    with pytest.raises(Exception, match="401"):
        await stale.connect()

    stranger = SimStation(f"NEW-{secrets.token_hex(3)}", url, password=key)
    with pytest.raises(Exception, match="404"):
        await stranger.connect()


async def test_assets_link_reads_the_unclaimed_attempts_the_csms_records(
    csms: CsmsService, admin: Client
) -> None:
    identity = f"WILD-{secrets.token_hex(3)}"
    stranger = SimStation(
        identity, f"ws://127.0.0.1:{csms.port}/ocpp", protocol="ocpp2.0.1", password="x" * 16
    )
    for _ in range(2):
        with pytest.raises(Exception, match="404"):
            await stranger.connect()
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    _, _, token = await service_token(admin, ["csms.unclaimed"], "assets")

    async def bearer() -> str:
        return token

    link = GrpcCsmsLink(f"127.0.0.1:{csms.grpc_port}", bearer)  # assets' own client of the contract
    try:
        attempt = await link.unclaimed_connection(identity)
        assert attempt is not None and (attempt.identity, attempt.attempts) == (identity, 2)
        assert attempt.first_attempt_time <= attempt.last_attempt_time
        assert await link.unclaimed_connection("NEVER-SEEN-1") is None
    finally:
        await link.close()


async def test_send_local_list_syncs_the_whitelist_from_assets(
    csms: CsmsService, assets_stack: AssetsStack, tree: TreeBuilder
) -> None:
    org: Org = await organization(tree, assets_stack)
    client = assets_stack.client(org.admin)
    site = await client.locations.CreateLocation(
        locations_pb2.CreateLocationRequest(
            parent=org.org.name,
            location=locations_pb2.Location(display_name="Depot", access_mode=settings_pb2.WHITELIST),
        )
    )
    identity = f"LL-{secrets.token_hex(4)}"
    point = await client.charging_points.CreateChargingPoint(
        cp_pb2.CreateChargingPointRequest(
            parent=site.name,
            charging_point=cp_pb2.ChargingPoint(
                ocpp_identity=identity, current_type=cp_pb2.ChargingPoint.AC, charging_enabled=True
            ),
        )
    )
    key = (
        await client.charging_points.RotateAuthorizationKey(
            cp_pb2.RotateAuthorizationKeyRequest(name=point.name)
        )
    ).authorization_key
    uid = secrets.token_hex(7).upper()
    await client.cards.CreateCard(
        cards_pb2.CreateCardRequest(
            parent=org.customer.name, card=cards_pb2.Card(uid=uid, public_mode=cards_pb2.Card.WHITELIST)
        )
    )
    station = SimStation(
        identity, f"ws://127.0.0.1:{csms.port}/ocpp", password=key, handlers=default_handlers("ocpp1.6")
    )
    await station.connect()
    await station.boot()
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    owner = CsmsClient(f"127.0.0.1:{csms.grpc_port}", org.admin.client.token)
    try:
        sent = await owner.commands.CreateCommand(
            commands_pb2.CreateCommandRequest(
                parent=f"stations/{identity}",
                command=commands_pb2.Command(send_local_list=commands_pb2.SendLocalList()),
            )
        )
    finally:
        await owner.close()
        await station.close()
    assert sent.state == commands_pb2.Command.ACCEPTED
    action, payload = station.received_calls[-1]
    assert action == "SendLocalList" and payload["updateType"] == "Full" and payload["listVersion"] > 0
    assert payload["localAuthorizationList"] == [{"idTag": uid, "idTagInfo": {"status": "Accepted"}}]
