"""Process leases of the connection registry: which CSMS processes are alive, and where their
gRPC servers are.

Each process holds a lease row (process id, gRPC address, expiry) and renews it every third of
the lease. A station row names the process holding its socket; that entry counts only while the
process's lease is unexpired. Every renewal also sweeps: stations held by processes whose lease
expired (a killed pod) go offline, and those processes' unfinished commands are resolved as
failed with the reason, so nothing stays "sent" forever. A process shutting down releases its
lease (after closing its sockets with 1001), so stations reconnect elsewhere at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.db import Database, upsert
from wattlane.csms.commands.states import CommandState
from wattlane.csms.models import Command, ProcessLease, Station

logger = logging.getLogger(__name__)

LEASES = ProcessLease.__table__
UNFINISHED = (CommandState.QUEUED.value, CommandState.SENT.value)


@dataclass(frozen=True, slots=True)
class Owner:
    """The live process holding a station's socket."""

    process: str
    grpc_address: str
    connection_epoch: int


async def owner_of(session: AsyncSession, station: Station, now: dt.datetime | None = None) -> Owner | None:
    """The process holding `station` if the row says online and that process's lease is live."""
    if not station.online or not station.connected_process:
        return None
    lease = await session.get(ProcessLease, station.connected_process)
    if lease is None or lease.expire_time <= (now or utcnow()):
        return None
    return Owner(lease.process, lease.grpc_address, station.connection_epoch)


async def resolve_unfinished(
    session: AsyncSession, processes: list[str], reason: str, at: dt.datetime
) -> int:
    """Commands queued at or sent by `processes` that never got an answer become FAILED with
    `reason` (the station may or may not have acted on a sent one: the reason says so)."""
    if not processes:
        return 0
    result = await session.execute(
        update(Command)
        .where(Command.process.in_(processes), Command.state.in_(UNFINISHED))
        .values(state=CommandState.FAILED.value, error=reason[:500], finish_time=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def sweep_expired(session: AsyncSession, now: dt.datetime) -> tuple[int, int]:
    """Stations and commands of processes whose lease expired; returns (stations, commands)."""
    expired = list(await session.scalars(select(ProcessLease.process).where(ProcessLease.expire_time <= now)))
    if not expired:
        return 0, 0
    offline = await session.execute(
        update(Station)
        .where(Station.connected_process.in_(expired), Station.online.is_(True))
        .values(
            online=False, connected_process="", disconnect_time=now, disconnect_reason="process lease expired"
        )
    )
    failed = await resolve_unfinished(
        session, expired, "the CSMS process holding the station stopped before the answer", now
    )
    await session.execute(delete(ProcessLease).where(ProcessLease.process.in_(expired)))
    return int(offline.rowcount or 0), failed  # type: ignore[attr-defined]


class Lease:
    """This process's lease: acquired on start, renewed (and sweeping) every `interval` seconds by
    a background task of the service, released on shutdown."""

    def __init__(
        self,
        db: Database,
        process: str,
        grpc_address: str,
        *,
        ttl: float,
        on_retaken: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.process = process
        self.grpc_address = grpc_address
        self.ttl = ttl
        self._on_retaken = on_retaken

    @property
    def interval(self) -> float:
        """How often `renew` must run: every third of the lease."""
        return max(0.2, self.ttl / 3)

    async def acquire(self) -> None:
        """Take the lease (replacing a previous run's); then run `renew` every `interval`."""
        now = utcnow()
        async with self.db.transaction() as session:
            # A previous run of this process left commands in flight: they cannot be answered now.
            resolved = await resolve_unfinished(
                session, [self.process], "the CSMS process restarted before the answer", now
            )
            await upsert(
                session,
                LEASES,  # type: ignore[arg-type]
                [self._row(now)],
                ["process"],
                ["grpc_address", "start_time", "expire_time"],
            )
        if resolved:
            logger.info("resolved %d commands a previous run left unanswered", resolved)

    def _row(self, now: dt.datetime) -> dict[str, object]:
        return {
            "process": self.process,
            "grpc_address": self.grpc_address,
            "start_time": now,
            "expire_time": now + dt.timedelta(seconds=self.ttl),
        }

    async def renew(self) -> None:
        """Move the expiry forward (re-creating the row if a sweep removed it), then sweep."""
        now = utcnow()
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ProcessLease)
                .where(ProcessLease.process == self.process)
                .values(expire_time=now + dt.timedelta(seconds=self.ttl))
            )
            retaken = not result.rowcount  # type: ignore[attr-defined]
            if retaken:
                # We stalled past the lease and another process swept us: our stations were
                # marked offline although their sockets are open here (`on_retaken` says so again).
                logger.warning("lease of %s had expired; taking it again", self.process)
                await upsert(
                    session,
                    LEASES,  # type: ignore[arg-type]
                    [self._row(now)],
                    ["process"],
                    ["grpc_address", "start_time", "expire_time"],
                )
            stations, commands = await sweep_expired(session, now)
        if retaken and self._on_retaken is not None:
            await self._on_retaken()
        if stations or commands:
            logger.info("expired leases: %d stations offline, %d commands failed", stations, commands)

    async def release(self) -> None:
        """Drop the lease (renewal stopped first; our sockets are closed by now)."""
        async with self.db.transaction() as session:
            await session.execute(delete(ProcessLease).where(ProcessLease.process == self.process))
