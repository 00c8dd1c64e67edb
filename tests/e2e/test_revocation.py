"""A revoked user token stops working at assets and the CSMS within about a second (identity's
revocation feed, polled by core's IdentityLink), not after the services' ten-second scope cache:
real processes (tests/conftest.py: `real_stack`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf import field_mask_pb2

from tests.support.processes import ADMIN_EMAIL, ADMIN_PASSWORD, RealStack
from wattlane.api.assets.v1 import locations_pb2
from wattlane.api.csms.v1 import stations_pb2
from wattlane.api.identity.v1 import auth_pb2, users_pb2
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clients.identity import IdentityClient
from wattlane.identity.testing import TreeBuilder

# The window the README states: one poll (1 s) plus its round trip, with room for a loaded machine.
WINDOW_SECONDS = 3.0


async def refused_after(call: Callable[[], Awaitable[object]], timeout: float = 15.0) -> float:
    """Seconds until `call` answers UNAUTHENTICATED (it must keep answering OK until then)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code != grpc.StatusCode.UNAUTHENTICATED:
                raise
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"still accepted {timeout} s after the revocation")


async def _calls(real_stack: RealStack, token: str) -> tuple[AssetsClient, CsmsClient]:
    assets = AssetsClient(real_stack["assets"].grpc, token)
    csms = CsmsClient(real_stack["csms"].grpc, token)
    # Both services verify the token and cache its scope.
    await assets.locations.ListLocations(locations_pb2.ListLocationsRequest())
    await csms.stations.ListStations(stations_pb2.ListStationsRequest())
    return assets, csms


async def _windows(assets: AssetsClient, csms: CsmsClient) -> tuple[float, float]:
    on_assets, on_csms = await asyncio.gather(
        refused_after(lambda: assets.locations.ListLocations(locations_pb2.ListLocationsRequest())),
        refused_after(lambda: csms.stations.ListStations(stations_pb2.ListStationsRequest())),
    )
    # The README's figure (pytest -s shows it).
    print(f"revoked token refused after: assets {on_assets:.2f} s, CSMS {on_csms:.2f} s")
    return on_assets, on_csms


async def test_a_logged_out_token_is_refused_by_assets_and_the_csms_within_the_window(
    real_stack: RealStack,
) -> None:
    session = await IdentityClient(real_stack["identity"].grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assets, csms = await _calls(real_stack, session.token)
    try:
        await session.auth.Logout(auth_pb2.LogoutRequest())
        on_assets, on_csms = await _windows(assets, csms)
        assert on_assets < WINDOW_SECONDS and on_csms < WINDOW_SECONDS, (on_assets, on_csms)
    finally:
        for client in (assets, csms):
            await client.close()
        await session.close()


async def test_a_disabled_users_tokens_are_refused_within_the_window(real_stack: RealStack) -> None:
    admin = await IdentityClient(real_stack["identity"].grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    tree = TreeBuilder(admin)
    try:
        root = await tree.root()
        member = await tree.member(root.name, [("customer-success", root.name)])
        assets, csms = await _calls(real_stack, member.client.token)
        await admin.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=users_pb2.User(name=member.user.name, state=users_pb2.User.DISABLED),
                update_mask=field_mask_pb2.FieldMask(paths=["state"]),
            )
        )
        on_assets, on_csms = await _windows(assets, csms)
        assert on_assets < WINDOW_SECONDS and on_csms < WINDOW_SECONDS, (on_assets, on_csms)
        for client in (assets, csms):
            await client.close()
    finally:
        await tree.close()
        await admin.close()
