"""Credentials and access decisions from assets, against a real gRPC server implementing
`AssetsInternalService` in the test (assets itself lives in its own service)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.assets.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.testing.tokens import TokenMinter
from wattlane.csms.providers.assets import AssetsAccess, AssetsStations
from wattlane.csms.providers.interfaces import AccessStatus, ProviderUnavailable
from wattlane.csms.providers.memory import memory_providers
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.testing import RunningCsms, running_csms
from wattlane.simulator.station import SimStation

KEY = "assets-key-0123456789ab"
NEW_KEY = "rotated-key-0123456789ab"


def credential(identity: str, key: str, version: int = 1) -> internal_pb2.StationCredential:
    salt = secrets.token_bytes(16)
    return internal_pb2.StationCredential(
        identity=identity,
        charging_point="chargingPoints/CP1",
        location="locations/L1",
        owner="tenants/ORG1",
        owner_path="/op/p/c/ORG1/",
        key_salt=salt,
        key_digest=hmac.new(salt, key.encode(), hashlib.sha256).digest(),
        certificate_subject=identity,
        credential_version=version,
        ocpp_version="1.6",
    )


@dataclass
class FakeAssets(internal_pb2_grpc.AssetsInternalServiceServicer):
    """Assets' internal API over a dict, checking that callers send a bearer token."""

    credentials: dict[str, internal_pb2.StationCredential] = field(default_factory=dict)
    cards: dict[str, internal_pb2.AccessDecision] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def _caller(self, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        metadata = dict(context.invocation_metadata() or ())
        self.tokens.append(str(metadata.get("authorization", "")))

    async def GetStationCredential(
        self,
        request: internal_pb2.GetStationCredentialRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> internal_pb2.StationCredential:
        self._caller(context)
        self.calls.append(f"credential:{request.identity}")
        if request.identity not in self.credentials:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no charging point has this identity")
        return self.credentials[request.identity]

    async def DecideAccess(
        self,
        request: internal_pb2.DecideAccessRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> internal_pb2.AccessDecision:
        self._caller(context)
        self.calls.append(f"access:{request.id_token}")
        if request.identity not in self.credentials:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no charging point has this identity")
        return self.cards.get(
            request.id_token, internal_pb2.AccessDecision(status=internal_pb2.AccessDecision.INVALID)
        )

    async def ListLocalAuthorizations(
        self,
        request: internal_pb2.ListLocalAuthorizationsRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> internal_pb2.LocalAuthorizationList:
        """Not used by these tests."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this fake")
        raise AssertionError("unreachable")


@dataclass
class AssetsServer:
    fake: FakeAssets
    server: grpc.aio.Server
    port: int


@pytest.fixture
async def assets() -> AsyncIterator[AssetsServer]:
    fake = FakeAssets()
    server = grpc.aio.server()
    internal_pb2_grpc.add_AssetsInternalServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield AssetsServer(fake, server, port)
    await server.stop(None)


@pytest.fixture
async def csms(assets: AssetsServer) -> AsyncIterator[RunningCsms]:
    token = TokenMinter().service_token("csms", ["assets.stations", "assets.access"])
    assets_channel = channel(f"127.0.0.1:{assets.port}", token=token, max_attempts=1, timeout=2.0)
    stub = internal_pb2_grpc.AssetsInternalServiceStub(assets_channel)
    memory = memory_providers()
    memory.stations = AssetsStations(stub, refetch_interval=0.0)  # type: ignore[assignment]
    memory.access = AssetsAccess(stub)  # type: ignore[assignment]
    # Decisions are never fresh: every Authorize asks assets, and an outage serves the stale one.
    async with running_csms(memory=memory, stations={}, access_cache_ttl=0.0) as running:
        yield running
    await assets_channel.close(None)


async def test_basic_auth_is_verified_locally_against_the_cached_verifier(
    assets: AssetsServer, csms: RunningCsms
) -> None:
    assets.fake.credentials["CP-1"] = credential("CP-1", KEY)
    for _ in range(3):
        station = SimStation("CP-1", csms.url, password=KEY)
        await station.connect()
        assert (await station.boot())["status"] == "Accepted"
        await station.close()
    assert assets.fake.calls == ["credential:CP-1"]  # fetched once, then verified locally
    assert all(t.startswith("Bearer ") for t in assets.fake.tokens)
    owner = await csms.csms.providers.credentials.owner("CP-1")
    assert owner is not None
    assert (owner.owner_id, owner.owner_path, owner.location_id, owner.charging_point_id) == (
        "ORG1",
        "/op/p/c/ORG1/",
        "L1",
        "CP1",
    )


async def test_a_rotated_key_works_at_once_and_the_old_key_stops(
    assets: AssetsServer, csms: RunningCsms
) -> None:
    assets.fake.credentials["CP-2"] = credential("CP-2", KEY)
    station = SimStation("CP-2", csms.url, password=KEY)
    await station.connect()
    await station.close()
    assets.fake.credentials["CP-2"] = credential("CP-2", NEW_KEY, version=2)
    rotated = SimStation("CP-2", csms.url, password=NEW_KEY)
    await rotated.connect()  # the cached verifier fails once: refetched, then accepted
    await rotated.close()
    stale = SimStation("CP-2", csms.url, password=KEY)
    with pytest.raises(Exception, match="401"):
        await stale.connect()


async def test_unknown_stations_get_404_and_are_recorded(assets: AssetsServer, csms: RunningCsms) -> None:
    stranger = SimStation("CP-404", csms.url, password=KEY)
    with pytest.raises(Exception, match="404"):
        await stranger.connect()
    stations = csms.csms.providers.credentials
    assert isinstance(stations, AssetsStations)
    assert [a.identity for a in stations.unclaimed] == ["CP-404"]


async def test_access_decisions_come_from_assets_and_survive_a_short_outage(
    assets: AssetsServer, csms: RunningCsms
) -> None:
    assets.fake.credentials["CP-3"] = credential("CP-3", KEY)
    expiry = Timestamp(seconds=2_000_000_000)
    assets.fake.cards["CARD-1"] = internal_pb2.AccessDecision(
        status=internal_pb2.AccessDecision.ACCEPTED, card_expire_time=expiry
    )
    assets.fake.cards["CARD-2"] = internal_pb2.AccessDecision(status=internal_pb2.AccessDecision.BLOCKED)
    station = SimStation("CP-3", csms.url, password=KEY)
    await station.connect()
    await station.boot()
    accepted = await station.authorize("CARD-1")
    assert accepted["idTagInfo"]["status"] == "Accepted" and accepted["idTagInfo"]["expiryDate"]
    assert (await station.authorize("CARD-2"))["idTagInfo"]["status"] == "Blocked"
    assert (await station.authorize("CARD-9"))["idTagInfo"]["status"] == "Invalid"

    await assets.server.stop(None)  # assets goes down
    assert (await station.authorize("CARD-1"))["idTagInfo"]["status"] == "Accepted"  # from the cache
    await station.close()


async def test_outages_and_unknown_stations_at_the_provider_level(assets: AssetsServer) -> None:
    stub = internal_pb2_grpc.AssetsInternalServiceStub(
        channel(f"127.0.0.1:{assets.port}", max_attempts=1, timeout=2.0)
    )
    access = AssetsAccess(stub)
    decision = await access.decide("NOPE", "CARD-1", "")
    assert decision.status is AccessStatus.INVALID
    stations = AssetsStations(stub, refetch_interval=0.0)
    assets.fake.credentials["CP-5"] = credential("CP-5", KEY)
    assert await stations.is_known("CP-5")
    assert await stations.verify_certificate("CP-5", "CP-5")
    assert not await stations.verify_certificate("CP-5", "CP-6")
    await assets.server.stop(None)
    assert await stations.verify_password("CP-5", KEY.encode())  # the cached verifier still works
    with pytest.raises(ProviderUnavailable):
        await stations.is_known("CP-6")
    with pytest.raises(ProviderUnavailable):
        await access.decide("CP-5", "CARD-1", "")


async def test_the_process_uses_assets_when_its_address_is_set(assets: AssetsServer) -> None:
    assets.fake.credentials["CP-7"] = credential("CP-7", KEY)
    service = CsmsService(
        CsmsSettings(port=0, grpc_port=-1, metrics_port=-1, assets_address=f"127.0.0.1:{assets.port}")
    )
    await service.start()
    try:
        assert isinstance(service.csms and service.csms.providers.credentials, AssetsStations)
        station = SimStation("CP-7", f"ws://127.0.0.1:{service.port}/ocpp", password=KEY)
        await station.connect()
        assert (await station.boot())["status"] == "Accepted"
        await station.close()
    finally:
        await service.stop()
