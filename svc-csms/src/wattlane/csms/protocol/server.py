"""The OCPP-J WebSocket listener(s): handshake rules, security profiles, one connection per station.

Handshake (OCPP-J 1.6 §3.2, 2.0.1 Part 4 §3 and the security profiles):
- the URL is `ws(s)://host:port/ocpp/<identity>` (the prefix is configurable); an invalid or
  unknown identity gets HTTP 404 and the attempt is recorded as unclaimed — unless the listener
  is an onboarding listener, which lets unknown stations in without credentials and answers their
  boot Pending; such a connection stays Pending (it never authenticated), so a station claimed
  meanwhile is accepted once it reconnects with its credentials;
- profiles 1 and 2 need HTTP Basic with username = identity and the station's AuthorizationKey
  (401 otherwise); profile 3 needs a client certificate (chain checked by TLS) whose CN is the
  identity (401 otherwise);
- a client offering no supported sub-protocol gets the handshake completed without
  Sec-WebSocket-Protocol, then a close (websockets would answer HTTP 400 by default);
- a second connection for a connected identity replaces the first, which is closed.

Every refusal is counted by reason (`wattlane_ocpp_handshake_rejections`), every accepted and
closed connection by version. Shutting down (`drain`) stops accepting first, then closes the
station sockets with 1001 spread over a window, so a fleet reconnects elsewhere gradually rather
than all in the same second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import weakref
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wattlane.core.clock import utcnow
from wattlane.core.ocpp import validate_identity
from wattlane.csms.protocol.connected import ConnectionRegistry
from wattlane.csms.protocol.connection import StationConnection
from wattlane.csms.protocol.costs import CostDisplay
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.handlers import (
    DataTransferHandler,
    Handler,
    HandlerContext,
    Session,
    dispatch_table,
)
from wattlane.csms.protocol.metrics import REJECTED, version_metrics
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.runtime import limit_tls_read_buffer
from wattlane.csms.protocol.schemas import SchemaSet, schema_set
from wattlane.csms.protocol.security import SecurityProfile, parse_basic_auth, peer_common_name
from wattlane.csms.providers.access_cache import CachingAccessDecider
from wattlane.csms.providers.interfaces import ConnectionAttempt, Providers

logger = logging.getLogger(__name__)

CLOSE_NO_SUBPROTOCOL = 1002  # protocol error: nothing in common to speak
CLOSE_REPLACED = 1000
CLOSE_SILENT = 1001
CLOSE_GOING_AWAY = 1001
SHUTTING_DOWN = "the CSMS is shutting down: reconnect"
# Below this rate spreading closes buys nothing: a few hundred stations may reconnect at once.
MIN_CLOSE_RATE = 200.0


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One WebSocket listener (address, security profile, limits)."""

    host: str = "127.0.0.1"
    port: int = 9000
    profile: SecurityProfile = SecurityProfile.BASIC
    ssl: ssl.SSLContext | None = None
    onboarding: bool = False
    path_prefix: str = "/ocpp/"
    name: str = "default"
    # Which sub-protocols this listener offers; the station's order of preference decides.
    versions: tuple[OcppVersion, ...] = (OcppVersion.V201, OcppVersion.V16)
    max_size: int = 1024 * 1024  # largest frame accepted (a full GetConfiguration/NotifyReport fits)
    ping_interval: float | None = 60.0  # stations ping too; this catches dead TCP in ~90 s
    ping_timeout: float | None = 30.0
    backlog: int = 4096  # the default 100 makes a 5,000-station storm take seconds longer
    reuse_port: bool = False  # several processes on one port share the load

    def __post_init__(self) -> None:
        if self.profile.uses_tls and self.ssl is None:
            raise ValueError(f"security profile {int(self.profile)} needs an SSL context")
        if not self.profile.uses_tls and self.ssl is not None:
            raise ValueError("security profile 1 is plain ws; use profile 2 or 3 with TLS")
        if not self.path_prefix.startswith("/") or not self.path_prefix.endswith("/"):
            raise ValueError("path_prefix must start and end with '/'")


@dataclass(frozen=True, slots=True)
class _Admitted:
    identity: str
    known: bool
    remote_address: str


def format_address(address: Any) -> str:
    """host:port of a socket address tuple (IPv6 hosts in brackets)."""
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address) if address is not None else ""


