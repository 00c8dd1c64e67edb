"""The same reactions seen where the platform keeps them: a CSMS on a database (SQLite, or
PostgreSQL with WATTLANE_TEST_DATABASE_URL) stores the remote start's transaction and its remote
stop, the connector Unavailable after ChangeAvailability, and the station online again after
another connection displaced it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import ConnectorStatus, Station, Transaction
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus, StationOwner
from wattlane.csms.providers.memory import memory_providers
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually_async, running_csms
from wattlane.simulator import messages
from wattlane.simulator.reconnect import Backoff, stay_connected
from wattlane.simulator.sessions import ConnectorRunner, SessionPlan
from wattlane.simulator.station import SimStation

OWNER = StationOwner("org1", "/op/p1/c1/org1/")
FAST = Backoff(first=0.05, cap=0.5)
LONG = SessionPlan("", kwh=20.0, charging_seconds=30.0, parked_seconds=5.0, sample_seconds=0.05)


@pytest.fixture
async def stored(databases: DatabaseFactory) -> AsyncIterator[RunningCsms]:
    """A CSMS on a fresh database with station CS001 (owned by OWNER) and card CARD1."""
    db = Database(await databases.create("simview"))
    memory = memory_providers()
    memory.stations.add("CS001", DEFAULT_PASSWORD, owner=OWNER)
    memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
    storage = Storage.build(
        db, memory.stations, memory.access, process="p", log_flush_interval=0.05, registry_flush_interval=0.05
    )
    await storage.start()
    try:
        async with running_csms(memory=memory, storage=storage, stations={}) as running:
            yield running
    finally:
        await storage.close()
        await db.dispose()


def _db(csms: RunningCsms) -> Database:
    assert csms.storage is not None
    return csms.storage.db


async def _transactions(csms: RunningCsms) -> list[Transaction]:
    async with _db(csms).reader() as session:
        return list(await session.scalars(select(Transaction).order_by(Transaction.id)))


async def _connector(csms: RunningCsms) -> ConnectorStatus | None:
    async with _db(csms).reader() as session:
        return (
            await session.scalars(select(ConnectorStatus).where(ConnectorStatus.identity == "CS001"))
        ).first()


async def _online(csms: RunningCsms) -> bool:
    async with _db(csms).reader() as session:
        station = await session.get(Station, "CS001")
    return station is not None and station.online


@pytest.mark.parametrize("protocol", [messages.V16, messages.V201])
async def test_reactions_land_in_the_stored_view(stored: RunningCsms, protocol: str) -> None:
    csms = stored
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    ConnectorRunner(station, remote_plan=LONG).attach()
    station.spawn(stay_connected(station, FAST, status="Available"))
    await eventually_async(lambda: _online(csms), what="online in the registry")

    # Remote start: a stored transaction with meter values; remote stop ends it.
    if protocol == messages.V16:
        start: tuple[str, dict[str, Any]] = ("RemoteStartTransaction", {"idTag": "CARD1"})
    else:
        start = (
            "RequestStartTransaction",
            {"idToken": {"idToken": "CARD1", "type": "ISO14443"}, "remoteStartId": 5},
        )
    assert (await csms.csms.registry.call("CS001", *start))["status"] == "Accepted"

    async def started() -> bool:
        return len(await _transactions(csms)) == 1

    await eventually_async(started, what="a stored transaction")
    (row,) = await _transactions(csms)
    assert row.id_token == "CARD1" and row.stop_time is None
    if protocol == messages.V16:
        stop: tuple[str, dict[str, Any]] = ("RemoteStopTransaction", {"transactionId": row.id})
    else:
        stop = ("RequestStopTransaction", {"transactionId": row.station_transaction_id})
    assert (await csms.csms.registry.call("CS001", *stop))["status"] == "Accepted"

    async def stopped() -> bool:
        rows = await _transactions(csms)
        return rows[0].stop_time is not None

    await eventually_async(stopped, what="the transaction stopped")
    (row,) = await _transactions(csms)
    assert row.stop_reason == "Remote"

    # ChangeAvailability Inoperative: the stored connector is unavailable.
    if protocol == messages.V16:
        inoperative: dict[str, Any] = {"connectorId": 1, "type": "Inoperative"}
    else:
        inoperative = {"operationalStatus": "Inoperative"}
    assert (await csms.csms.registry.call("CS001", "ChangeAvailability", inoperative))["status"] == "Accepted"

    async def unavailable() -> bool:
        connector = await _connector(csms)
        return connector is not None and connector.status == "unavailable"

    await eventually_async(unavailable, what="the connector unavailable in the registry")

    # Displaced by another connection with its identity: it comes back, online and still
    # unavailable (the status it reports again after reconnecting).
    first = station.ws
    intruder = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await intruder.connect()
    await intruder.wait_closed()

    async def back() -> bool:
        return station.ws is not first and station.connected and await _online(csms)

    await eventually_async(back, what="online again after being displaced")
    await eventually_async(unavailable, what="still unavailable")
    await station.close()
