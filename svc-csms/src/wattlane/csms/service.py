"""One CSMS process on the service skeleton: the OCPP-J WebSocket listener and the gRPC API
sharing one station registry and message log.

Providers are chosen by the settings: with an assets address, station credentials and access
decisions come from assets (with a service token from identity); without, from the static /
demo list in the settings. With a billing address, stations are shown the costs of priced
sessions (billing's PriceSession); without, no costs. With a database URL, the registry and log
are stored (and the gRPC APIs read them); without, they stay in memory (benchmarks, quick local
runs).

The skeleton gives the rest (`wattlane.core.service`): the side port (`/metrics`, `/healthz`,
`/readyz`), logging, tracing, background tasks (housekeeping, the lease renewal, the handoff
relay), and SIGTERM: not ready, `drain_seconds`, then `drain()` closes the station sockets with
1001 spread over `close_spread_seconds`, flushes the registry and the log, releases the lease.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import time

from wattlane.api.assets.v1 import internal_pb2_grpc as assets_grpc
from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.api.csms.v1 import (
    campaigns_pb2_grpc,
    commands_pb2_grpc,
    internal_pb2_grpc,
    stations_pb2_grpc,
    transactions_pb2_grpc,
)
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.client import channel
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.directory import IdentityDirectory
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.identity_link import IdentityLink
from wattlane.core.outbox import WorkflowRelay
from wattlane.core.periodic import Periodic
from wattlane.core.service import Service
from wattlane.core.temporal import LazyClient
from wattlane.csms.api.campaigns import CampaignServicer
from wattlane.csms.api.commands import CommandServicer
from wattlane.csms.api.internal import CsmsInternalServicer
from wattlane.csms.api.stations import StationServicer
from wattlane.csms.api.transactions import TransactionServicer
from wattlane.csms.campaigns.workflow import CampaignWorkflows
from wattlane.csms.commands.peers import Peers
from wattlane.csms.commands.retention import purge_commands
from wattlane.csms.commands.runner import CommandRunner
from wattlane.csms.models import AUDIT
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.security import server_ssl_context
from wattlane.csms.protocol.server import Csms, ListenerConfig
from wattlane.csms.providers.assets import AssetsAccess, AssetsLocalLists, AssetsStations
from wattlane.csms.providers.billing import BillingPricing
from wattlane.csms.providers.directory import TenantPaths
from wattlane.csms.providers.interfaces import (
    AccessDecider,
    Pricing,
    Providers,
    StationCredentials,
    StationOwner,
)
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.registry.leases import Lease
from wattlane.csms.registry.logstore import purge_messages
from wattlane.csms.schema import MIGRATIONS
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.storage import Storage
from wattlane.csms.transactions.handoff import handoff_relay

logger = logging.getLogger("wattlane.csms")


class CsmsService(Service[CsmsSettings]):
    """svc-csms: the OCPP-J 1.6 / 2.0.1 WebSocket server for charging stations and its gRPC APIs.

    `port` is the WebSocket port (`WATTLANE_CSMS_PORT`), `grpc_port` the gRPC one."""

    name = "csms"
    settings_class = CsmsSettings
    migrations = MIGRATIONS

    def __init__(self, settings: CsmsSettings) -> None:
        super().__init__(settings)
        self.memory: MemoryProviders | None = None
        self.storage: Storage | None = None
        self.db: Database | None = None
        self.csms: Csms | None = None
        self.identity: IdentityLink | None = None
        self.lease: Lease | None = None
        self.peers: Peers | None = None
        self.handoff: WorkflowRelay | None = None
        self.campaigns: CampaignWorkflows | None = None
        self.scheme = "ws"
        self._ws_port = 0
        self._assets_stub: assets_grpc.AssetsInternalServiceAsyncStub | None = None
        self._housekeeping: Periodic | None = None
        self._lease_renewal: Periodic | None = None
        self._drained = False

    @property
    def port(self) -> int:
        """The bound WebSocket port (0 before start)."""
        return self._ws_port

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port (0 when the gRPC server is off or not started)."""
        return self.grpc.port if self.grpc is not None else 0

    # --- wiring ---------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Providers, storage, the WebSocket listener, the gRPC APIs and background tasks."""
        s = self.settings
        # A stopped service may start again (tests restart one on the same database).
        self.storage = self.memory = self.csms = self.lease = self.peers = self.db = None
        self._housekeeping = self._lease_renewal = self.handoff = self.campaigns = None
        self._drained = False
        if s.identity_address:
            self.identity = self.identity_link(
                s.identity_address, client_id=s.client_id, client_secret=s.client_secret
            )
            with contextlib.suppress(Exception):  # identity may start later; keys load on demand
                await self.identity.start()
        self.memory = self._static()
        credentials, access = self._external(self.memory)
        providers: Providers
        if s.database_url:
            self.db = db = self.database(s.database_url)
            self.storage = Storage.build(db, credentials, access, process=s.process_id)
            await self.storage.start(migrate=False)  # the skeleton migrated (migrate_on_start)
            providers = self.storage.providers
            temporal = LazyClient(s.temporal_address, s.temporal_namespace)
            handoff = handoff_relay(db, temporal, s.billing_task_queue, interval=s.handoff_interval)
            self.handoff = self.task(handoff)
            # Each campaign's FirmwareCampaign workflow is started from its outbox row.
            self.campaigns = CampaignWorkflows(
                db, temporal, task_queue=s.firmware_task_queue, interval=s.handoff_interval
            )
            self.task(self.campaigns.relay)
            # A completed transaction is handed on at once, not at the next tick.
            self.storage.transactions.on_completed = handoff.kick
            self._housekeeping = self.every("housekeeping", self._housekeep, s.housekeeping_interval)
            self._housekeeping.kick()  # purge and sweep once at start, then every interval
        else:
            self.memory.message_log.start()
            memory = self.memory
            providers = Providers(credentials, access, memory.events, memory.message_log, memory.transactions)
        providers = dataclasses.replace(providers, pricing=self._pricing())
        self.csms = Csms(
            providers,
            CsmsOptions(
                heartbeat_interval=s.heartbeat_interval,
                validate_responses=s.validate_responses,
                call_timeout=s.call_timeout,
                cost_update_interval=s.cost_update_interval,
                pricing_timeout=s.pricing_timeout,
                pricing_backoff=s.pricing_backoff,
                cost_display_pattern=s.cost_display_stations,
            ),
        )
        await self._listen()
        if s.grpc_port >= 0:
            self._serve_apis()

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
        self.on_stop(lambda: assets_channel.close(None))
        stub = assets_grpc.AssetsInternalServiceStub(assets_channel)
        self._assets_stub = stub
        logger.info("station credentials and access decisions from assets at %s", s.assets_address)
        return AssetsStations(stub), AssetsAccess(stub)

    def _pricing(self) -> Pricing | None:
        """Costs on stations from billing's PriceSession (none without a billing address)."""
        s = self.settings
        if not s.billing_address:
            return None
        # One attempt: a cost is best effort and bounded by `pricing_timeout` anyway.
        token = self.identity.service_token if self.identity is not None else None
        client = BillingClient(s.billing_address, max_attempts=1, token_provider=token)
        self.on_stop(client.close)
        logger.info("costs on stations priced by billing at %s", s.billing_address)
        return BillingPricing(client)

    async def _listen(self) -> None:
        assert self.csms is not None
        s = self.settings
        tls = None
        if s.security_profile.uses_tls:
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
        self._ws_port = server.sockets[0].getsockname()[1]
        self.scheme = "wss" if tls is not None else "ws"

    def _serve_apis(self) -> None:
        """The gRPC server (health and reflection always; the APIs with a database)."""
        s = self.settings
        identity = self.identity
        if self.db is not None and self.csms is not None and self.campaigns is not None:
            db = self.db
            token = identity.service_token if identity is not None else None
            # A forwarded command waits for the station's answer on the other process.
            self.peers = peers = Peers(token, timeout=s.call_timeout + 10)
            self.on_stop(peers.close)
            runner = CommandRunner(db, s.process_id, self.csms.registry, peers)
            # SendLocalList's source: assets' list for a station (none without assets).
            local_lists = AssetsLocalLists(self._assets_stub) if self._assets_stub is not None else None
            audit = AuditLog(AUDIT)
            # Tenant paths for reads with a `parent` (transactions, audit entries).
            directory = None
            if identity is not None:
                directory = TenantPaths(IdentityDirectory(s.identity_address, identity.service_token))
                self.on_stop(directory.close)
            self.add_grpc(stations_pb2_grpc.add_StationServiceServicer_to_server, StationServicer(db))
            self.add_grpc(
                transactions_pb2_grpc.add_TransactionServiceServicer_to_server,
                TransactionServicer(db, directory),
            )
            self.add_grpc(
                internal_pb2_grpc.add_CsmsInternalServiceServicer_to_server,
                CsmsInternalServicer(db, audit, runner),
            )
            self.add_grpc(
                commands_pb2_grpc.add_CommandServiceServicer_to_server,
                CommandServicer(db, runner, audit, local_lists),
            )
            self.add_grpc(
                campaigns_pb2_grpc.add_CampaignServiceServicer_to_server,
                CampaignServicer(db, audit, self.campaigns, poll_seconds=s.campaign_poll_seconds),
            )
            if directory is not None:
                self.add_grpc(
                    audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(db, audit, directory)
                )
        self.serve_grpc(
            s.host,
            s.grpc_port,
            verifier=identity.verifier if identity is not None else None,
            scopes=identity.scopes if identity is not None else None,
        )

    async def listening(self) -> None:
        """With gRPC bound: take the process lease (other processes forward remote actions for
        our stations to its address), then say where stations connect."""
        s = self.settings
        if self.db is not None and self.grpc is not None:
            address = s.grpc_advertise or f"{s.host}:{self.grpc.port}"
            self.lease = Lease(
                self.db, s.process_id, address, ttl=s.lease_seconds, on_retaken=self._announce_connections
            )
            await self.lease.acquire()
            self._lease_renewal = self.every("lease", self.lease.renew, self.lease.interval)
        logger.info(
            "CSMS listening on %s://%s:%s/ocpp/<identity>",
            self.scheme,
            s.host,
            self.port,
            extra={"ws_port": self.port, "grpc_port": self.grpc_port},
        )

    # --- background tasks -----------------------------------------------------------------------

    async def _housekeep(self) -> None:
        """Purge old log lines and commands; keep open connections fresh; sweep silent stations."""
        assert self.storage is not None
        s = self.settings
        silence = s.heartbeat_interval * CsmsOptions().silence_factor * 2  # the sweeper closes first
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
            logger.info("housekeeping: %d log lines purged, %d silent stations offline", purged, silent)

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

    # --- shutdown -------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Close every station socket with 1001 (so stations reconnect to other processes), spread
        over `close_spread_seconds` within the grace period; then flush the registry and the
        message log and release the lease (stations held here are then reachable elsewhere)."""
        if self._drained:
            return
        self._drained = True
        s = self.settings
        try:
            if self.csms is not None:
                await self.csms.drain(min(s.close_spread_seconds, s.grace_seconds))
        finally:
            # Housekeeping would touch stations that are gone; it is stopped (never mid-batch:
            # the writer finishes a batch it took) before the registry writes its last batch.
            if self._housekeeping is not None:
                await self._housekeeping.stop()
            if self.storage is not None:
                await self.storage.close()
            elif self.memory is not None:
                await self.memory.message_log.close()
            if self.lease is not None:
                if self._lease_renewal is not None:
                    await self._lease_renewal.stop()
                await self.lease.release()
