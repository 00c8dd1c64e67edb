"""Transactions with real stations on a real database (SQLite, or PostgreSQL in CI): 1.6
StartTransaction / MeterValues / StopTransaction and 2.0.1 TransactionEvent land in one model,
repeats create nothing new, offline queues replay without duplicates, ids survive restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import MeterValue, Transaction, TransactionOutbox
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus, StationOwner
from wattlane.csms.providers.memory import MemoryProviders, memory_providers
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, running_csms
from wattlane.csms.transactions import repository as transaction_rows
from wattlane.simulator import messages
from wattlane.simulator.station import SimCallError, SimStation

OWNER = StationOwner("org1", "/op/p1/c1/org1/", location_id="loc1", charging_point_id="cp1")
CARD = AccessDecision(
    AccessStatus.ACCEPTED,
    payer="cardholder",
    card="cards/card7",
    card_owner="tenants/org9",
    card_owner_path="/op/p2/c5/org9/",
    cardholder="users/u3",
    rate_plan="tariffs/standard",
)


def _memory() -> MemoryProviders:
    memory = memory_providers()
    memory.stations.add("CS001", DEFAULT_PASSWORD, owner=OWNER)
    memory.stations.add("CS201", DEFAULT_PASSWORD, owner=OWNER)
    memory.access.set("CARD7", CARD)
    return memory


async def _running(db: Database, memory: MemoryProviders) -> AsyncIterator[RunningCsms]:
    storage = Storage.build(
        db, memory.stations, memory.access, process="p", log_flush_interval=0.05, registry_flush_interval=0.05
    )
    await storage.start()
    try:
        async with running_csms(memory=memory, storage=storage, stations={}) as running:
            yield running
    finally:
        await storage.close()


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("tx"))
    yield database
    await database.dispose()


@pytest.fixture
async def stored(db: Database) -> AsyncIterator[RunningCsms]:
    """A CSMS on a fresh database: CS001 (1.6) and CS201 (2.0.1) owned by OWNER, card CARD7."""
    async for running in _running(db, _memory()):
        yield running


async def _station(running: RunningCsms, identity: str, protocol: str = messages.V16) -> SimStation:
    station = SimStation(identity, running.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    return station


async def _rows(db: Database) -> tuple[list[Transaction], list[MeterValue], list[TransactionOutbox]]:
    async with db.reader() as session:
        return (
            list(await session.scalars(select(Transaction).order_by(Transaction.id))),
            list(
                await session.scalars(select(MeterValue).order_by(MeterValue.transaction_id, MeterValue.time))
            ),
            list(await session.scalars(select(TransactionOutbox))),
        )


async def test_a_16_transaction_is_stored_with_its_tenancy_meter_values_and_outbox_row(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS001")
    transaction_id = await station.start_transaction(1, "CARD7", 1000)
    assert transaction_id > 0
    await station.meter_values(1, transaction_id, 2500, power_w=11000)
    await station.meter_values(1, transaction_id, 4000, power_w=7000)
    assert await station.stop_transaction(transaction_id, 5200, reason="EVDisconnected") == {}
    await station.close()

    (row,), samples, outbox = await _rows(db)
    assert row.id == transaction_id
    assert (row.identity, row.protocol, row.evse_id, row.connector_id, row.id_token) == (
        "CS001",
        "ocpp1.6",
        1,
        1,
        "CARD7",
    )
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh, row.stop_reason) == (
        1000,
        5200,
        4200,
        "EVDisconnected",
    )
    assert row.stop_time is not None and row.stop_time >= row.start_time
    assert (row.owner_id, row.owner_path, row.location_id, row.charging_point_id) == (
        "org1",
        OWNER.owner_path,
        "loc1",
        "cp1",
    )
    assert (row.card_id, row.card_owner_id, row.card_owner_path, row.cardholder_id) == (
        "card7",
        "org9",
        "/op/p2/c5/org9/",
        "u3",
    )
    assert (row.payer, row.rate_plan, row.authorization_status) == (
        "cardholder",
        "tariffs/standard",
        "accepted",
    )
    assert [(s.energy_wh, s.power_w) for s in samples] == [(2500, 11000), (4000, 7000)]
    assert [o.transaction_id for o in outbox] == [transaction_id]


async def test_repeated_16_start_and_stop_create_nothing_new_and_are_answered(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS001")
    start = messages.start_transaction(1, "CARD7", 10, timestamp="2026-11-22T08:00:00.000Z")
    first = await station.call("StartTransaction", start)
    again = await station.call("StartTransaction", start)
    assert first == again and first["idTagInfo"]["status"] == "Accepted"
    other = await station.call("StartTransaction", {**start, "meterStart": 11})  # a new session
    assert other["transactionId"] != first["transactionId"]
    stop = messages.stop_transaction(first["transactionId"], 500, id_tag="CARD7")
    assert (await station.call("StopTransaction", stop))["idTagInfo"]["status"] == "Accepted"
    assert (await station.call("StopTransaction", {**stop, "meterStop": 999}))["idTagInfo"][
        "status"
    ] == "Accepted"
    await station.close()

    rows, _, outbox = await _rows(db)
    assert len(rows) == 2
    assert rows[0].meter_stop_wh == 500  # the first stop counts; the repeat changed nothing
    assert len(outbox) == 1


async def test_a_stop_or_meter_values_for_an_unknown_or_foreign_transaction_is_answered(
    stored: RunningCsms, db: Database
) -> None:
    other = await _station(stored, "CS201", messages.V16)
    foreign = await other.start_transaction(1, "CARD7", 0)
    station = await _station(stored, "CS001")
    assert await station.stop_transaction(foreign, 100) == {}
    assert await station.stop_transaction(987654, 100) == {}
    assert await station.meter_values(1, foreign, 50) == {}
    await station.close()
    await other.close()
    rows, samples, outbox = await _rows(db)
    assert [r.stop_time for r in rows] == [None]  # CS201's transaction is untouched
    assert (samples, outbox) == ([], [])


async def test_a_201_transaction_is_reconciled_into_the_same_model(stored: RunningCsms, db: Database) -> None:
    station = await _station(stored, "CS201", messages.V201)
    begin = messages.sampled_meter_value(messages.V201, 300, context="Transaction.Begin")
    started = await station.transaction_event(
        "Started", "tx-201-a", evse_id=2, id_token="CARD7", meter_values=[begin]
    )
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    middle = messages.sampled_meter_value(messages.V201, 1300, power_w=22000, soc=55)
    assert (
        await station.transaction_event(
            "Updated", "tx-201-a", trigger="MeterValuePeriodic", meter_values=[middle]
        )
        == {}
    )
    final = messages.sampled_meter_value(messages.V201, 2300, context="Transaction.End")
    ended = messages.transaction_event(
        "Ended",
        "tx-201-a",
        2,
        trigger="EVCommunicationLost",
        meter_values=[final],
        stopped_reason="EVDisconnected",
    )
    assert await station.call("TransactionEvent", ended) == {}
    assert await station.call("TransactionEvent", ended) == {}  # a resent Ended: answered, nothing new
    await station.close()

    (row,), samples, outbox = await _rows(db)
    assert (row.protocol, row.station_transaction_id, row.evse_id, row.id_token) == (
        "ocpp2.0.1",
        "tx-201-a",
        2,
        "CARD7",
    )
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh, row.stop_reason) == (
        300,
        2300,
        2000,
        "EVDisconnected",
    )
    assert row.card_owner_path == "/op/p2/c5/org9/"
    assert [(s.energy_wh, s.power_w, s.soc_percent) for s in samples] == [
        (300, None, None),
        (1300, 22000, 55.0),
        (2300, None, None),
    ]
    assert len(outbox) == 1


async def test_an_offline_queue_replays_after_reconnecting_without_duplicates(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS001")
    await station.close()
    local = await station.start_transaction(1, "CARD7", 0)
    assert local < 0  # queued: the station does not know the CSMS's id yet
    await station.meter_values(1, local, 700)
    await station.stop_transaction(local, 1500, reason="Local")
    assert len(station.offline_queue) == 3

    queued = list(station.offline_queue)
    await station.connect()
    answers = await station.replay_queue()
    assert [set(a) for a in answers] == [{"idTagInfo", "transactionId"}, set(), set()]
    # Suppose the link dropped before those answers arrived: the station sends it all again.
    station.offline_queue = queued
    again = await station.replay_queue()
    assert again[0]["transactionId"] == answers[0]["transactionId"]
    await station.close()

    rows, samples, outbox = await _rows(db)
    assert len(rows) == 1 and rows[0].energy_wh == 1500
    assert [s.energy_wh for s in samples] == [700]
    assert len(outbox) == 1


async def test_transaction_ids_come_from_the_database_and_survive_a_restart(db: Database) -> None:
    async for running in _running(db, _memory()):
        station = await _station(running, "CS001")
        first = await station.start_transaction(1, "CARD7", 0)
        await station.close()
    async for running in _running(db, _memory()):
        station = await _station(running, "CS001")
        second = await station.start_transaction(1, "CARD7", 5)
        await station.close()
    assert second > first
    async with db.reader() as session:
        assert await transaction_rows.count_rows(session, transaction_rows.TRANSACTIONS) == 2


async def test_schema_violations_in_transaction_messages_are_still_callerrors(stored: RunningCsms) -> None:
    v16 = await _station(stored, "CS001")
    with pytest.raises(SimCallError) as error:
        await v16.call("StartTransaction", {"connectorId": 1, "idTag": "CARD7", "timestamp": messages.now()})
    assert error.value.code == "OccurenceConstraintViolation"
    with pytest.raises(SimCallError) as error:
        await v16.call("StopTransaction", {"transactionId": "x", "meterStop": 1, "timestamp": messages.now()})
    assert error.value.code == "TypeConstraintViolation"
    v201 = await _station(stored, "CS201", messages.V201)
    bad = messages.transaction_event("Paused", "tx", 0)
    with pytest.raises(SimCallError) as error:
        await v201.call("TransactionEvent", bad)
    assert error.value.code == "PropertyConstraintViolation"
    await v16.close()
    await v201.close()


async def test_the_in_memory_store_answers_like_the_database(csms: RunningCsms) -> None:
    csms.memory.access.set("CARD7", CARD)
    station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.boot()
    first = await station.start_transaction(1, "CARD7", 0)
    assert await station.stop_transaction(first, 10) == {}
    assert await station.stop_transaction(first, 10) == {}
    await station.close()
    assert csms.memory.transactions.completed == [first]


async def test_a_201_session_authorized_after_it_started_gets_its_payer_then(
    stored: RunningCsms, db: Database
) -> None:
    station = await _station(stored, "CS201", messages.V201)
    assert await station.transaction_event("Started", "tx-plug", evse_id=1, trigger="CablePluggedIn") == {}
    authorized = await station.transaction_event("Updated", "tx-plug", id_token="CARD7")
    assert authorized == {"idTokenInfo": {"status": "Accepted"}}
    await station.transaction_event("Ended", "tx-plug", id_token="CARD7", stopped_reason="Local")
    await station.close()
    (row,), _, outbox = await _rows(db)
    assert (row.id_token, row.authorization_status, row.card_owner_path, row.payer) == (
        "CARD7",
        "accepted",
        "/op/p2/c5/org9/",
        "cardholder",
    )
    assert len(outbox) == 1