class Csms:
    """The protocol layer of one CSMS process: listeners, station connections, dispatch."""

    def __init__(
        self,
        providers: Providers,
        options: CsmsOptions | None = None,
        *,
        data_transfer: dict[str, DataTransferHandler] | None = None,
        access_cache_ttl: float = 60.0,
        access_stale_ttl: float = 900.0,
    ) -> None:
        self.providers = providers
        self.options = options or CsmsOptions()
        self.access = CachingAccessDecider(providers.access, ttl=access_cache_ttl, stale_ttl=access_stale_ttl)
        self.registry = ConnectionRegistry()
        self.costs = (
            CostDisplay(providers.pricing, providers.transactions, self.registry, self.options)
            if providers.pricing is not None
            else None
        )
        context = HandlerContext(providers, self.access, self.options, dict(data_transfer or {}), self.costs)
        # Built once: per message the dispatch is a dict lookup.
        self._tables: dict[OcppVersion, dict[str, Handler]] = {
            v: dispatch_table(v, context) for v in OcppVersion
        }
        self._schemas: dict[OcppVersion, SchemaSet] = {v: schema_set(v) for v in OcppVersion}
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, _Admitted] = weakref.WeakKeyDictionary()
        self._servers: list[Server] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def listen(self, listener: ListenerConfig) -> Server:
        """Start a listener; returns the websockets server (its sockets tell the bound port)."""

        if listener.ssl is not None:
            limit_tls_read_buffer()  # else every TLS station costs a 256 KiB read buffer
        supported = {v.value for v in listener.versions}

        def select_subprotocol(
            connection: ServerConnection, offered: Sequence[Subprotocol]
        ) -> Subprotocol | None:
            for name in offered:
                if name in supported:
                    return name
            return None  # complete the handshake without the header; the handler then closes

        async def process_request(connection: ServerConnection, request: Request) -> Response | None:
            return await self._admit(listener, connection, request)

        async def handler(connection: ServerConnection) -> None:
            await self._serve(connection)

        server = await serve(
            handler,
            listener.host,
            listener.port,
            ssl=listener.ssl,
            subprotocols=[Subprotocol(v.value) for v in listener.versions],
            select_subprotocol=select_subprotocol,
            process_request=process_request,
            compression=None,  # permessage-deflate costs +60% CPU and 3x memory per station
            max_size=listener.max_size,
            ping_interval=listener.ping_interval,
            ping_timeout=listener.ping_timeout,
            backlog=listener.backlog,
            reuse_port=listener.reuse_port or None,
        )
        self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_silent(), name="csms-sweeper")
        if self.costs is not None:
            self.costs.start()
        return server

    async def close(self) -> None:
        """Stop listening; close every station socket at once (1001) so stations reconnect elsewhere."""
        await self.drain(0.0)

    async def drain(self, window: float, *, min_rate: float = MIN_CLOSE_RATE) -> None:
        """Stop accepting, then close every station socket with 1001 (going away), spread evenly
        over up to `window` seconds but at least `min_rate` a second; return once every
        connection's handler has finished."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self.costs is not None:
            await self.costs.close()  # no running costs to stations that are leaving
        for server in self._servers:
            server.close(close_connections=False)  # no new connections; the open ones stay
        connections = list(self.registry)
        if connections:
            rate = max(len(connections) / window, min_rate) if window > 0 else math.inf
            logger.info(
                "closing %d station connections over %.1f s",
                len(connections),
                len(connections) / rate if rate != math.inf else 0.0,
            )
            loop = asyncio.get_running_loop()
            start = loop.time()
            closing = []
            for index, connection in enumerate(connections):
                ahead = start + index / rate - loop.time()
                if ahead > 0.005:  # sleep in steps of a few ms: the rest go out in the same tick
                    await asyncio.sleep(ahead)
                closing.append(asyncio.ensure_future(connection.close(CLOSE_GOING_AWAY, SHUTTING_DOWN)))
            await asyncio.gather(*closing, return_exceptions=True)
        for server in self._servers:
            # Sockets that never became a station connection (a handshake finishing meanwhile).
            for ws in list(server.connections):
                self._spawn(ws.close(CLOSE_GOING_AWAY, SHUTTING_DOWN))
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- handshake ---------------------------------------------------------------------------

    async def _admit(
        self, listener: ListenerConfig, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.partition("?")[0]
        if not path.startswith(listener.path_prefix):
            REJECTED["bad_path"].inc()
            return connection.respond(404, "Not Found\n")
        identity = unquote(path[len(listener.path_prefix) :])
        if not validate_identity(identity):
            REJECTED["bad_path"].inc()
            return connection.respond(404, "Not Found\n")
        try:
            return await self._check_credentials(listener, connection, request, identity)
        except Exception:
            REJECTED["unavailable"].inc()  # the credential provider could not answer
            raise

    async def _check_credentials(
        self, listener: ListenerConfig, connection: ServerConnection, request: Request, identity: str
    ) -> Response | None:
        credentials = self.providers.credentials
        remote = format_address(connection.remote_address)
        known = await credentials.is_known(identity)
        if not known:
            attempt = ConnectionAttempt(
                identity, utcnow(), remote, listener.name, _offered_protocol(request, listener)
            )
            await self._safely(credentials.record_unclaimed(attempt), "record_unclaimed")
            if not listener.onboarding:
                REJECTED["unknown_station"].inc()
                return connection.respond(404, "Unknown charging station\n")
        elif listener.profile.uses_basic_auth:
            values = request.headers.get_all("Authorization")
            parsed = parse_basic_auth(values[0]) if len(values) == 1 else None
            if (
                parsed is None
                or parsed[0] != identity
                or not await credentials.verify_password(identity, parsed[1])
            ):
                REJECTED["bad_credentials"].inc()
                return _unauthorized(connection)
        else:
            common_name = peer_common_name(connection.transport.get_extra_info("peercert"))
            if common_name != identity or not await credentials.verify_certificate(identity, common_name):
                REJECTED["certificate"].inc()
                return _unauthorized(connection)
        self._admitted[connection] = _Admitted(identity, known, remote)
        return None

    # -- serving -----------------------------------------------------------------------------

    async def _serve(self, ws: ServerConnection) -> None:
        admitted = self._admitted.pop(ws, None)
        if ws.subprotocol is None or admitted is None:
            REJECTED["no_subprotocol"].inc()
            await ws.close(CLOSE_NO_SUBPROTOCOL, "no supported OCPP sub-protocol offered")
            return
        version = OcppVersion(ws.subprotocol)
        metrics = version_metrics(version)
        metrics.connects.inc()
        metrics.connected.inc()
        try:
            await self._serve_station(ws, admitted, version)
        finally:
            metrics.connected.dec()
            metrics.disconnects.inc()

    async def _serve_station(self, ws: ServerConnection, admitted: _Admitted, version: OcppVersion) -> None:
        session = Session(admitted.identity, version, admitted.remote_address, admitted.known)
        connection = StationConnection(
            ws,
            session,
            self._tables[version],
            self._schemas[version],
            self.providers.message_log,
            self.options,
            version_metrics(version),
        )
        previous = self.registry.register(connection)
        if previous is not None:
            logger.info("%s: a new connection replaces the open one", session.identity)
            self._spawn(previous.close(CLOSE_REPLACED, "replaced by a newer connection"))
        events = self.providers.events
        await self._safely(
            events.station_online(session.identity, version, session.remote_address, utcnow()),
            "station_online",
        )
        reason = "closed"
        try:
            reason = await connection.run()
        finally:
            if self.registry.unregister(connection):
                await self._safely(
                    events.station_offline(session.identity, utcnow(), reason), "station_offline"
                )

    async def _sweep_silent(self) -> None:
        max_silence = self.options.heartbeat_interval * self.options.silence_factor
        period = max(1.0, min(30.0, max_silence / 4))
        while True:
            await asyncio.sleep(period)
            for connection in self.registry.silent(max_silence):
                logger.info("%s: silent for over %.0f s, closing", connection.identity, max_silence)
                self._spawn(connection.close(CLOSE_SILENT, "no message within the heartbeat interval"))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _safely(self, awaitable: Awaitable[None], what: str) -> None:
        # A provider outage must not break the handshake or a connection's bookkeeping.
        try:
            await awaitable
        except Exception:
            logger.exception("provider call %s failed", what)


def _offered_protocol(request: Request, listener: ListenerConfig) -> str:
    """The first sub-protocol the station offers that the listener speaks ('' when none)."""
    supported = {v.value for v in listener.versions}
    for header in request.headers.get_all("Sec-WebSocket-Protocol"):
        for name in header.split(","):
            if name.strip() in supported:
                return name.strip()
    return ""


def _unauthorized(connection: ServerConnection) -> Response:
    response = connection.respond(401, "Unauthorized\n")
    headers: Headers = response.headers
    headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
    return response
