"""Identity and assets as real processes (`python -m wattlane.identity`, `python -m
wattlane.assets`), configured only through the environment as in production, talking gRPC:
a station is added, its key verified the way the CSMS will, and a card decided on."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wattlane.api.assets.v1 import cards_pb2, internal_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as pb
from wattlane.api.identity.v1 import auth_pb2, internal_pb2_grpc
from wattlane.assets.testing import AssetsStack, Org, organization
from wattlane.cli.stack import Child, Stack, python
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, FAST_HASHING, Client, TreeBuilder

from .helpers import location, point, uid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    identity_port: int
    assets_port: int
    csms_secret: str
    worker_secret: str


@pytest.fixture
async def processes(databases: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Processes]:
    identity_port, assets_port = free_port(), free_port()
    secret = {name: secrets.token_urlsafe(24) for name in ("assets", "csms", "worker")}
    accounts = tmp_path / "service-accounts.json"
    accounts.write_text(
        json.dumps(
            [
                {
                    "service": "assets",
                    "secret": secret["assets"],
                    "scopes": ["identity.datapoints", "identity.licenses", "identity.directory"],
                },
                {"service": "csms", "secret": secret["csms"], "scopes": ["assets.stations", "assets.access"]},
                {"service": "worker", "secret": secret["worker"], "scopes": ["identity.applications"]},
            ]
        )
    )
    identity_env = {
        "WATTLANE_IDENTITY_DATABASE_URL": await databases.create("identity_process"),
        "WATTLANE_IDENTITY_PORT": str(identity_port),
        "WATTLANE_IDENTITY_METRICS_PORT": "-1",
        "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WATTLANE_IDENTITY_SERVICE_ACCOUNTS_FILE": str(accounts),
        **{f"WATTLANE_IDENTITY_{k.upper()}": str(v) for k, v in FAST_HASHING.items()},
    }
    assets_env = {
        "WATTLANE_ASSETS_DATABASE_URL": await databases.create("assets_process"),
        "WATTLANE_ASSETS_PORT": str(assets_port),
        "WATTLANE_ASSETS_METRICS_PORT": "-1",
        "WATTLANE_ASSETS_IDENTITY_ADDRESS": f"127.0.0.1:{identity_port}",
        "WATTLANE_ASSETS_CLIENT_ID": "assets",
        "WATTLANE_ASSETS_CLIENT_SECRET": secret["assets"],
    }
    stack = Stack()
    identity = Child(
        "identity", [python(), "-m", "wattlane.identity"], identity_env, tmp_path / "identity.log"
    )
    assets = Child("assets", [python(), "-m", "wattlane.assets"], assets_env, tmp_path / "assets.log")
    try:
        await stack.start(identity)
        await stack.wait_grpc_healthy(identity, identity_port)
        await stack.start(assets)
        await stack.wait_grpc_healthy(assets, assets_port)
        yield Processes(identity_port, assets_port, secret["csms"], secret["worker"])
    finally:
        await stack.stop()


async def test_station_lifecycle_across_processes(processes: Processes) -> None:
    admin = await Client(f"127.0.0.1:{processes.identity_port}").login(ADMIN_EMAIL, ADMIN_PASSWORD)
    csms_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="csms", client_secret=processes.csms_secret)
        )
    ).access_token
    worker_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="worker", client_secret=processes.worker_secret)
        )
    ).access_token
    worker = channel(f"127.0.0.1:{processes.identity_port}", token=worker_token, max_attempts=1)
    target = f"127.0.0.1:{processes.assets_port}"
    stack = AssetsStack(None, target, csms_token, internal_pb2_grpc.IdentityInternalServiceStub(worker))  # type: ignore[arg-type]
    tree = TreeBuilder(admin)
    try:
        org: Org = await organization(tree, stack)
        client = AssetsClient(target, org.admin.client.token)
        site = await location(client, org.org.name, display_name="Depot")
        station = await point(client, site.name, charging_enabled=True)
        key = (
            await client.charging_points.RotateAuthorizationKey(
                pb.RotateAuthorizationKeyRequest(name=station.name)
            )
        ).authorization_key
        csms = AssetsClient(target, csms_token)
        verifier = await csms.internal.GetStationCredential(
            internal_pb2.GetStationCredentialRequest(identity=station.ocpp_identity)
        )
        assert hmac.compare_digest(
            hmac.new(verifier.key_salt, key.encode(), hashlib.sha256).digest(), verifier.key_digest
        )
        holder = await tree.member(org.org.name)
        tag = await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=holder.user.name, card=cards_pb2.Card(uid=uid()))
        )
        decision = await csms.internal.DecideAccess(
            internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token=tag.uid)
        )
        assert decision.status == internal_pb2.AccessDecision.ACCEPTED and decision.card == tag.name
        for c in (client, csms):
            await c.close()
    finally:
        await tree.close()
        await worker.close(None)
        await admin.close()
