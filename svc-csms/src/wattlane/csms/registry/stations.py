"""The persistent station registry: `StationEvents` (and unclaimed attempts) on the database.

Replies never wait for it. Connections opening and closing, boot reports, heartbeats (last
seen), connector statuses and unclaimed connection attempts are queued on the shared write-behind
writer (`writebehind.py`) and folded per station before each write, so a thousand heartbeats of
one station in a batch cost one row update, and a storm of 5,000 stations booting at once costs a
few batched upserts rather than 5,000 transactions queueing for the database (boots written
through took a SQLite-backed storm from 7 s to 21 s). Notices are rare and written through.

Online/offline follows the socket (open → online, close → offline). A process that dies without
closing its sockets leaves rows online: `mark_silent` (run periodically) turns stations silent for
longer than the heartbeat allowance offline, and a restarting process first clears its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.csms.campaigns import tracking
from wattlane.csms.campaigns.tracking import Booted
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import (
    BootInfo,
    ConnectionAttempt,
    NoticeKind,
    StationCredentials,
    StationNotice,
    StationOwner,
    StatusChange,
)
from wattlane.csms.registry import repository
from wattlane.csms.registry.writebehind import WriteBehind

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Connected:
    """A station's socket opened in this process."""

    identity: str
    version: OcppVersion
    remote_address: str
    at: datetime
    owner: StationOwner | None


@dataclass(frozen=True, slots=True)
class Disconnected:
    """A station's socket in this process closed."""

    identity: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Seen:
    """A heartbeat."""

    identity: str
    at: datetime


RegistryUpdate = Connected | Disconnected | Seen | BootInfo | StatusChange | ConnectionAttempt


class RegistryWriter:
    """The `BatchSink` of registry updates: folds a batch per station, writes it in one transaction."""

    def __init__(self, db: Database, process: str) -> None:
        self._db = db
        self._process = process

    async def write_batch(self, entries: Sequence[RegistryUpdate]) -> None:
        """Fold, then write: connections, heartbeats, disconnections, statuses, attempts."""
        now = utcnow()
        connected: dict[str, dict[str, Any]] = {}
        disconnected: dict[str, dict[str, Any]] = {}
        seen: dict[str, datetime] = {}
        statuses: dict[tuple[str, int, int], dict[str, Any]] = {}
        attempts: dict[str, dict[str, Any]] = {}
        boots: dict[str, dict[str, Any]] = {}
        for item in entries:
            if isinstance(item, Seen):
                if item.identity not in seen or seen[item.identity] < item.at:
                    seen[item.identity] = item.at
            elif isinstance(item, Connected):
                disconnected.pop(item.identity, None)  # a reconnect within the batch wins
                connected[item.identity] = {
                    "identity": item.identity,
                    "create_time": now,
                    "owner_id": item.owner.owner_id if item.owner else "",
                    "owner_path": item.owner.owner_path if item.owner else "",
                    "location_id": item.owner.location_id if item.owner else "",
                    "charging_point_id": item.owner.charging_point_id if item.owner else "",
                    "protocol": item.version.value,
                    "online": True,
                    "connected_process": self._process,
                    "connection_epoch": 1,
                    "remote_address": item.remote_address[:64],
                    "connect_time": item.at,
                    "last_seen_time": item.at,
                }
            elif isinstance(item, Disconnected):
                disconnected[item.identity] = {
                    "b_identity": item.identity,
                    "b_process": self._process,
                    "b_time": item.at,
                    "reason": item.reason[:200],
                }
            elif isinstance(item, BootInfo):
                boots[item.identity] = boot_row(item, now)
            elif isinstance(item, StatusChange):
                statuses[(item.identity, item.evse_id, item.connector_id)] = {
                    "identity": item.identity,
                    "evse_id": item.evse_id,
                    "connector_id": item.connector_id,
                    "status": item.status.value,
                    "ocpp_status": item.ocpp_status,
                    "error_code": item.error_code,
                    "info": item.info[:500] if item.info else None,
                    "status_time": item.at,
                }
            else:
                _fold_attempt(attempts, item)
        for identity, row in connected.items():
            if identity in seen:
                row["last_seen_time"] = max(row["last_seen_time"], seen.pop(identity))
        async with self._db.transaction() as session:
            await repository.stations_connected(session, list(connected.values()))
            await repository.stations_seen(
                session,
                [{"identity": i, "create_time": now, "last_seen_time": at} for i, at in seen.items()],
            )
            await repository.stations_booted(session, list(boots.values()))
            # A boot with a campaign's target version verifies the station's update.
            await tracking.record_boots(
                session, [Booted(i, row["boot_time"], row["firmware_version"]) for i, row in boots.items()]
            )
            await repository.stations_disconnected(session, list(disconnected.values()))
            await repository.connector_statuses(session, list(statuses.values()))
            await repository.unclaimed_attempts(session, list(attempts.values()))


def _fold_attempt(attempts: dict[str, dict[str, Any]], item: ConnectionAttempt) -> None:
    row = attempts.get(item.identity)
    if row is None:
        attempts[item.identity] = {
            "identity": item.identity,
            "first_attempt_time": item.at,
            "last_attempt_time": item.at,
            "remote_address": item.remote_address[:64],
            "protocol": item.protocol,
            "listener": item.listener[:64],
            "attempts": 1,
        }
        return
    row["attempts"] += 1
    if item.at >= row["last_attempt_time"]:
        row.update(
            last_attempt_time=item.at,
            remote_address=item.remote_address[:64],
            protocol=item.protocol,
            listener=item.listener[:64],
        )


