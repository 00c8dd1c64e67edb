"""Wiring of the assets service: settings → database → migrations → identity link → server.

python -m wattlane.assets            # serve (migrates first unless told not to)
python -m wattlane.assets migrate    # only migrate
python -m wattlane.assets settings   # list the environment variables and defaults
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from wattlane.api.assets.v1 import (
    access_pb2,
    access_pb2_grpc,
    cards_pb2,
    cards_pb2_grpc,
    charging_points_pb2,
    charging_points_pb2_grpc,
    internal_pb2,
    internal_pb2_grpc,
    locations_pb2,
    locations_pb2_grpc,
    settings_pb2,
    settings_pb2_grpc,
)
from wattlane.api.common.v1 import audit_pb2, audit_pb2_grpc
from wattlane.assets.access import AccessDecider
from wattlane.assets.api.access import AccessServicer
from wattlane.assets.api.cards import CardServicer
from wattlane.assets.api.charging_points import ChargingPointServicer
from wattlane.assets.api.internal import AssetsInternalServicer
from wattlane.assets.api.locations import LocationServicer
from wattlane.assets.api.settings import AssetSettingsServicer
from wattlane.assets.models import AUDIT, IDEMPOTENCY
from wattlane.assets.onboarding import CsmsLink, GrpcCsmsLink
from wattlane.assets.provisioning import Provisioning, StepHook
from wattlane.assets.runtime import Runtime
from wattlane.assets.schema import MIGRATIONS
from wattlane.assets.scoped import owner_visible
from wattlane.assets.settings import AssetsSettings, load
from wattlane.assets.upstream import IdentityUpstream
from wattlane.core import logs, telemetry
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.idempotency import Idempotency
from wattlane.core.identity_link import IdentityLink
from wattlane.core.migrations import upgrade, upgrade_async
from wattlane.core.names import parse_name
from wattlane.core.server import ServerOptions, ServiceServer, run, run_until_signal
from wattlane.core.settings import describe

log = logging.getLogger("wattlane.assets")


def _full_name(descriptor_module: object, service: str) -> str:
    return descriptor_module.DESCRIPTOR.services_by_name[service].full_name  # type: ignore[attr-defined, no-any-return]


class OwnerPaths:
    """Audit reads resolve `tenants/{id}` through identity (the path copies follow the tree)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def path_of(self, tenant_name: str) -> str:
        """The path of a tenant the caller can see (NOT_FOUND otherwise)."""
        parse_name(tenant_name, "tenants", "parent")
        scope = await current_caller().scope()
        return (await owner_visible(self.rt.directory, scope, tenant_name)).path


