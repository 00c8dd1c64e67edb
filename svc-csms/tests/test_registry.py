"""The persistent station registry with real stations: connectivity, boots, statuses, heartbeats,
unclaimed attempts and notices land in the database (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import ConnectorStatus, Station, StationNotice, UnclaimedConnection
from wattlane.csms.providers.interfaces import StationOwner
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.registry import repository
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually_async, running_csms
from wattlane.simulator.station import SimStation

OWNER = StationOwner("org1", "/op/p1/c1/org1/")


@pytest.fixture
async def stored(databases: DatabaseFactory) -> AsyncIterator[RunningCsms]:
    """A CSMS on a fresh database: CS001 (1.6) and CS201 (2.0.1) registered, owned by OWNER."""
    db = Database(await databases.create("csms"))
    memory: MemoryProviders = memory_providers()
    storage = Storage.build(
        db,
        memory.stations,
        memory.access,
        process="test-process",
        log_flush_interval=0.05,
        registry_flush_interval=0.05,
    )
    await storage.start()
    memory.stations.add("CS201", DEFAULT_PASSWORD, owner=OWNER)
    memory.stations.add("CS001", DEFAULT_PASSWORD, owner=OWNER)
    try:
        async with running_csms(memory=memory, storage=storage, stations={}) as running:
            yield running
    finally:
        await storage.close()
        await db.dispose()


async def _station(db: Database, identity: str) -> Station | None:
    async with db.reader() as session:
        return await repository.get_station(session, identity)


async def test_a_station_is_online_with_its_boot_connectors_and_last_seen(stored: RunningCsms) -> None:
    assert stored.storage is not None
    db = stored.storage.db
    station = SimStation("CS201", stored.url, protocol="ocpp2.0.1", password=DEFAULT_PASSWORD)
    await station.connect()
    assert (await station.boot(vendor="Wattlane", model="Sim-2", serial_number="SN-7"))[
        "status"
    ] == "Accepted"
    await station.status(1, "Occupied")
    await station.heartbeat()

    async def ready() -> bool:
        row = await _station(db, "CS201")
        async with db.reader() as session:
            connectors = (await repository.connectors_of(session, ["CS201"]))["CS201"]
        return row is not None and row.online and bool(connectors) and row.last_seen_time is not None

    await eventually_async(ready, what="station CS201 online with a connector")
    row = await _station(db, "CS201")
    assert row is not None
    assert (row.owner_id, row.owner_path, row.protocol) == ("org1", OWNER.owner_path, "ocpp2.0.1")
    assert (row.vendor, row.model, row.connected_process) == ("Wattlane", "Sim-2", "test-process")
    assert row.boot_accepted is True
    async with db.reader() as session:
        connector = (await session.scalars(select(ConnectorStatus))).one()
    assert (connector.evse_id, connector.connector_id, connector.status, connector.ocpp_status) == (
        1,
        1,
        "occupied",
        "Occupied",
    )

    await station.close()

    async def offline() -> bool:
        row = await _station(db, "CS201")
        return row is not None and not row.online and row.connected_process == ""

    await eventually_async(offline, what="station CS201 offline after its socket closed")


async def test_a_newer_connection_keeps_the_station_online(stored: RunningCsms) -> None:
    assert stored.storage is not None
    first = SimStation("CS001", stored.url, password=DEFAULT_PASSWORD)
    await first.connect()
    second = SimStation("CS001", stored.url, password=DEFAULT_PASSWORD)
    await second.connect()
    await first.wait_closed()
    await second.boot()
    await stored.storage.registry.writer.flush()
    row = await _station(stored.storage.db, "CS001")
    assert row is not None and row.online and row.boot_time is not None
    await second.close()


async def test_unknown_stations_are_recorded_as_unclaimed_attempts(stored: RunningCsms) -> None:
    assert stored.storage is not None
    for _ in range(3):
        stranger = SimStation("NEW-1", stored.url, protocol="ocpp2.0.1", password="whatever-password")
        with pytest.raises(Exception, match="404"):
            await stranger.connect()
    await stored.storage.registry.writer.flush()
    async with stored.storage.db.reader() as session:
        attempt = await session.get(UnclaimedConnection, "NEW-1")
    assert attempt is not None
    assert (attempt.attempts, attempt.protocol) == (3, "ocpp2.0.1")
    assert attempt.remote_address.startswith("127.0.0.1:")
    assert attempt.first_attempt_time <= attempt.last_attempt_time


async def test_notices_are_written_through(stored: RunningCsms) -> None:
    assert stored.storage is not None
    station = SimStation("CS001", stored.url, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    await station.call("FirmwareStatusNotification", {"status": "Downloading"})
    await station.call(
        "SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": "2026-11-22T06:00:00Z"}
    )
    async with stored.storage.db.reader() as session:
        notices = list(await session.scalars(select(StationNotice).order_by(StationNotice.id)))
    assert [(n.kind, n.value) for n in notices] == [
        ("firmware_status", "Downloading"),
        ("security_event", "FirmwareUpdated"),
    ]
    await station.close()


async def test_silent_stations_and_a_restarted_process_are_marked_offline(stored: RunningCsms) -> None:
    assert stored.storage is not None
    registry = stored.storage.registry
    station = SimStation("CS001", stored.url, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    await registry.writer.flush()
    assert await registry.mark_silent(3600) == 0
    assert await registry.mark_silent(-1) == 1  # nothing is recent enough for a negative allowance
    row = await _station(registry.db, "CS001")
    assert row is not None and not row.online and row.disconnect_reason == "silent"
    await station.close()


async def test_open_connections_are_touched_so_a_sweep_keeps_them_online(stored: RunningCsms) -> None:
    assert stored.storage is not None
    registry = stored.storage.registry
    station = SimStation("CS001", stored.url, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    await registry.writer.flush()
    later = utcnow() + timedelta(hours=1)  # as if the station sent frames (not heartbeats) until now
    registry.touch([("CS001", later)])
    await registry.writer.flush()
    assert await registry.mark_silent(1800) == 0  # seen "an hour from now": not silent
    row = await _station(registry.db, "CS001")
    assert row is not None and row.online and row.last_seen_time == later
    await station.close()
