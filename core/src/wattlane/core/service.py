"""The one service skeleton: every Wattlane process (identity, assets, billing, the CSMS, the
worker) is a `Service` subclass and reads the same.

A service declares its name, its settings class and its migrations, and wires its parts in
`setup()`: the database, its domain objects, its servicers (`add_grpc`), background tasks
(`every`, `task`) and what to close at the end (`on_stop`). The skeleton gives it the rest:

    python -m wattlane.<svc> serve | migrate | settings

logging (plain or JSON), tracing, the HTTP side port (`/metrics`, `/healthz`, `/readyz`), the gRPC
server with health and reflection, and a graceful SIGTERM: not ready at once, `drain_seconds` for
load balancers to notice, then stop accepting, `drain()` (the CSMS closes station sockets), let
in-flight calls finish within `grace_seconds`, stop tasks, close everything in reverse order.
`stop()` alone (tests) skips the `drain_seconds` wait.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from wattlane.core import logs, telemetry
from wattlane.core.db import Database, normalize_url
from wattlane.core.health import Health
from wattlane.core.identity_link import REVOCATION_POLL_SECONDS, IdentityLink
from wattlane.core.migrations import MigrationSet, upgrade, upgrade_async
from wattlane.core.periodic import BackgroundTask, Periodic
from wattlane.core.scope import ScopeCache
from wattlane.core.server import Registrar, ServerOptions, ServiceServer
from wattlane.core.settings import ProcessSettings, SettingsError, effective, load
from wattlane.core.side_port import SidePort
from wattlane.core.tokens import TokenVerifier

log = logging.getLogger("wattlane.service")

S = TypeVar("S", bound=ProcessSettings)
T = TypeVar("T", bound=BackgroundTask)
Closer = Callable[[], Awaitable[Any]]


def grpc_service_name(add_to_server: Callable[..., Any]) -> str:
    """The full proto name of the service a generated `add_<Name>Servicer_to_server` registers."""
    short = add_to_server.__name__.removeprefix("add_").removesuffix("Servicer_to_server")
    descriptors = importlib.import_module(add_to_server.__module__.removesuffix("_grpc"))
    return str(descriptors.DESCRIPTOR.services_by_name[short].full_name)


class Service(Generic[S]):
    """Base of every process. Subclasses set `name`, `settings_class`, optionally `migrations`,
    and implement `setup()`; tests construct one with settings and call `start()`/`stop()`."""

    name: ClassVar[str]
    settings_class: ClassVar[type[ProcessSettings]]
    migrations: ClassVar[MigrationSet | None] = None

    def __init__(self, settings: S) -> None:
        self.settings = settings
        self.health = Health(self.name)
        self.side_port: SidePort | None = None
        self.grpc: ServiceServer | None = None
        self.tracing = False
        self._grpc_services: list[tuple[str, Registrar]] = []
        self._grpc_options: ServerOptions | None = None
        self._grpc_auth: tuple[TokenVerifier | None, ScopeCache | None] = (None, None)
        self._tasks: list[BackgroundTask] = []
        self._closers: list[Closer] = []
        self._loop_watch: asyncio.Task[None] | None = None
        self._started = False

    # --- what subclasses implement -------------------------------------------------------------

    async def setup(self) -> None:
        """Wire the service: open the database, build the domain, register servicers and tasks."""

    async def listening(self) -> None:
        """After the gRPC server listens (its port is bound) and before background tasks start
        and the process turns ready: announce where this process is (the CSMS takes its lease)."""

    async def drain(self) -> None:
        """After the gRPC server stopped accepting and before tasks stop: close long-lived
        connections gently (the CSMS closes station sockets with 1001)."""

    # --- what setup() uses ---------------------------------------------------------------------

    def database(self, url: str, **options: Any) -> Database:
        """The service's database (a SQLite file's folder is created); disposed at stop."""
        db = Database(url, **options)
        if db.is_sqlite:
            Path(db.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        self.on_stop(db.dispose)
        return db

    def add_grpc(self, add_to_server: Callable[[Any, grpc.aio.Server], None], servicer: Any) -> None:
        """Serve `servicer` through its generated `add_<Name>Servicer_to_server` function."""
        self._grpc_services.append(
            (grpc_service_name(add_to_server), lambda srv: add_to_server(servicer, srv))
        )

    def serve_grpc(
        self,
        host: str,
        port: int,
        *,
        verifier: TokenVerifier | None,
        scopes: ScopeCache | None,
        public_methods: frozenset[str] = frozenset(),
    ) -> None:
        """Listen for gRPC on (host, port) once setup is done (port 0 = any free port)."""
        self._grpc_options = ServerOptions(
            service=self.name,
            host=host,
            port=port,
            grace_seconds=self.settings.grace_seconds,
            tracing=self.tracing,
            public_methods=public_methods,
        )
        self._grpc_auth = (verifier, scopes)

    def identity_link(
        self, address: str, *, client_id: str = "", client_secret: str = "", scope_ttl: float = 10.0
    ) -> IdentityLink:
        """The link to identity (keys, scopes, the service token), closed at stop, following
        identity's revocation feed from start to stop so a revoked user token is refused
        within about `REVOCATION_POLL_SECONDS` (only with service credentials to poll with)."""
        link = IdentityLink(address, client_id=client_id, client_secret=client_secret, scope_ttl=scope_ttl)
        self.on_stop(link.close)
        if link.follows_revocations:
            # Identity down: back off (its tokens cannot be revoked meanwhile either).
            self.task(
                Periodic(
                    f"{self.name}-revocations",
                    link.poll_revocations,
                    interval=REVOCATION_POLL_SECONDS,
                    max_backoff=30.0,
                )
            )
        return link

    def every(self, name: str, step: Callable[[], Awaitable[object]], interval: float) -> Periodic:
        """A background task running `step` every `interval` seconds (and on `kick()`)."""
        return self.task(Periodic(f"{self.name}-{name}", step, interval=interval))

    def task(self, task: T) -> T:
        """Run `task` (an outbox relay, a purge) from start to stop."""
        self._tasks.append(task)
        return task

    def on_stop(self, closer: Closer) -> None:
        """Close something at stop (closers run in reverse order of registration)."""
        self._closers.append(closer)

    # --- the lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound gRPC port (0 when the service serves no gRPC or has not started)."""
        return self.grpc.port if self.grpc is not None else 0

    @property
    def metrics_port(self) -> int:
        """The bound side port (0 when off)."""
        return self.side_port.port if self.side_port is not None else 0

    async def start(self) -> None:
        """Side port first (alive, not ready), then migrations, wiring, gRPC, tasks; then ready."""
        s = self.settings
        # A stopped service may start again (tests restart one on the same port and database).
        self.health = Health(self.name)
        self._grpc_services, self._grpc_options, self._tasks = [], None, []
        self._loop_watch = asyncio.get_running_loop().create_task(
            self.health.watch_loop(), name=f"{self.name}-loop-watch"
        )
        if s.metrics_port >= 0:
            self.side_port = SidePort(getattr(s, "host", "127.0.0.1"), s.metrics_port, self.health)
            self.side_port.start()
        self.tracing = telemetry.configure_tracing(self.name, s.otlp_endpoint)
        try:
            # An empty database URL is the CSMS's in-memory mode: nothing to migrate.
            url = str(getattr(s, "database_url", ""))
            if self.migrations is not None and getattr(s, "migrate_on_start", False) and url:
                _make_sqlite_folder(url)
                await upgrade_async(url, self.migrations)
            await self.setup()
            if self._grpc_options is not None:
                verifier, scopes = self._grpc_auth
                self.grpc = ServiceServer(
                    self._grpc_options, services=self._grpc_services, verifier=verifier, scopes=scopes
                )
                await self.grpc.start()
            await self.listening()
            for periodic in self._tasks:
                periodic.start()
        except BaseException:
            await self.stop()
            raise
        self._started = True
        self.health.ready()
        log.info(
            "%s started",
            self.name,
            extra={
                "grpc_port": self.grpc.port if self.grpc is not None else 0,
                "metrics_port": self.metrics_port,
            },
        )

    async def stop(self) -> None:
        """Not ready, drain, stop gRPC (in-flight calls finish), stop tasks, close."""
        self.health.draining()
        if self.grpc is not None:
            await self.grpc.not_serving()
        with _logged(f"{self.name} drain"):
            await self.drain()
        if self.grpc is not None:
            await self.grpc.stop()
        for periodic in reversed(self._tasks):
            await periodic.stop()
        while self._closers:
            with _logged(f"{self.name} close"):
                await self._closers.pop()()
        if self.side_port is not None:
            self.side_port.stop()
        if self._loop_watch is not None:
            self._loop_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_watch
            self._loop_watch = None


