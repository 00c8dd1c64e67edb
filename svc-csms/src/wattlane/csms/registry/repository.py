"""SQL of the station registry and the message log (callers own the session and transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.db import upsert
from wattlane.csms.models import ConnectorStatus, Message, Station, StationNotice, UnclaimedConnection

STATIONS: Table = Station.__table__  # type: ignore[assignment]
CONNECTORS: Table = ConnectorStatus.__table__  # type: ignore[assignment]
UNCLAIMED: Table = UnclaimedConnection.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
NOTICES: Table = StationNotice.__table__  # type: ignore[assignment]


CONNECTION_COLUMNS = (
    "owner_id",
    "owner_path",
    "location_id",
    "charging_point_id",
    "protocol",
    "online",
    "connected_process",
    "remote_address",
    "connect_time",
    "last_seen_time",
)
BOOT_COLUMNS = (
    "boot_time",
    "boot_accepted",
    "boot_reason",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "last_seen_time",
)


async def stations_connected(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Mark stations online in a process (rows: identity, create_time, connection_epoch = 1 and
    CONNECTION_COLUMNS); an existing row's connection epoch goes up by one."""
    updates: dict[str, Any] = {name: (lambda ex, n=name: ex[n]) for name in CONNECTION_COLUMNS}
    updates["connection_epoch"] = lambda ex: STATIONS.c.connection_epoch + 1
    await upsert(session, STATIONS, rows, ["identity"], updates)


async def stations_seen(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Move `last_seen_time` forward (rows: identity, create_time, last_seen_time)."""
    await upsert(session, STATIONS, rows, ["identity"], ["last_seen_time"])


async def stations_booted(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record boot reports (rows: identity, create_time and BOOT_COLUMNS)."""
    await upsert(session, STATIONS, rows, ["identity"], BOOT_COLUMNS)


async def stations_disconnected(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Mark stations offline, unless another connection (here or in another process) took over
    since: rows b_identity, b_process, b_time, reason."""
    if not rows:
        return
    c = STATIONS.c
    stmt = (
        update(STATIONS)
        .where(
            c.identity == bindparam("b_identity"),
            c.connected_process == bindparam("b_process"),
            or_(c.connect_time.is_(None), c.connect_time <= bindparam("b_time")),
        )
        .values(
            online=False,
            connected_process="",
            disconnect_time=bindparam("b_time"),
            disconnect_reason=bindparam("reason"),
        )
    )
    await session.execute(stmt, list(rows))


async def mark_process_offline(session: AsyncSession, process: str, at: dt.datetime, reason: str) -> int:
    """Stations a process held when it stopped (or crashed) are offline now."""
    result = await session.execute(
        update(STATIONS)
        .where(STATIONS.c.connected_process == process, STATIONS.c.online.is_(True))
        .values(online=False, connected_process="", disconnect_time=at, disconnect_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_silent_offline(session: AsyncSession, seen_before: dt.datetime, at: dt.datetime) -> int:
    """Online stations not seen since `seen_before`: their process is gone without saying so."""
    c = STATIONS.c
    result = await session.execute(
        update(STATIONS)
        .where(c.online.is_(True), or_(c.last_seen_time.is_(None), c.last_seen_time < seen_before))
        .where(or_(c.connect_time.is_(None), c.connect_time < seen_before))
        .values(online=False, connected_process="", disconnect_time=at, disconnect_reason="silent")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def connector_statuses(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert the latest status per connector."""
    await upsert(
        session,
        CONNECTORS,
        rows,
        ["identity", "evse_id", "connector_id"],
        ["status", "ocpp_status", "error_code", "info", "status_time"],
    )


async def unclaimed_attempts(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert connection attempts; `attempts` in a row is how many it folds together."""
    await upsert(
        session,
        UNCLAIMED,
        rows,
        ["identity"],
        {
            "last_attempt_time": lambda ex: ex.last_attempt_time,
            "remote_address": lambda ex: ex.remote_address,
            "protocol": lambda ex: ex.protocol,
            "listener": lambda ex: ex.listener,
            "attempts": lambda ex: UNCLAIMED.c.attempts + ex.attempts,
        },
    )


async def add_notice(session: AsyncSession, row: Mapping[str, Any]) -> None:
    """Insert one station notice."""
    await session.execute(NOTICES.insert(), [dict(row)])


MESSAGE_COLUMNS = (
    "identity",
    "time",
    "direction",
    "message_type",
    "message_id",
    "action",
    "payload",
    "error",
    "error_code",
    "error_description",
    "trace_id",
)


async def add_messages(session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk-insert log lines: tuples in MESSAGE_COLUMNS order, already in the driver's terms
    (payload as JSON text; on SQLite the time as SQLAlchemy stores it, see `logstore`).

    One driver-level executemany, so one await for the whole batch: the writer shares the event
    loop with the stations, and under load every await waits a full turn of a busy loop
    (SQLAlchemy's insertmanyvalues would take one per ~90 rows on SQLite)."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.paramstyle == "numeric_dollar":  # asyncpg
        marks = ", ".join(f"${n}" for n in range(1, len(MESSAGE_COLUMNS) + 1))
    else:
        marks = ", ".join("?" for _ in MESSAGE_COLUMNS)
    sql = f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({marks})"
    await connection.exec_driver_sql(sql, list(rows))


async def purge_messages(session: AsyncSession, before: dt.datetime) -> int:
    """Delete log lines older than `before`; returns how many."""
    result = await session.execute(delete(MESSAGES).where(MESSAGES.c.time < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- reads ----------------------------------------------------------------------------------


async def get_station(session: AsyncSession, identity: str) -> Station | None:
    """One station row."""
    return await session.get(Station, identity)


async def connectors_of(session: AsyncSession, identities: Sequence[str]) -> dict[str, list[ConnectorStatus]]:
    """Connector statuses of these stations, ordered by (evse, connector)."""
    result: dict[str, list[ConnectorStatus]] = {i: [] for i in identities}
    if not identities:
        return result
    rows = await session.scalars(
        select(ConnectorStatus)
        .where(ConnectorStatus.identity.in_(identities))
        .order_by(ConnectorStatus.identity, ConnectorStatus.evse_id, ConnectorStatus.connector_id)
    )
    for row in rows:
        result[row.identity].append(row)
    return result


async def list_stations(session: AsyncSession, where: ColumnElement[bool], limit: int) -> list[Station]:
    """Stations matching `where` (scope, filter and page key), by identity."""
    stmt = select(Station).where(where).order_by(Station.identity).limit(limit)
    return list(await session.scalars(stmt))


async def list_messages(
    session: AsyncSession, where: ColumnElement[bool], before_id: int | None, limit: int
) -> list[Message]:
    """Log lines matching `where`, newest first (by id), before the page key."""
    stmt = select(Message).where(where)
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    return list(await session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))


def station_in(scope_filter: ColumnElement[bool]) -> ColumnElement[bool]:
    """Log lines of the stations inside a scope filter over `Station.owner_path`."""
    return Message.identity.in_(select(Station.identity).where(scope_filter))


async def list_unclaimed(
    session: AsyncSession, where: ColumnElement[bool], limit: int
) -> list[UnclaimedConnection]:
    """Unclaimed connection attempts matching `where` (filter and page key), by identity."""
    stmt = select(UnclaimedConnection).where(where).order_by(UnclaimedConnection.identity).limit(limit)
    return list(await session.scalars(stmt))


async def get_unclaimed(session: AsyncSession, identity: str) -> UnclaimedConnection | None:
    """One identity's unclaimed attempts."""
    return await session.get(UnclaimedConnection, identity)
