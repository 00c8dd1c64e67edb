"""The process entry point: `python -m wattlane.billing` prints its settings, migrates, serves, and
stops on SIGTERM; the models and the migrations describe the same schema."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from wattlane.billing.schema import MIGRATIONS
from wattlane.core.migrations import check, upgrade_async
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.fake_identity import FakeIdentity


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_migrations_match_the_models(databases: DatabaseFactory) -> None:
    url = await databases.create("billing-schema")
    await upgrade_async(url, MIGRATIONS)
    await asyncio.to_thread(check, url, MIGRATIONS)


def test_settings_are_printed_with_the_secret_redacted() -> None:
    env = {**os.environ, "WATTLANE_BILLING_CLIENT_SECRET": "s3cret", "WATTLANE_BILLING_PORT": "50099"}
    out = subprocess.run(
        [sys.executable, "-m", "wattlane.billing", "settings"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "WATTLANE_BILLING_PORT=50099" in out
    assert "WATTLANE_BILLING_CSMS_ADDRESS=" in out
    assert "s3cret" not in out


async def test_module_entry_point_migrates_serves_until_sigterm(tmp_path: Path) -> None:
    identity = FakeIdentity()  # type: ignore[abstract]
    await identity.start()
    identity.service_account("billing", ["identity.directory"])
    try:
        await _serve_until_sigterm(tmp_path, identity)
    finally:
        await identity.stop()


async def _serve_until_sigterm(tmp_path: Path, identity: FakeIdentity) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "WATTLANE_BILLING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}",
        "WATTLANE_BILLING_PORT": str(port),
        "WATTLANE_BILLING_METRICS_PORT": "-1",
        "WATTLANE_BILLING_LOG_JSON": "false",
        "WATTLANE_BILLING_DRAIN_SECONDS": "0",
        "WATTLANE_BILLING_IDENTITY_ADDRESS": identity.target,
    }
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wattlane.billing", "migrate", env=env
    )
    assert await asyncio.wait_for(migrate.wait(), 60) == 0
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wattlane.billing", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        status = None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            for _ in range(300):
                assert process.returncode is None, "billing exited before serving"
                with contextlib.suppress(grpc.aio.AioRpcError):
                    status = (await health.Check(health_pb2.HealthCheckRequest(), timeout=1)).status
                    break
                await asyncio.sleep(0.05)
        assert status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