class AssetsService:
    """The assets service in this process (used by main and by tests). `csms` replaces the
    CSMS link (tests serve a stub CSMS); `step_hook` pauses between provisioning steps."""

    def __init__(
        self, settings: AssetsSettings, *, csms: CsmsLink | None = None, step_hook: StepHook | None = None
    ) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self._csms_override = csms
        self._step_hook = step_hook
        self.server: ServiceServer | None = None
        self._reconciler: asyncio.Task[None] | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def _wire(self) -> Runtime:
        """Channels to identity and the CSMS: made inside the running loop (gRPC binds them to it)."""
        s = self.settings
        link = IdentityLink(
            s.identity_address,
            client_id=s.client_id,
            client_secret=s.client_secret,
            scope_ttl=s.scope_cache_seconds,
        )
        upstream = IdentityUpstream(s.identity_address, link.service_token)
        csms = self._csms_override
        if csms is None and s.csms_address:
            grpc_csms = GrpcCsmsLink(s.csms_address, link.service_token)
            self._closers.append(grpc_csms.close)
            csms = grpc_csms
        decider = AccessDecider(self.db)
        self._closers += [upstream.close, link.close, decider.close]
        self.link = link
        return Runtime(
            settings=s,
            db=self.db,
            audit=AuditLog(AUDIT),
            idempotency=Idempotency(self.db, IDEMPOTENCY),
            directory=upstream,
            quota=upstream,
            decider=decider,
            csms=csms,
        )

    async def start(self) -> int:
        """Migrate, connect to identity, serve; returns the bound port."""
        s = self.settings
        self.rt = rt = self._wire()
        self.provisioning = Provisioning(rt, self._step_hook)
        if s.database_url.startswith("sqlite"):
            Path(self.db.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        if s.migrate_on_start:
            await upgrade_async(s.database_url, MIGRATIONS)
        await self.link.start()
        tracing = telemetry.configure_tracing("assets", s.otlp_endpoint)
        services: list[tuple[str, Callable[[grpc.aio.Server], None]]] = [
            (
                _full_name(locations_pb2, "LocationService"),
                lambda srv: locations_pb2_grpc.add_LocationServiceServicer_to_server(
                    LocationServicer(rt), srv
                ),
            ),
            (
                _full_name(charging_points_pb2, "ChargingPointService"),
                lambda srv: charging_points_pb2_grpc.add_ChargingPointServiceServicer_to_server(
                    ChargingPointServicer(rt, self.provisioning), srv
                ),
            ),
            (
                _full_name(cards_pb2, "CardService"),
                lambda srv: cards_pb2_grpc.add_CardServiceServicer_to_server(CardServicer(rt), srv),
            ),
            (
                _full_name(settings_pb2, "AssetSettingsService"),
                lambda srv: settings_pb2_grpc.add_AssetSettingsServiceServicer_to_server(
                    AssetSettingsServicer(rt), srv
                ),
            ),
            (
                _full_name(access_pb2, "AccessService"),
                lambda srv: access_pb2_grpc.add_AccessServiceServicer_to_server(AccessServicer(rt), srv),
            ),
            (
                _full_name(internal_pb2, "AssetsInternalService"),
                lambda srv: internal_pb2_grpc.add_AssetsInternalServiceServicer_to_server(
                    AssetsInternalServicer(rt), srv
                ),
            ),
            (
                _full_name(audit_pb2, "AuditService"),
                lambda srv: audit_pb2_grpc.add_AuditServiceServicer_to_server(
                    AuditServicer(self.db, rt.audit, OwnerPaths(rt)), srv
                ),
            ),
        ]
        self.server = ServiceServer(
            ServerOptions(
                service="assets",
                host=s.host,
                port=s.port,
                metrics_port=None if s.metrics_port < 0 else s.metrics_port,
                tracing=tracing,
            ),
            services=services,
            verifier=self.link.verifier,
            scopes=self.link.scopes,
        )
        port = await self.server.start()
        self._reconciler = asyncio.create_task(self._reconcile_forever())
        return port

    async def _reconcile_forever(self) -> None:
        """Finish half-done adds and removals (identity down, a process killed) now and then."""
        while True:
            try:
                await self.provisioning.reconcile(self.settings.reconcile_after_seconds)
            except Exception:  # the next round retries; a crashed loop would retry nothing
                log.exception("reconciling charging points failed")
            await asyncio.sleep(self.settings.reconcile_seconds)

    @property
    def port(self) -> int:
        """The bound gRPC port (0 before start)."""
        return self.server.port if self.server else 0

    async def stop(self) -> None:
        """Stop serving and the reconciler, close every channel and the database."""
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        if self.server is not None:
            await self.server.stop()
        for close in self._closers:
            await close()
        await self.db.dispose()


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-assets [serve|migrate|settings]`."""
    parser = argparse.ArgumentParser(prog="wattlane-assets", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "settings"])
    args = parser.parse_args(argv)
    settings = load()
    if args.command == "settings":
        for name, default, help_text in describe(AssetsSettings, "assets"):
            print(f"{name}={default}" + (f"  # {help_text}" if help_text else ""))
        return
    logs.configure("assets", settings.log_level, settings.log_json)
    if args.command == "migrate":
        if settings.database_url.startswith("sqlite"):
            Path(Database(settings.database_url).url.database or "").parent.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url, MIGRATIONS)
        return
    service = AssetsService(settings)
    run(run_until_signal(service.start, service.stop))


if __name__ == "__main__":
    cli()
