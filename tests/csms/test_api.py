"""StationService and CsmsInternalService over real gRPC: two CSMS processes' worth of stations
(sibling organizations) on one database, a real identity, real simulated stations."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from wattlane.api.csms.v1 import internal_pb2, stations_pb2
from wattlane.api.identity.v1 import auth_pb2, tenants_pb2
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.errors import field_violations
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.testing import eventually_async
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Member, TreeBuilder, unique
from wattlane.simulator.station import SimStation

PASSWORD = "demo-password-0123456"
S = stations_pb2


@dataclass
class World:
    """Org A and org B (siblings under one customer of one partner), a CSMS for each org's
    stations (A-n, B-n) on one database, and members."""

    a: CsmsService
    b: CsmsService
    org_a: tenants_pb2.Tenant
    org_b: tenants_pb2.Tenant
    member_a: Member
    member_b: Member
    partner_admin: Member
    support: Member  # Customer Success, at the operator
    clients: dict[str, CsmsClient]

    def url(self, service: CsmsService) -> str:
        return f"ws://127.0.0.1:{service.port}/ocpp"


def _settings(
    database_url: str, identity: IdentityService, prefix: str, org: tenants_pb2.Tenant
) -> CsmsSettings:
    return CsmsSettings(
        port=0,
        metrics_port=-1,
        grpc_port=0,
        database_url=database_url,
        identity_address=f"127.0.0.1:{identity.port}",
        demo_pattern=rf"{prefix}-\d+",
        demo_password=PASSWORD,
        demo_owner=org.name.removeprefix("tenants/"),
        demo_owner_path=org.path,
        process_id=f"csms-{prefix}",
        heartbeat_interval=60,
    )


async def _booted(url: str, identity: str, protocol: str = "ocpp1.6") -> SimStation:
    station = SimStation(identity, url, protocol=protocol, password=PASSWORD)
    await station.connect()
    await station.boot()
    await station.status(1, "Available")
    return station


@pytest.fixture
async def world(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder
) -> AsyncIterator[World]:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org_a = await tree.tenant(customer.name, "ORGANIZATION")
    org_b = await tree.tenant(customer.name, "ORGANIZATION")
    url = await databases.create("csmsapi")
    a = CsmsService(_settings(url, identity, "A", org_a))
    b = CsmsService(_settings(url, identity, "B", org_b))
    await a.start()
    await b.start()
    members = {
        "member_a": await tree.member(org_a.name, [("organization-admin", org_a.name)]),
        "member_b": await tree.member(org_b.name, [("organization-admin", org_b.name)]),
        "partner_admin": await tree.member(partner.name, [("partner-admin", partner.name)]),
        "support": await tree.member(root.name, [("customer-success", root.name)]),
    }
    clients = {k: CsmsClient(f"127.0.0.1:{a.grpc_port}", m.client.token) for k, m in members.items()}
    yield World(a, b, org_a, org_b, **members, clients=clients)
    for client in clients.values():
        await client.close()
    await a.stop()
    await b.stop()


async def _flush(world: World) -> None:
    for service in (world.a, world.b):
        assert service.storage is not None
        await service.storage.registry.writer.flush()
        await service.storage.message_log.flush()


async def _list(client: CsmsClient, **kwargs: object) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page = await client.stations.ListStations(S.ListStationsRequest(page_token=token, **kwargs))  # type: ignore[arg-type]
        names += [s.identity for s in page.stations]
        token = page.next_page_token
        if not token:
            return names


async def test_stations_are_read_within_scope(world: World) -> None:
    a1 = await _booted(world.url(world.a), "A-1")
    a2 = await _booted(world.url(world.a), "A-2", "ocpp2.0.1")
    b1 = await _booted(world.url(world.b), "B-1")
    await _flush(world)
    member_a, member_b = world.clients["member_a"], world.clients["member_b"]
    assert sorted(identity for identity, _ in world.a.open_connections()) == ["A-1", "A-2"]

    assert await _list(member_a) == ["A-1", "A-2"]
    assert await _list(member_b) == ["B-1"]
    assert await _list(world.clients["partner_admin"], page_size=1) == ["A-1", "A-2", "B-1"]
    assert await _list(member_a, filter='protocol = "ocpp2.0.1"') == ["A-2"]

    station = await member_a.stations.GetStation(S.GetStationRequest(name="stations/A-1"))
    assert station.connectivity == S.Station.ONLINE and station.status == S.AVAILABLE
    assert station.owner == world.org_a.name and station.connected_process == "csms-A"
    assert station.boot.vendor == "Wattlane" and station.boot.accepted
    assert [(c.evse_id, c.connector_id, c.status, c.ocpp_status) for c in station.connectors] == [
        (1, 1, S.AVAILABLE, "Available")
    ]
    with pytest.raises(grpc.aio.AioRpcError) as absent:
        await member_a.stations.GetStation(S.GetStationRequest(name="stations/B-1"))
    assert absent.value.code() == grpc.StatusCode.NOT_FOUND

    await a1.close()

    async def offline() -> bool:
        await _flush(world)
        station = await member_a.stations.GetStation(S.GetStationRequest(name="stations/A-1"))
        return station.connectivity == S.Station.OFFLINE and station.status == S.OFFLINE

    await eventually_async(offline, what="A-1 offline")
    assert await _list(member_a, filter="online = true") == ["A-2"]
    await a2.close()
    await b1.close()


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (S.GetStationRequest(name="stations/no:colon"), "name"),
        (S.GetStationRequest(name="tenants/x"), "name"),
        (S.ListStationsRequest(filter="nope = 1"), "filter"),
        (S.ListStationsRequest(page_size=-1), "page_size"),
        (S.ListStationsRequest(page_token="garbage!"), "page_token"),
        (S.ListStationMessagesRequest(parent=""), "parent"),
        (S.ListStationMessagesRequest(parent="stations/"), "parent"),
        (S.ListStationMessagesRequest(parent="stations/-", filter='time >= "yesterday"'), "filter"),
    ],
)
async def test_invalid_requests_name_the_field(world: World, request_: object, field: str) -> None:
    client = world.clients["member_a"]
    method: Any = {
        "GetStationRequest": client.stations.GetStation,
        "ListStationsRequest": client.stations.ListStations,
        "ListStationMessagesRequest": client.stations.ListStationMessages,
    }[type(request_).__name__]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await method(request_)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error.value)] == [field]


async def test_the_message_log_shows_each_frame_as_the_station_sent_it(world: World) -> None:
    """Integers stay integers (`"connectorId": 1`, not `1.0`) and keys keep the sender's order:
    `payload_json` is the payload as the frame carried it (a protobuf Value holds only doubles)."""
    station = await _booted(world.url(world.a), "A-7")
    await station.call(
        "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}
    )
    await _flush(world)
    client = world.clients["member_a"]
    page = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(parent="stations/A-7", filter='action = "StatusNotification"')
    )
    sent = [m.payload_json for m in page.messages if m.direction == S.StationMessage.IN]
    # Not the order PostgreSQL's jsonb would keep (shortest key first).
    assert sent[0] == '{"connectorId":1,"status":"Faulted","errorCode":"GroundFailure"}'
    assert sent[1].startswith('{"connectorId":1,"errorCode":"NoError","status":"Available"')
    boot = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(parent="stations/A-7", filter='action = "BootNotification"')
    )
    [answer] = [m for m in boot.messages if m.direction == S.StationMessage.OUT]
    interval = json.loads(answer.payload_json)["interval"]
    assert isinstance(interval, int) and f'"interval":{interval}' in answer.payload_json
    await station.close()


async def test_the_message_log_reads_by_station_action_errors_and_time(world: World) -> None:
    station = await _booted(world.url(world.a), "A-3")
    await station.heartbeat()
    await station.send_raw("[2, broken")
    await station.next_unmatched()
    other = await _booted(world.url(world.b), "B-3")
    await _flush(world)
    client = world.clients["member_a"]

    page = await client.stations.ListStationMessages(S.ListStationMessagesRequest(parent="stations/A-3"))
    actions = [(m.direction, m.action) for m in page.messages]
    assert actions[:2] == [(S.StationMessage.OUT, ""), (S.StationMessage.IN, "")]  # the broken frame
    assert (S.StationMessage.IN, "BootNotification") in actions and len(actions) == 8
    boots = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(parent="stations/A-3", filter='action = "BootNotification"')
    )
    assert [m.direction for m in boots.messages] == [S.StationMessage.OUT, S.StationMessage.IN]
    assert boots.messages[0].payload.struct_value.fields["status"].string_value == "Accepted"
    errors = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(parent="stations/-", filter="error = true")
    )
    assert [(m.identity, m.message_type) for m in errors.messages] == [("A-3", 4), ("A-3", 0)]
    assert errors.messages[0].error_code
    first = page.messages[-1].time.ToJsonString()
    later = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(parent="stations/-", filter=f'time > "{first}"', page_size=3)
    )
    assert len(later.messages) == 3 and later.next_page_token
    rest = await client.stations.ListStationMessages(
        S.ListStationMessagesRequest(
            parent="stations/-", filter=f'time > "{first}"', page_size=3, page_token=later.next_page_token
        )
    )
    assert all(m.identity == "A-3" for m in [*later.messages, *rest.messages])
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await client.stations.ListStationMessages(S.ListStationMessagesRequest(parent="stations/B-3"))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    await station.close()
    await other.close()


async def test_unclaimed_connections_are_for_the_operator_and_for_assets(
    world: World, identity: IdentityService, tree: TreeBuilder
) -> None:
    stranger = SimStation("NEW-7", world.url(world.a), protocol="ocpp2.0.1", password=PASSWORD)
    with pytest.raises(Exception, match="404"):
        await stranger.connect()
    await _flush(world)
    listed = await world.clients["support"].stations.ListUnclaimedConnections(
        S.ListUnclaimedConnectionsRequest(filter='identity = "NEW-7"')
    )
    assert [(c.identity, c.attempts, c.protocol) for c in listed.connections] == [("NEW-7", 1, "ocpp2.0.1")]
    for label in ("member_a", "partner_admin"):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await world.clients[label].stations.ListUnclaimedConnections(S.ListUnclaimedConnectionsRequest())
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    created = await tree.admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(service=unique("assets"), scopes=["csms.unclaimed"])
        )
    )
    token = await tree.admin.auth.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            client_id=created.service_account.name, client_secret=created.client_secret
        )
    )
    service = CsmsClient(f"127.0.0.1:{world.a.grpc_port}", token.access_token)
    try:
        found = await service.internal.GetUnclaimedConnection(
            internal_pb2.GetUnclaimedConnectionRequest(identity="NEW-7")
        )
        assert (found.identity, found.attempts, found.protocol) == ("NEW-7", 1, "ocpp2.0.1")
        assert re.fullmatch(r"127\.0\.0\.1:\d+", found.remote_address)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await service.internal.GetUnclaimedConnection(
                internal_pb2.GetUnclaimedConnectionRequest(identity="NEVER-1")
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await service.internal.GetUnclaimedConnection(
                internal_pb2.GetUnclaimedConnectionRequest(identity="")
            )
        assert [v.field for v in field_violations(invalid.value)] == ["identity"]
    finally:
        await service.close()
    with pytest.raises(grpc.aio.AioRpcError) as users_cannot:
        await world.clients["support"].internal.GetUnclaimedConnection(
            internal_pb2.GetUnclaimedConnectionRequest(identity="NEW-7")
        )
    assert users_cannot.value.code() == grpc.StatusCode.PERMISSION_DENIED
