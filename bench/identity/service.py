"""The identity service as it runs in production: its own process (`python -m wattlane.identity`),
configured only through `WATTLANE_IDENTITY_*` variables."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import tempfile
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.common import free_port
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, FAST_HASHING


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the benchmark process dies, so a
    killed run leaves no server behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class IdentityProcess:
    """Starts identity on `database_url` (migrations and bootstrap included) and stops it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="wl-bench-identity-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        settings = {
            "database_url": self.database_url,
            "host": "127.0.0.1",
            "port": str(self.port),
            "metrics_port": "-1",
            "log_level": "warning",
            "log_json": "false",
            "bootstrap_admin_email": ADMIN_EMAIL,
            "bootstrap_admin_password": ADMIN_PASSWORD,
            **{k: str(v) for k, v in FAST_HASHING.items()},
        }
        env.update({f"WATTLANE_IDENTITY_{k.upper()}": v for k, v in settings.items()})
        return env

    async def start(self, wait_seconds: float = 90.0) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.identity",
            env=self.environment(),
            stdout=self._log,
            stderr=self._log,
            preexec_fn=_die_with_parent,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        async with grpc.aio.insecure_channel(self.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"identity exited early:\n{self.log_path.read_text()[-4000:]}")
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                if loop.time() > deadline:
                    await self.stop()
                    raise TimeoutError(
                        f"identity did not start in {wait_seconds:.0f} s (log: {self.log_path})"
                    )
                await asyncio.sleep(0.1)

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._log.close()
        if self.process is None or self.process.returncode in (0, -signal.SIGTERM):
            self.log_path.unlink(missing_ok=True)  # kept when identity failed
