"""The standalone CSMS (`python -m wattlane.csms`): env settings, uvloop, TLS, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import func, select

from wattlane.core.db import Database
from wattlane.csms.models import Message
from wattlane.csms.registry import repository
from wattlane.simulator.certs import DevPki, client_ssl_context
from wattlane.simulator.station import SimStation


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


Start = Callable[[Mapping[str, str]], Awaitable[asyncio.subprocess.Process]]


@pytest.fixture
async def standalone() -> AsyncIterator[Start]:
    processes: list[asyncio.subprocess.Process] = []

    async def start(env: Mapping[str, str]) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.csms",
            # The skeleton's defaults are for production (side port 9161, 5 s drain).
            env={
                **os.environ,
                "WATTLANE_CSMS_GRPC_PORT": "0",
                "WATTLANE_CSMS_METRICS_PORT": "-1",
                "WATTLANE_CSMS_DRAIN_SECONDS": "0.2",
                **env,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        processes.append(process)
        assert process.stdout is not None
        async with asyncio.timeout(15):
            while b"CSMS listening" not in await process.stdout.readline():
                pass
        return process

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_standalone_profile_3_on_uvloop_with_clean_shutdown(standalone: Start, pki: DevPki) -> None:
    port = _free_port()
    env = {
        "WATTLANE_CSMS_PORT": str(port),
        "WATTLANE_CSMS_SECURITY_PROFILE": "3",
        "WATTLANE_CSMS_TLS_CERT": str(pki.server.cert_file),
        "WATTLANE_CSMS_TLS_KEY": str(pki.server.key_file),
        "WATTLANE_CSMS_TLS_CLIENT_CA": str(pki.ca.cert_file),
        "WATTLANE_CSMS_STATIONS": "CS001:unused-for-profile-3",
    }
    process = await standalone(env)
    url = f"wss://127.0.0.1:{port}/ocpp"
    station = SimStation(
        "CS001", url, protocol="ocpp2.0.1", ssl_context=client_ssl_context(pki.ca.cert_file, pki.station)
    )
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    impostor = SimStation("CS001", url, ssl_context=client_ssl_context(pki.ca.cert_file, pki.other_station))
    with pytest.raises(Exception, match="401"):
        await impostor.connect()
    process.send_signal(signal.SIGTERM)
    code, _ = await station.wait_closed(timeout=10)
    assert code == 1001
    async with asyncio.timeout(10):
        assert await process.wait() == 0


async def test_standalone_profile_1_with_a_demo_fleet_pattern(standalone: Start) -> None:
    port = _free_port()
    env = {
        "WATTLANE_CSMS_PORT": str(port),
        "WATTLANE_CSMS_DEMO_PATTERN": r"SIM-\d+",
        "WATTLANE_CSMS_DEMO_PASSWORD": "demo-password-0123",
    }
    process = await standalone(env)
    station = SimStation("SIM-17", f"ws://127.0.0.1:{port}/ocpp", password="demo-password-0123")
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    await station.close()
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await process.wait() == 0


async def test_standalone_with_database_and_grpc_shuts_down_cleanly(
    standalone: Start, tmp_path: Path
) -> None:
    port, grpc_port = _free_port(), _free_port()
    database = tmp_path / "csms.db"
    env = {
        "WATTLANE_CSMS_PORT": str(port),
        "WATTLANE_CSMS_GRPC_PORT": str(grpc_port),
        "WATTLANE_CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "WATTLANE_CSMS_PROCESS_ID": "standalone-1",
        "WATTLANE_CSMS_DEMO_PATTERN": r"SIM-\d+",
        "WATTLANE_CSMS_DEMO_PASSWORD": "demo-password-0123",
    }
    process = await standalone(env)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    station = SimStation("SIM-3", f"ws://127.0.0.1:{port}/ocpp", password="demo-password-0123")
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    process.send_signal(signal.SIGTERM)
    code, _ = await station.wait_closed(timeout=10)
    assert code == 1001
    async with asyncio.timeout(15):
        assert await process.wait() == 0
    # The registry was flushed on the way out: the station is recorded, and offline.
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        async with db.reader() as session:
            row = await repository.get_station(session, "SIM-3")
            logged = await session.scalar(select(func.count()).select_from(Message))
    finally:
        await db.dispose()
    assert row is not None and row.boot_time is not None and not row.online
    assert logged == 2