class StationRegistry:
    """`StationEvents` stored in the CSMS database, plus the unclaimed attempts of the handshake."""

    def __init__(
        self,
        db: Database,
        credentials: StationCredentials,
        *,
        process: str,
        flush_interval: float = 0.5,
        batch_size: int = 2000,
        max_pending: int = 200_000,
    ) -> None:
        self.db = db
        self.process = process
        self._credentials = credentials
        self.writer: WriteBehind[RegistryUpdate] = WriteBehind(
            RegistryWriter(db, process),
            flush_interval=flush_interval,
            batch_size=batch_size,
            max_pending=max_pending,
            name="station-registry-writer",
        )

    async def start(self) -> None:
        """Clear what a previous run of this process left online, then start the writer."""
        async with self.db.transaction() as session:
            stale = await repository.mark_process_offline(
                session, self.process, utcnow(), "process restarted"
            )
        if stale:
            logger.info("marked %d stations of a previous run offline", stale)
        self.writer.start()

    async def close(self) -> None:
        """Write what is queued (the server has closed its sockets: they are offline now)."""
        await self.writer.close()

    def touch(self, seen: Iterable[tuple[str, datetime]]) -> None:
        """Queue `last seen` for stations whose sockets are open here. Heartbeats only update it
        when stations send them; a station busy with other messages may skip them (OCPP allows
        it), so the process touches its open connections before `mark_silent` runs."""
        for identity, at in seen:
            self.writer.record(Seen(identity, at))

    async def mark_silent(self, max_silence: float) -> int:
        """Stations online without a sign of life for `max_silence` seconds become offline."""
        now = utcnow()
        async with self.db.transaction() as session:
            return await repository.mark_silent_offline(session, now - timedelta(seconds=max_silence), now)

    # -- StationEvents ------------------------------------------------------------------------

    async def station_online(
        self, identity: str, version: OcppVersion, remote_address: str, at: datetime
    ) -> None:
        """Queue: online in this process, with the owner copied from the credential provider."""
        owner = await self._credentials.owner(identity)
        self.writer.record(Connected(identity, version, remote_address, at, owner))

    async def station_offline(self, identity: str, at: datetime, reason: str) -> None:
        """Queue: offline (unless another connection took over meanwhile)."""
        self.writer.record(Disconnected(identity, at, reason))

    async def station_seen(self, identity: str, at: datetime) -> None:
        """Queue: last seen."""
        self.writer.record(Seen(identity, at))

    async def status_changed(self, change: StatusChange) -> None:
        """Queue: the connector's latest status."""
        self.writer.record(change)

    async def station_booted(self, boot: BootInfo) -> None:
        """Queue: the boot report (the latest per station in a batch wins)."""
        self.writer.record(boot)

    async def station_notice(self, notice: StationNotice) -> None:
        """Write the notice through (rare)."""
        async with self.db.transaction() as session:
            await repository.add_notice(
                session,
                {
                    "identity": notice.identity,
                    "kind": notice.kind.value,
                    "value": notice.value[:64],
                    "notice_time": notice.at,
                    "request_id": notice.request_id,
                    "details": notice.details,
                },
            )
            if notice.kind is NoticeKind.FIRMWARE_STATUS:
                await tracking.record_firmware_status(
                    session, notice.identity, notice.value, notice.request_id, notice.at
                )

    # -- unclaimed ----------------------------------------------------------------------------

    async def record_unclaimed(self, attempt: ConnectionAttempt) -> None:
        """Queue: an attempt by an unknown identity (folded per identity, counted)."""
        self.writer.record(attempt)


def boot_row(boot: BootInfo, now: datetime) -> dict[str, Any]:
    """The `stations` columns a boot report sets."""
    return {
        "identity": boot.identity,
        "create_time": now,
        "boot_time": boot.at,
        "boot_accepted": boot.accepted,
        "boot_reason": boot.reason,
        "vendor": boot.vendor[:50],
        "model": boot.model[:50],
        "serial_number": _cut(boot.serial_number, 50),
        "firmware_version": _cut(boot.firmware_version, 50),
        "iccid": _cut(boot.iccid, 20),
        "imsi": _cut(boot.imsi, 20),
        "last_seen_time": boot.at,
    }


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


class RegisteredCredentials:
    """A `StationCredentials` that records unclaimed attempts in the registry and asks `inner`
    (static, in-memory or assets) for everything else."""

    def __init__(self, inner: StationCredentials, registry: StationRegistry) -> None:
        self.inner = inner
        self._registry = registry

    async def is_known(self, identity: str) -> bool:
        """Ask the inner provider."""
        return await self.inner.is_known(identity)

    async def verify_password(self, identity: str, password: bytes) -> bool:
        """Ask the inner provider."""
        return await self.inner.verify_password(identity, password)

    async def verify_certificate(self, identity: str, subject_cn: str) -> bool:
        """Ask the inner provider."""
        return await self.inner.verify_certificate(identity, subject_cn)

    async def owner(self, identity: str) -> StationOwner | None:
        """Ask the inner provider."""
        return await self.inner.owner(identity)

    async def record_unclaimed(self, attempt: ConnectionAttempt) -> None:
        """Into the registry."""
        await self._registry.record_unclaimed(attempt)
