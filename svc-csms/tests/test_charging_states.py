"""Charging ↔ parked changes of an active transaction (billing prices parking time) and the
location's time zone recorded at the start, with real stations on a real database: 1.6 from
StatusNotification, 2.0.1 from TransactionEvent's chargingState; only changes are kept, a repeat
changes nothing, nothing is recorded without an active transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import Transaction, TransactionChargingState
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    ChargingChange,
    StationOwner,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, running_csms
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation

OWNER = StationOwner("org1", "/op/p1/c1/org1/", location_id="loc1", charging_point_id="cp1")
CARD = AccessDecision(
    AccessStatus.ACCEPTED,
    payer="cardholder",
    card="cards/card7",
    card_owner="tenants/org9",
    card_owner_path="/op/p2/c5/org9/",
    cardholder="users/u3",
    rate_plan="tariffs/t1",
    time_zone="Europe/Amsterdam",
)
T0 = dt.datetime(2026, 12, 6, 17, 40, tzinfo=dt.UTC)


def _at(minutes: int) -> str:
    """OCPP time `minutes` after T0."""
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _memory() -> MemoryProviders:
    memory = memory_providers()
    memory.stations.add("CS001", DEFAULT_PASSWORD, owner=OWNER)
    memory.stations.add("CS201", DEFAULT_PASSWORD, owner=OWNER)
    memory.access.set("CARD7", CARD)
    return memory


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("states"))
    yield database
    await database.dispose()


@pytest.fixture
async def stored(db: Database) -> AsyncIterator[RunningCsms]:
    memory = _memory()
    storage = Storage.build(
        db, memory.stations, memory.access, process="p", log_flush_interval=0.05, registry_flush_interval=0.05
    )
    await storage.start()
    try:
        async with running_csms(memory=memory, storage=storage, stations={}) as running:
            yield running
    finally:
        await storage.close()


async def _station(running: RunningCsms, identity: str, protocol: str = messages.V16) -> SimStation:
    station = SimStation(identity, running.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    return station


async def _states(db: Database) -> list[tuple[int, dt.datetime, bool]]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(TransactionChargingState).order_by(
                TransactionChargingState.transaction_id, TransactionChargingState.time
            )
        )
        return [(r.transaction_id, r.time, r.charging) for r in rows]


async def test_16_status_notifications_record_the_active_transactions_changes(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS001")
    # Before any transaction: nothing to record it on (and the status is still answered).
    assert await station.status(1, "Charging", timestamp=_at(-5)) == {}
    start = messages.start_transaction(1, "CARD7", 0, timestamp=_at(0))
    transaction_id = (await station.call("StartTransaction", start))["transactionId"]
    other = (await station.call("StartTransaction", messages.start_transaction(2, "CARD7", 0, _at(0))))[
        "transactionId"
    ]
    assert await station.status(1, "Charging", timestamp=_at(1)) == {}
    assert await station.status(1, "Charging", timestamp=_at(2)) == {}  # no change: not kept
    assert await station.status(1, "SuspendedEV", timestamp=_at(30)) == {}
    assert await station.status(1, "SuspendedEV", timestamp=_at(30)) == {}  # a repeat
    assert await station.status(1, "SuspendedEVSE", timestamp=_at(35)) == {}  # parked still
    assert await station.status(1, "Charging", timestamp=_at(40)) == {}
    assert await station.status(1, "Preparing", timestamp=_at(41)) == {}  # says nothing about it
    assert await station.status(1, "Finishing", timestamp=_at(60)) == {}
    await station.call("StopTransaction", messages.stop_transaction(transaction_id, 9000, timestamp=_at(61)))
    assert await station.status(1, "Charging", timestamp=_at(70)) == {}  # ended: not recorded
    await station.close()

    assert await _states(db) == [
        (transaction_id, T0 + dt.timedelta(minutes=1), True),
        (transaction_id, T0 + dt.timedelta(minutes=30), False),
        (transaction_id, T0 + dt.timedelta(minutes=40), True),
        (transaction_id, T0 + dt.timedelta(minutes=60), False),
    ]
    assert other != transaction_id  # connector 2's transaction heard nothing of connector 1's


async def test_201_charging_state_is_recorded_from_transaction_events(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS201", messages.V201)
    await station.transaction_event(
        "Started", "tx-a", evse_id=1, id_token="CARD7", timestamp=_at(0), charging_state="EVConnected"
    )
    await station.transaction_event("Updated", "tx-a", timestamp=_at(2), charging_state="Charging")
    await station.transaction_event("Updated", "tx-a", timestamp=_at(20), trigger="MeterValuePeriodic")
    await station.transaction_event("Updated", "tx-a", timestamp=_at(45), charging_state="SuspendedEV")
    await station.transaction_event(
        "Updated", "tx-a", timestamp=_at(50), charging_state="Idle"
    )  # parked still
    await station.transaction_event("Ended", "tx-a", timestamp=_at(90), stopped_reason="EVDisconnected")
    await station.close()

    async with db.reader() as session:
        (row,) = await session.scalars(select(Transaction))
    assert row.time_zone == "Europe/Amsterdam"
    assert await _states(db) == [
        (row.id, T0, False),
        (row.id, T0 + dt.timedelta(minutes=2), True),
        (row.id, T0 + dt.timedelta(minutes=45), False),
    ]


async def test_the_in_memory_store_keeps_the_same_changes() -> None:
    memory = _memory()
    store = memory.transactions

    def change(minutes: int, charging: bool) -> TransactionChange:
        return TransactionChange(
            "CS001", charging=ChargingChange(T0 + dt.timedelta(minutes=minutes), charging, evse_id=1)
        )

    assert await store.record(change(0, True)) is None  # no active transaction
    start = TransactionStart("CS001", OcppVersion.V16, "k", 1, 1, "CARD7", "", T0, 0, CARD)
    transaction_id = await store.record(TransactionChange("CS001", start=start))
    for minutes, charging in ((1, True), (2, True), (30, False), (40, True)):
        assert await store.record(change(minutes, charging)) == transaction_id
    await store.record(
        TransactionChange("CS001", transaction_id=transaction_id, end=TransactionEnd(T0, 10, "Local"))
    )
    assert await store.record(change(70, False)) is None
    assert transaction_id is not None
    assert [(t - T0, c) for t, c in store.by_id[transaction_id].charging_states] == [
        (dt.timedelta(minutes=1), True),
        (dt.timedelta(minutes=30), False),
        (dt.timedelta(minutes=40), True),
    ]
