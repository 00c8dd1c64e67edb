"""Station credentials: a random AuthorizationKey shown once, stored as salted HMAC-SHA256,
rotatable; the CSMS fetches the verifier through the internal API with its service token."""

from __future__ import annotations

import hashlib
import hmac
import time

import grpc
import pytest

from tests.support.assets import AssetsStack, Org
from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.assets.v1 import internal_pb2
from wattlane.assets import credentials
from wattlane.assets.models import ChargingPoint

from .helpers import CP, location, mask, point


async def test_key_shown_once_and_verifiable_by_the_csms(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    site = await location(client, org.org.name)
    station = await point(client, site.name, ocpp_version="2.0.1")
    csms = assets_stack.client(assets_stack.csms_token).internal
    before = await csms.GetStationCredential(
        internal_pb2.GetStationCredentialRequest(identity=station.ocpp_identity)
    )
    assert (before.key_digest, before.credential_version) == (b"", 0)
    assert (before.charging_point, before.location, before.owner) == (station.name, site.name, org.org.name)
    assert before.owner_path == org.org.path and before.ocpp_version == "2.0.1"

    rotated = await client.charging_points.RotateAuthorizationKey(
        pb.RotateAuthorizationKeyRequest(name=station.name, request_id="rotate-1")
    )
    key = rotated.authorization_key
    assert 16 <= len(key.encode()) <= 40 and rotated.charging_point.has_authorization_key
    verifier = await csms.GetStationCredential(
        internal_pb2.GetStationCredentialRequest(identity=station.ocpp_identity)
    )
    assert verifier.credential_version == 1 and len(verifier.key_salt) == 16
    assert hmac.compare_digest(
        hmac.new(verifier.key_salt, key.encode(), hashlib.sha256).digest(), verifier.key_digest
    )
    # The retry replays the rotation without the key (it is not stored in clear anywhere).
    replay = await client.charging_points.RotateAuthorizationKey(
        pb.RotateAuthorizationKeyRequest(name=station.name, request_id="rotate-1")
    )
    assert replay.authorization_key == "" and replay.charging_point == rotated.charging_point
    again = await client.charging_points.RotateAuthorizationKey(
        pb.RotateAuthorizationKeyRequest(name=station.name)
    )
    assert again.authorization_key != key and again.charging_point.credential_version == 2
    subject = await client.charging_points.UpdateChargingPoint(
        pb.UpdateChargingPointRequest(
            charging_point=CP(name=station.name, certificate_subject=station.ocpp_identity),
            update_mask=mask("certificate_subject"),
        )
    )
    assert subject.credential_version == 3
    verifier = await csms.GetStationCredential(
        internal_pb2.GetStationCredentialRequest(identity=station.ocpp_identity)
    )
    assert verifier.certificate_subject == station.ocpp_identity and verifier.credential_version == 3


async def test_internal_api_needs_the_scope(assets_stack: AssetsStack, org: Org) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await assets_stack.client(assets_stack.csms_token).internal.GetStationCredential(
            internal_pb2.GetStationCredentialRequest(identity="NO-SUCH-STATION")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # a user token, even an admin's
        await assets_stack.client(org.admin).internal.GetStationCredential(
            internal_pb2.GetStationCredentialRequest(identity="NO-SUCH-STATION")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_verification_costs_microseconds() -> None:
    row = ChargingPoint(credential_version=0)
    key = credentials.rotate(row)
    assert credentials.verify(row, key) and not credentials.verify(row, key + "x")
    start = time.perf_counter()
    for _ in range(1000):
        credentials.verify(row, key)
    per_check = (time.perf_counter() - start) / 1000
    assert per_check < 100e-6, f"{per_check * 1e6:.1f} µs per check"
