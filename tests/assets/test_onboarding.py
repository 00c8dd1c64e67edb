"""Connected onboarding against a real gRPC server implementing the CSMS's internal API (the
CSMS is built elsewhere; this stub records unclaimed connections the way it will)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from tests.support.assets import ASSETS_SCOPES, AssetsStack, Org, service_token, start_assets
from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.csms.v1 import commands_pb2, internal_pb2, internal_pb2_grpc
from wattlane.assets.main import AssetsService
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.errors import error_info
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client

from .helpers import CP, identity, location, point

SEEN = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)


@dataclass
class StubCsms(internal_pb2_grpc.CsmsInternalServiceServicer):
    """Answers from `attempts`; identities in `failing` answer UNAVAILABLE."""

    attempts: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    authorizations: list[str] = field(default_factory=list)

    async def GetUnclaimedConnection(
        self,
        request: internal_pb2.GetUnclaimedConnectionRequest,
        context: grpc.aio.ServicerContext[
            internal_pb2.GetUnclaimedConnectionRequest, internal_pb2.UnclaimedConnection
        ],
    ) -> internal_pb2.UnclaimedConnection:
        self.authorizations.append(dict(context.invocation_metadata() or ()).get("authorization", ""))
        if request.identity in self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "CSMS restarting")
        if request.identity not in self.attempts:
            await context.abort(grpc.StatusCode.NOT_FOUND, "never tried")
        reply = internal_pb2.UnclaimedConnection(
            identity=request.identity, attempts=self.attempts[request.identity], protocol="ocpp1.6"
        )
        reply.first_attempt_time.FromDatetime(SEEN)
        reply.last_attempt_time.FromDatetime(SEEN + dt.timedelta(minutes=5))
        return reply

    async def RecordHandoff(
        self,
        request: internal_pb2.RecordHandoffRequest,
        context: grpc.aio.ServicerContext[internal_pb2.RecordHandoffRequest, internal_pb2.Handoff],
    ) -> internal_pb2.Handoff:
        """Not used by assets."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this stub")
        raise AssertionError("unreachable")

    async def ExecuteCommand(
        self,
        request: internal_pb2.ExecuteCommandRequest,
        context: grpc.aio.ServicerContext[internal_pb2.ExecuteCommandRequest, commands_pb2.Command],
    ) -> commands_pb2.Command:
        """Not used by assets."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this stub")
        raise AssertionError("unreachable")

    async def DispatchCampaignWave(
        self,
        request: internal_pb2.DispatchCampaignWaveRequest,
        context: grpc.aio.ServicerContext[
            internal_pb2.DispatchCampaignWaveRequest, internal_pb2.DispatchCampaignWaveResponse
        ],
    ) -> internal_pb2.DispatchCampaignWaveResponse:
        """Not used by assets."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this stub")
        raise AssertionError("unreachable")

    async def SyncCampaign(
        self,
        request: internal_pb2.SyncCampaignRequest,
        context: grpc.aio.ServicerContext[internal_pb2.SyncCampaignRequest, internal_pb2.CampaignTally],
    ) -> internal_pb2.CampaignTally:
        """Not used by assets."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this stub")
        raise AssertionError("unreachable")

    async def RecordCampaignDecision(
        self,
        request: internal_pb2.RecordCampaignDecisionRequest,
        context: grpc.aio.ServicerContext[
            internal_pb2.RecordCampaignDecisionRequest, internal_pb2.RecordCampaignDecisionResponse
        ],
    ) -> internal_pb2.RecordCampaignDecisionResponse:
        """Not used by assets."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this stub")
        raise AssertionError("unreachable")


@pytest.fixture
async def connected_assets(
    databases: DatabaseFactory, identity: IdentityService, admin: Client, assets_stack: AssetsStack
) -> AsyncIterator[tuple[AssetsService, StubCsms]]:
    """An assets service whose CSMS is the stub, on the session's identity and assets database."""
    stub = StubCsms()
    server = grpc.aio.server()
    internal_pb2_grpc.add_CsmsInternalServiceServicer_to_server(stub, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client_id, secret, _ = await service_token(admin, ASSETS_SCOPES, "assets")
    service = await start_assets(
        assets_stack.service.settings.database_url,
        identity.port,
        client_id,
        secret,
        csms_address=f"127.0.0.1:{port}",
        migrate_on_start=False,
    )
    yield service, stub
    await service.stop()
    await server.stop(None)


async def test_connected_onboarding(
    connected_assets: tuple[AssetsService, StubCsms], assets_stack: AssetsStack, org: Org
) -> None:
    service, stub = connected_assets
    connected = AssetsClient(f"127.0.0.1:{service.port}", org.admin.client.token)
    site = await location(connected, org.org.name)
    online = identity()
    stub.attempts[online] = 3
    station = await point(connected, site.name, ocpp_identity=online, onboarding=CP.CONNECTED)
    assert station.onboarding == CP.CONNECTED
    assert station.first_seen_time.ToDatetime(tzinfo=dt.UTC) == SEEN
    assert stub.authorizations[-1].startswith("Bearer ")  # assets calls with its service token
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(connected, site.name, onboarding=CP.CONNECTED)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "STATION_NOT_CONNECTING"  # type: ignore[union-attr]
    flaky = identity()
    stub.failing.add(flaky)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(connected, site.name, ocpp_identity=flaky, onboarding=CP.CONNECTED)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    listed = await connected.charging_points.ListChargingPoints(
        pb.ListChargingPointsRequest(parent=site.name)
    )
    assert [p.name for p in listed.charging_points] == [station.name]  # the refused ones left nothing
    # Pre-approved onboarding does not ask the CSMS.
    asked = len(stub.authorizations)
    await point(connected, site.name)
    assert len(stub.authorizations) == asked
    await connected.close()


async def test_connected_onboarding_without_a_csms(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name, onboarding=CP.CONNECTED)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "CSMS_NOT_CONFIGURED"  # type: ignore[union-attr]