@contextlib.contextmanager
def _logged(what: str) -> Any:
    """Shutdown goes on when one step fails: the rest must still close."""
    try:
        yield
    except Exception:
        log.exception("%s failed", what)


def _make_sqlite_folder(url: str) -> None:
    db_url = normalize_url(url)
    if db_url.get_backend_name() == "sqlite":
        Path(db_url.database or "").parent.mkdir(parents=True, exist_ok=True)


async def serve(service: Service[Any]) -> None:
    """Run `service` until SIGTERM or SIGINT, then drain and stop it (what `serve` does)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    try:
        await service.start()
        await stopping.wait()
        # Not ready first, so load balancers and Kubernetes endpoints stop sending; then stop.
        service.health.draining()
        if service.grpc is not None:
            await service.grpc.not_serving()
        log.info("%s draining for %.1fs", service.name, service.settings.drain_seconds)
        await asyncio.sleep(service.settings.drain_seconds)
        await service.stop()
        log.info("%s stopped", service.name)
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def run(main: Awaitable[None]) -> None:
    """Run an async main on uvloop when available (process entry points)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)  # type: ignore[arg-type]
        return
    uvloop.run(main)  # type: ignore[arg-type]


def main(service_class: type[Service[Any]], argv: Sequence[str] | None = None) -> None:
    """`python -m wattlane.<svc> [serve|migrate|settings]`: the entry point of every process."""
    parser = argparse.ArgumentParser(
        prog=f"wattlane-{service_class.name}",
        description=(service_class.__doc__ or service_class.name).strip().splitlines()[0],
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "settings"],
        help="serve (default); migrate: apply database migrations and exit; "
        "settings: print the configuration in force (secrets redacted) and exit",
    )
    args = parser.parse_args(argv)
    try:
        settings = load(service_class.settings_class, service_class.name)
    except SettingsError as error:
        print(f"wattlane-{service_class.name}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "settings":
        for variable, value, help_text in effective(settings, service_class.name):
            print(f"{variable}={value}" + (f"  # {help_text}" if help_text else ""))
        return
    logs.configure(service_class.name, settings.log_level, settings.log_json)
    if args.command == "migrate":
        url = str(getattr(settings, "database_url", ""))
        if service_class.migrations is None or not url:
            log.info("%s has no database: nothing to migrate", service_class.name)
            return
        _make_sqlite_folder(url)
        upgrade(url, service_class.migrations)
        log.info("%s migrated", service_class.name)
        return
    run(serve(service_class(settings)))
