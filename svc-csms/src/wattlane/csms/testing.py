"""Helpers for tests that run a real CSMS on a loopback port (used by this and other projects' tests)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from wattlane.csms.protocol.handlers import DataTransferHandler
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.security import SecurityProfile
from wattlane.csms.protocol.server import Csms, ListenerConfig
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.storage import Storage

DEFAULT_PASSWORD = "0123456789abcdef0123"  # 20 bytes: a valid AuthorizationKey length (16-40)


@dataclass
class RunningCsms:
    """A CSMS listening on 127.0.0.1 with in-memory providers."""

    csms: Csms
    memory: MemoryProviders
    port: int
    scheme: str
    storage: Storage | None = None

    @property
    def url(self) -> str:
        """The base URL; a station appends `/<identity>`."""
        return f"{self.scheme}://127.0.0.1:{self.port}/ocpp"


@contextlib.asynccontextmanager
async def running_csms(
    *,
    profile: SecurityProfile = SecurityProfile.BASIC,
    ssl_context: ssl.SSLContext | None = None,
    onboarding: bool = False,
    options: CsmsOptions | None = None,
    stations: Mapping[str, str] | None = None,
    data_transfer: dict[str, DataTransferHandler] | None = None,
    access_cache_ttl: float = 60.0,
    memory: MemoryProviders | None = None,
    storage: Storage | None = None,
) -> AsyncIterator[RunningCsms]:
    """Start a CSMS on an ephemeral port; registered `stations` map identity → password.

    Pass `memory` to use providers of your own (e.g. one that fails on purpose, or with a
    `pricing` so stations are shown costs), and `storage`
    (started by the caller, built on `memory`'s stations and access) for the database registry
    and log instead of the in-memory events and log."""
    memory = memory or memory_providers(log_flush_interval=0.05)
    for identity, password in (stations if stations is not None else {"CS001": DEFAULT_PASSWORD}).items():
        memory.stations.add(identity, password)
    providers = storage.providers if storage is not None else memory.providers()
    if memory.pricing is not None:  # costs on stations, with the database store too
        providers = dataclasses.replace(providers, pricing=memory.pricing)
    csms = Csms(
        providers,
        options or CsmsOptions(validate_responses=True),
        data_transfer=data_transfer,
        access_cache_ttl=access_cache_ttl,
    )
    memory.message_log.start()
    server = await csms.listen(
        ListenerConfig(port=0, profile=profile, ssl=ssl_context, onboarding=onboarding)
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield RunningCsms(csms, memory, port, "wss" if ssl_context is not None else "ws", storage)
    finally:
        await csms.close()
        await memory.message_log.close()


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait until `predicate()` is true (polling), or fail with AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def eventually_async(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Like `eventually` for a predicate that must await (e.g. read the database)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
