"""One CSMS process: the WebSocket listener and the gRPC API (core `ServiceServer`: health,
reflection, metrics) sharing one station registry and message log.

Providers are chosen by the settings: with an assets address, station credentials and access
decisions come from assets (with a service token from identity); without, from the static /
demo list in the settings. With a database URL, the registry and log are stored (and the gRPC
`StationService` reads them); without, they stay in memory (bench, quick local runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from pathlib import Path

import grpc

from wattlane.api.assets.v1 import internal_pb2_grpc as assets_grpc
from wattlane.api.csms.v1 import (
    commands_pb2,
    commands_pb2_grpc,
    internal_pb2,
    internal_pb2_grpc,
    stations_pb2,
    stations_pb2_grpc,
    transactions_pb2,
    transactions_pb2_grpc,
)
from wattlane.core.client import channel
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.identity_link import IdentityLink
from wattlane.core.outbox import WorkflowRelay
from wattlane.core.server import Registrar, ServerOptions, ServiceServer
from wattlane.core.temporal import LazyClient
from wattlane.csms.api.commands import CommandServicer
from wattlane.csms.api.internal import CsmsInternalServicer
from wattlane.csms.api.stations import StationServicer
from wattlane.csms.api.transactions import TransactionServicer
from wattlane.csms.commands.peers import Peers
from wattlane.csms.commands.retention import purge_commands
from wattlane.csms.commands.runner import CommandRunner
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.security import SecurityProfile, server_ssl_context
from wattlane.csms.protocol.server import Csms, ListenerConfig
from wattlane.csms.providers.assets import AssetsAccess, AssetsLocalLists, AssetsStations
from wattlane.csms.providers.interfaces import AccessDecider, Providers, StationCredentials, StationOwner
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.registry.leases import Lease
from wattlane.csms.registry.logstore import purge_messages
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.storage import Storage
from wattlane.csms.transactions.handoff import handoff_relay

logger = logging.getLogger("wattlane.csms")


class CsmsService:
    """The CSMS in this process (used by `main` and by tests)."""

    def __init__(self, settings: CsmsSettings) -> None:
        self.settings = settings
        self.memory: MemoryProviders | None = None
        self.storage: Storage | None = None
        self.db: Database | None = None
        self.csms: Csms | None = None
        self.server: ServiceServer | None = None
        self.identity: IdentityLink | None = None
        self.port = 0  # the WebSocket port
        self.scheme = "ws"
        self._assets_channel: grpc.aio.Channel | None = None
        self._assets_stub: assets_grpc.AssetsInternalServiceAsyncStub | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self.handoff: WorkflowRelay | None = None
        self.lease: Lease | None = None
        self.peers: Peers | None = None

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port (0 when the gRPC server is off)."""
        return self.server.port if self.server is not None else 0

    def _static(self) -> MemoryProviders:
        s = self.settings
        owner = StationOwner(s.demo_owner, s.demo_owner_path) if s.demo_owner_path else None
        memory = memory_providers(
            pattern=s.demo_pattern, pattern_password=s.demo_password, pattern_owner=owner
        )
        for identity, password in s.stations:
            memory.stations.add(identity, password, owner=owner)
        return memory

    def _external(self, memory: MemoryProviders) -> tuple[StationCredentials, AccessDecider]:
        s = self.settings
        if not s.assets_address:
            return memory.stations, memory.access
        token = self.identity.service_token if self.identity is not None else None
        assets_channel = channel(s.assets_address, token=token, max_attempts=3)
        self._assets_channel = assets_channel
        stub = assets_grpc.AssetsInternalServiceStub(assets_channel)
        self._assets_stub = stub
        logger.info("station credentials and access decisions from assets at %s", s.assets_address)
        return AssetsStations(stub), AssetsAccess(stub)

    async def start(self) -> None:
        """Providers, storage (migrated), the WebSocket listener, then the gRPC server."""
        s = self.settings
        if s.identity_address:
            self.identity = IdentityLink(
                s.identity_address, client_id=s.client_id, client_secret=s.client_secret
            )
        self.memory = self._static()
        credentials, access = self._external(self.memory)
        providers: Providers
        if s.database_url:
            self.db = Database(s.database_url)
            if self.db.is_sqlite:
                Path(self.db.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            self.storage = Storage.build(self.db, credentials, access, process=s.process_id)
            await self.storage.start(migrate=s.migrate_on_start)
            providers = self.storage.providers
            self.handoff = handoff_relay(
                self.db,
                LazyClient(s.temporal_address, s.temporal_namespace),
                s.billing_task_queue,
                interval=s.handoff_interval,
            )
            # A completed transaction is handed on at once, not at the next tick.
            self.storage.transactions.on_completed = self.handoff.kick
            self.handoff.start()
        else:
            self.memory.message_log.start()
            providers = Providers(
                credentials, access, self.memory.events, self.memory.message_log, self.memory.transactions
            )
        self.csms = Csms(
            providers,
            CsmsOptions(
                heartbeat_interval=s.heartbeat_interval,
                validate_responses=s.validate_responses,
                call_timeout=s.call_timeout,
            ),
        )
        tls = None
        if s.security_profile is not SecurityProfile.BASIC:
            if s.tls_cert is None or s.tls_key is None:
                raise SystemExit(
                    "WATTLANE_CSMS_TLS_CERT and WATTLANE_CSMS_TLS_KEY are needed for profiles 2 and 3"
                )
            tls = server_ssl_context(s.security_profile, s.tls_cert, s.tls_key, s.tls_client_ca)
        server = await self.csms.listen(
            ListenerConfig(
                host=s.host,
                port=s.port,
                profile=s.security_profile,
                ssl=tls,
                onboarding=s.onboarding,
                reuse_port=s.reuse_port,
            )
        )
        self.port = server.sockets[0].getsockname()[1]
        self.scheme = "wss" if tls is not None else "ws"
        if s.grpc_port >= 0:
            await self._start_grpc()
        if self.db is not None and self.server is not None:
            # Other processes forward remote actions for our stations to this address.
            address = s.grpc_advertise or f"{s.host}:{self.server.port}"
            self.lease = Lease(
                self.db, s.process_id, address, ttl=s.lease_seconds, on_retaken=self._announce_connections
            )
            await self.lease.start()
        if self.storage is not None:
            self._housekeeping = asyncio.get_running_loop().create_task(
                self._housekeep(), name="csms-housekeeping"
            )
        logger.info("CSMS listening on %s://%s:%s/ocpp/<identity>", self.scheme, s.host, self.port)

    async def _start_grpc(self) -> None:
        s = self.settings
        services: list[tuple[str, Registrar]] = []
        if self.db is not None and self.csms is not None:
            db = self.db
            token = self.identity.service_token if self.identity is not None else None
            # A forwarded command waits for the station's answer on the other process.
            self.peers = Peers(token, timeout=s.call_timeout + 10)
            runner = CommandRunner(db, s.process_id, self.csms.registry, self.peers)
            # SendLocalList's source: assets' list for a station (none without assets).
            local_lists = AssetsLocalLists(self._assets_stub) if self._assets_stub is not None else None
            services = [
                (
                    stations_pb2.DESCRIPTOR.services_by_name["StationService"].full_name,
                    lambda srv: stations_pb2_grpc.add_StationServiceServicer_to_server(
                        StationServicer(db), srv
                    ),
                ),
                (
                    transactions_pb2.DESCRIPTOR.services_by_name["TransactionService"].full_name,
                    lambda srv: transactions_pb2_grpc.add_TransactionServiceServicer_to_server(
                        TransactionServicer(db), srv
                    ),
                ),
                (
                    internal_pb2.DESCRIPTOR.services_by_name["CsmsInternalService"].full_name,
                    lambda srv: internal_pb2_grpc.add_CsmsInternalServiceServicer_to_server(
                        CsmsInternalServicer(db, runner), srv
                    ),
                ),
                (
                    commands_pb2.DESCRIPTOR.services_by_name["CommandService"].full_name,
                    lambda srv: commands_pb2_grpc.add_CommandServiceServicer_to_server(
                        CommandServicer(db, runner, local_lists), srv
                    ),
                ),
            ]
        if self.identity is not None:
            with contextlib.suppress(Exception):  # identity may start later; keys load on demand
                await self.identity.start()
        self.server = ServiceServer(
            ServerOptions(
                service="csms",
                host=s.host,
                port=s.grpc_port,
                metrics_port=None if s.metrics_port < 0 else s.metrics_port,
            ),
            services=services,
            verifier=self.identity.verifier if self.identity is not None else None,
            scopes=self.identity.scopes if self.identity is not None else None,
        )
        await self.server.start()

    async def _housekeep(self) -> None:
        assert self.storage is not None
        s = self.settings
        silence = s.heartbeat_interval * CsmsOptions().silence_factor * 2  # the sweeper closes first
        while True:
            try:
                purged = await purge_messages(self.storage.db, dt.timedelta(days=s.log_retention_days))
                commands, request_ids = await purge_commands(
                    self.storage.db,
                    dt.timedelta(days=s.command_retention_days),
                    dt.timedelta(days=s.idempotency_retention_days),
                )
                if commands or request_ids:
                    logger.info("housekeeping: %d commands, %d request ids purged", commands, request_ids)
                self.storage.registry.touch(self.open_connections())
                await self.storage.registry.writer.flush()
                silent = await self.storage.registry.mark_silent(silence)
                if purged or silent:
                    logger.info(
                        "housekeeping: %d log lines purged, %d silent stations offline", purged, silent
                    )
            except Exception:
                logger.exception("housekeeping failed")
            await asyncio.sleep(s.housekeeping_interval)

    async def _announce_connections(self) -> None:
        """Record every socket open here as online again (after our lease was swept)."""
        if self.csms is None or self.storage is None:
            return
        for connection in self.csms.registry:
            await self.storage.registry.station_online(
                connection.identity, connection.version, connection.session.remote_address, utcnow()
            )

    def open_connections(self) -> list[tuple[str, dt.datetime]]:
        """(identity, wall-clock time of its last frame) of every station connected here."""
        if self.csms is None:
            return []
        now, wall = time.monotonic(), dt.datetime.now(dt.UTC)
        return [(c.identity, wall - dt.timedelta(seconds=now - c.last_seen)) for c in self.csms.registry]

    async def stop(self) -> None:
        """Close every station socket (1001, so stations reconnect elsewhere), stop the gRPC
        server, flush the registry and log, then release the process lease."""
        if self.handoff is not None:
            await self.handoff.stop()  # rows it did not mark wait for the next start
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self.csms is not None:
            logger.info("shutting down: closing %d station connections", len(self.csms.registry))
            await self.csms.close()
        if self.server is not None:
            await self.server.stop()
        if self.storage is not None:
            await self.storage.close()
        elif self.memory is not None:
            await self.memory.message_log.close()
        if self.lease is not None:
            # After the sockets closed and the registry flushed: stations reconnect elsewhere.
            await self.lease.release()
        if self.peers is not None:
            await self.peers.close()
        if self.db is not None:
            await self.db.dispose()
        if self._assets_channel is not None:
            await self._assets_channel.close(None)
        if self.identity is not None:
            await self.identity.close()
