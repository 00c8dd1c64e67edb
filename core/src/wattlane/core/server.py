"""gRPC server bootstrap shared by every service: interceptor stack, health, reflection,
Prometheus endpoint, graceful shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from wattlane.core.interceptors import AuthPolicy, ServiceInterceptor
from wattlane.core.metrics import start_metrics_server
from wattlane.core.scope import ScopeCache
from wattlane.core.tokens import TokenVerifier

log = logging.getLogger("wattlane.server")

Registrar = Callable[[grpc.aio.Server], None]


@dataclass
class ServerOptions:
    """Where and how a service listens."""

    service: str
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port (tests)
    # Only for processes not yet on the skeleton (`wattlane.core.service` owns the side port).
    metrics_port: int | None = None  # None = no /metrics endpoint (tests); 0 = any free port
    grace_seconds: float = 5.0
    tracing: bool = False
    max_message_bytes: int = 16 * 1024 * 1024
    public_methods: frozenset[str] = field(default_factory=frozenset)


class ServiceServer:
    """A started grpc.aio server with our conventions; `port` is the bound port."""

    def __init__(
        self,
        options: ServerOptions,
        *,
        services: Iterable[tuple[str, Registrar]],
        verifier: TokenVerifier | None,
        scopes: ScopeCache | None,
    ) -> None:
        self.options = options
        self._services = list(services)
        self.interceptor = ServiceInterceptor(
            options.service, verifier, scopes, AuthPolicy(options.public_methods), tracing=options.tracing
        )
        self.server = grpc.aio.server(
            interceptors=[self.interceptor],
            options=[
                ("grpc.max_receive_message_length", options.max_message_bytes),
                ("grpc.max_send_message_length", options.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = HealthServicer()
        self.port = 0
        self.metrics_port: int | None = None
        self._metrics_server: object | None = None

    async def start(self) -> int:
        """Register services, bind, start serving; returns the bound port."""
        names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        for full_name, register in self._services:
            register(self.server)
            names.append(full_name)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(names, self.server)
        address = f"{self.options.host}:{self.options.port}"
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        await self.server.start()
        for full_name, _ in self._services:
            await self.health.set(full_name, health_pb2.HealthCheckResponse.SERVING)
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        if self.options.metrics_port is not None:
            server, _thread, self.metrics_port = start_metrics_server(
                self.options.host, self.options.metrics_port
            )
            self._metrics_server = server
        log.info(
            "%s listening",
            self.options.service,
            extra={"grpc_port": self.port, "metrics_port": self.metrics_port},
        )
        return self.port

    async def not_serving(self) -> None:
        """Report NOT_SERVING on the health service (draining); calls are still answered."""
        await self.health.enter_graceful_shutdown()

    async def stop(self) -> None:
        """Graceful shutdown: report NOT_SERVING, let in-flight calls finish, then close."""
        await self.not_serving()
        await self.server.stop(self.options.grace_seconds)
        if self._metrics_server is not None:
            # shutdown() waits for the serving thread's next poll; server_close() frees the port.
            await asyncio.to_thread(self._metrics_server.shutdown)  # type: ignore[attr-defined]
            self._metrics_server.server_close()  # type: ignore[attr-defined]
            self._metrics_server = None

    async def wait(self) -> None:
        await self.server.wait_for_termination()


# Only for processes not yet on the skeleton (`wattlane.core.service.serve`).
async def run_until_signal(start: Callable[[], object], stop: Callable[[], object]) -> None:
    """Run a service until SIGTERM or SIGINT, then stop it gracefully (process entry points)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    result = start()
    if asyncio.iscoroutine(result):
        await result
    await stopping.wait()
    log.info("shutting down")
    result = stop()
    if asyncio.iscoroutine(result):
        await result


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run an async main on uvloop when available (process entry points)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
