"""Tenant isolation of the CSMS API through the shared harness (wattlane.core.testing.isolation):
stations of sibling organizations and of another partner, members holding different roles; no
one reads a station, its log or an unclaimed connection outside their scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import grpc
import pytest

from wattlane.api.csms.v1 import stations_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clock import utcnow
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import BootInfo, Direction, LogEntry, StationOwner
from wattlane.csms.registry.stations import Connected
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.permissions import BUILTIN_ROLES
from wattlane.identity.testing import TreeBuilder

S = stations_pb2


@pytest.fixture
async def csms(databases: DatabaseFactory, identity: IdentityService) -> AsyncIterator[CsmsService]:
    service = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmsiso"),
            identity_address=f"127.0.0.1:{identity.port}",
            process_id="iso",
        )
    )
    await service.start()
    yield service
    await service.stop()


async def _station(service: CsmsService, identity: str, owner: tenants_pb2.Tenant) -> None:
    """A station of `owner` as the registry records it: online, booted, with a logged frame."""
    assert service.storage is not None
    registry, log = service.storage.registry, service.storage.message_log
    at = utcnow()
    registry.writer.record(
        Connected(identity, OcppVersion.V16, "127.0.0.1:1", at, StationOwner(owner.name[8:], owner.path))
    )
    await registry.writer.flush()
    await registry.station_booted(BootInfo(identity, OcppVersion.V16, at, "Wattlane", "Sim-1"))
    await registry.writer.flush()
    log.record(LogEntry(at.timestamp(), identity, Direction.IN, 2, "1", "Heartbeat", {}))
    await log.flush()


def _grant(role: str, tenant: tenants_pb2.Tenant) -> Grant:
    return Grant(tenant.path, True, frozenset(BUILTIN_ROLES[role][2]))


async def test_no_member_reads_stations_outside_their_scope(csms: CsmsService, tree: TreeBuilder) -> None:
    root = await tree.root()
    p1 = await tree.tenant(root.name, "PARTNER")
    c1 = await tree.tenant(p1.name, "CUSTOMER")
    org_a = await tree.tenant(c1.name, "ORGANIZATION")
    org_b = await tree.tenant(c1.name, "ORGANIZATION")
    p2 = await tree.tenant(root.name, "PARTNER")
    c2 = await tree.tenant(p2.name, "CUSTOMER")
    org_d = await tree.tenant(c2.name, "ORGANIZATION")
    owners = {"ISO-A": org_a, "ISO-B": org_b, "ISO-D": org_d}
    for identity, owner in owners.items():
        await _station(csms, identity, owner)
    paths = {identity: owner.path for identity, owner in owners.items()}

    roles = [
        ("organization-admin", org_a),
        ("organization-member", org_b),
        ("cardholder", org_a),  # sees org A, without stations.read
        ("partner-admin", p1),
        ("employee", org_d),
        ("customer-success", root),
    ]
    actors: list[Actor] = []
    clients: list[CsmsClient] = []
    for role, tenant in roles:
        member = await tree.member(tenant.name, [(role, tenant.name)])
        client = CsmsClient(f"127.0.0.1:{csms.grpc_port}", member.client.token)
        clients.append(client)
        actors.append(
            Actor(f"{role}@{tenant.display_name}", client, member.user.name, [_grant(role, tenant)])
        )
    targets = [Target(f"stations/{i}", "stations", path) for i, path in paths.items()]
    probes = [
        Probe(
            "GetStation",
            "stations",
            "stations.read",
            "read",
            lambda a, t: a.client.stations.GetStation(S.GetStationRequest(name=t.name)),
        ),
        Probe(
            "ListStationMessages(parent)",
            "stations",
            "stations.read",
            "read",
            lambda a, t: a.client.stations.ListStationMessages(S.ListStationMessagesRequest(parent=t.name)),
        ),
    ]

    async def list_stations(actor: Actor) -> Iterable[tuple[str, str]]:
        page = await actor.client.stations.ListStations(S.ListStationsRequest(page_size=1000))
        return [(s.name, paths.get(s.identity, "?")) for s in page.stations]

    async def list_all_messages(actor: Actor) -> Iterable[tuple[str, str]]:
        page = await actor.client.stations.ListStationMessages(
            S.ListStationMessagesRequest(parent="stations/-", page_size=1000)
        )
        return [(m.name, paths.get(m.identity, "?")) for m in page.messages]

    list_probes = [
        ListProbe("ListStations", list_stations),
        ListProbe("ListStationMessages(-)", list_all_messages),
    ]
    try:
        violations = await check_isolation(actors, targets, probes, list_probes)
        assert not violations, "\n".join(map(str, violations))
        # Positive control: the harness saw real data, not empty answers everywhere.
        assert len(list(await list_stations(actors[3]))) == 2  # partner P1: A and B
        assert [n for n, _ in await list_stations(actors[0])] == ["stations/ISO-A"]
    finally:
        for client in clients:
            await client.close()


async def test_a_member_restricted_to_a_location_sees_only_its_stations(
    csms: CsmsService, tree: TreeBuilder
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    assert csms.storage is not None
    registry = csms.storage.registry
    org_id = org.name.removeprefix("tenants/")
    for identity, location in (("LOC-1", "L1"), ("LOC-2", "L2")):
        owner = StationOwner(org_id, org.path, location_id=location, charging_point_id=f"CP-{location}")
        registry.writer.record(Connected(identity, OcppVersion.V201, "127.0.0.1:1", utcnow(), owner))
    await registry.writer.flush()
    member = await tree.member(
        org.name, [("organization-member", org.name)], allowed_resources=["locations/L1"]
    )
    client = CsmsClient(f"127.0.0.1:{csms.grpc_port}", member.client.token)
    try:
        page = await client.stations.ListStations(S.ListStationsRequest())
        assert [s.identity for s in page.stations] == ["LOC-1"]
        assert (
            await client.stations.GetStation(S.GetStationRequest(name="stations/LOC-1"))
        ).identity == "LOC-1"
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await client.stations.GetStation(S.GetStationRequest(name="stations/LOC-2"))
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await client.close()
