"""The process entry point: `python -m wattlane.identity` migrates, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "WATTLANE_IDENTITY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}",
        "WATTLANE_IDENTITY_PORT": str(port),
        "WATTLANE_IDENTITY_METRICS_PORT": "-1",
        "WATTLANE_IDENTITY_LOG_JSON": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wattlane.identity", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        status = None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(300):
                assert process.returncode is None, "identity exited before serving"
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
