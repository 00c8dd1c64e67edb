"""Costs on the station (issue 11): simulated stations see the running cost during a session and
the final cost at its end, equal to what pricing says; billing down or slow never holds a reply
back nor fails a transaction, and such a session shows no cost.

OCPP 2.0.1: `totalCost` in the TransactionEventResponse to Updated / Ended and CostUpdated calls
(TC_I_xx "Show EV Driver Running Total Cost During Charging" / "Final Total Cost After Charging").
OCPP 1.6: the OCA California pricing DataTransfer messages RunningCost / FinalCost to stations
that show prices. Every CSMS→station frame is checked against its schema before it is sent
(`StationConnection.call`), and every reply with `validate_responses`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.protocol.clock import ocpp_time
from wattlane.csms.protocol.costs import COSTMSG_VENDOR, running_cost_data
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    MeterSample,
    SessionCost,
    SessionToPrice,
)
from wattlane.csms.providers.memory import FlatTariff, InMemoryPricing, MemoryProviders, memory_providers
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation, default_handlers

TARIFF = "tariffs/standard"
PRICED = AccessDecision(AccessStatus.ACCEPTED, payer="cardholder", rate_plan=TARIFF)
UNPRICED = AccessDecision(AccessStatus.ACCEPTED, payer="free")
# 0.39 per kWh and 0.35 per session, VAT included.
PRICES = FlatTariff("EUR", Decimal("0.39"), Decimal("0.35"))
# A generous pricing timeout: the in-memory pricing answers at once, but a loaded test machine
# may take a while to read the stored session.
FAST = CsmsOptions(
    validate_responses=True, cost_update_interval=0.2, pricing_timeout=3.0, pricing_backoff=0.3
)
SLOW_BILLING = 30.0  # seconds the slow pricing takes: far beyond any timeout here


def _memory(pricing: InMemoryPricing | None = None) -> MemoryProviders:
    memory = memory_providers(log_flush_interval=0.05)
    memory.access.set("PRICED", PRICED)
    memory.access.set("FREE", UNPRICED)
    memory.pricing = pricing if pricing is not None else InMemoryPricing({TARIFF: PRICES})
    return memory


@pytest.fixture
async def priced() -> AsyncIterator[RunningCsms]:
    """A CSMS whose pricing knows TARIFF; running costs every 0.2 s."""
    async with running_csms(memory=_memory(), options=FAST) as running:
        yield running


async def _station(running: RunningCsms, protocol: str, identity: str = "CS001") -> SimStation:
    station = SimStation(
        identity,
        running.url,
        protocol=protocol,
        password=DEFAULT_PASSWORD,
        handlers=default_handlers(protocol),
    )
    await station.connect()
    await station.boot()
    return station


_readings = itertools.count()
_EPOCH = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def _energy(wh: int) -> dict[str, object]:
    """A 2.0.1 energy reading, each one a second later than the one before (a sample is keyed by
    its time: two in the same millisecond would be one)."""
    at = _EPOCH + dt.timedelta(seconds=next(_readings))
    return messages.sampled_meter_value(messages.V201, wh, timestamp=ocpp_time(at))


def _cost(kwh: str) -> float:
    """What PRICES charges for `kwh`, rounded to the cent as stations show it."""
    return float((PRICES.flat_fee + PRICES.kwh_price * Decimal(kwh)).quantize(Decimal("0.01")))


# -- OCPP 2.0.1 ----------------------------------------------------------------------------------


async def test_201_running_and_final_cost(priced: RunningCsms) -> None:
    station = await _station(priced, messages.V201)
    started = await station.transaction_event(
        "Started", "tx-1", evse_id=1, id_token="PRICED", meter_values=[_energy(1000)]
    )
    assert started is not None and "totalCost" not in started  # nothing to show yet at the start
    updated = await station.transaction_event(
        "Updated", "tx-1", trigger="MeterValuePeriodic", meter_values=[_energy(11_000)]
    )
    assert updated is not None and updated["totalCost"] == _cost("10")  # 0.35 + 10 kWh * 0.39 = 4.25
    # CostUpdated follows at the interval with the running total (one before the Updated event,
    # on a slow machine, shows the flat fee alone).
    await eventually(
        lambda: _cost("10") in [c.cost for c in station.costs_of("tx-1", "CostUpdated")],
        timeout=3,
        what="CostUpdated",
    )
    assert {c.cost for c in station.costs_of("tx-1", "CostUpdated")} <= {_cost("0"), _cost("10")}
    ended = await station.transaction_event(
        "Ended", "tx-1", trigger="StopAuthorized", stopped_reason="Local", meter_values=[_energy(23_345)]
    )
    assert ended is not None and ended["totalCost"] == _cost("22.345") == 9.06
    # The final cost is what pricing gives for the stored session, and running costs stop.
    session, until = priced.memory.pricing.calls[-1]  # type: ignore[union-attr]
    assert session.stop_time == until and session.tariff == TARIFF
    await asyncio.sleep(0.6)  # one priced just before the end may still arrive meanwhile
    shown = len(station.costs_of("tx-1", "CostUpdated"))
    await asyncio.sleep(0.6)  # three intervals
    assert len(station.costs_of("tx-1", "CostUpdated")) == shown
    assert priced.csms.costs is not None and priced.csms.costs.following == 0
    await station.close()


async def test_201_session_without_tariff_shows_no_cost(priced: RunningCsms) -> None:
    station = await _station(priced, messages.V201)
    await station.transaction_event("Started", "tx-2", evse_id=1, id_token="FREE", meter_values=[_energy(0)])
    updated = await station.transaction_event("Updated", "tx-2", meter_values=[_energy(5000)])
    await asyncio.sleep(0.5)
    ended = await station.transaction_event(
        "Ended", "tx-2", stopped_reason="Local", meter_values=[_energy(6000)]
    )
    assert updated == {} and ended == {}
    assert station.shown_costs == [] and priced.memory.pricing.calls == []  # type: ignore[union-attr]
    await station.close()


@pytest.mark.parametrize("outage", ["down", "slow"])
async def test_201_billing_down_or_slow_never_holds_the_session_back(outage: str) -> None:
    pricing = InMemoryPricing(
        {TARIFF: PRICES}, available=outage != "down", delay=SLOW_BILLING if outage == "slow" else 0
    )
    memory = _memory(pricing)
    options = dataclasses.replace(FAST, pricing_timeout=0.5)
    async with running_csms(memory=memory, options=options) as running:
        station = await _station(running, messages.V201)
        await station.transaction_event(
            "Started", "tx-3", evse_id=1, id_token="PRICED", meter_values=[_energy(0)]
        )
        began = time.monotonic()
        updated = await station.transaction_event("Updated", "tx-3", meter_values=[_energy(4000)])
        ended = await station.transaction_event(
            "Ended", "tx-3", stopped_reason="Local", meter_values=[_energy(7000)]
        )
        waited = time.monotonic() - began
        # Answered without a cost, the first within the pricing timeout, the second at once
        # (no price is asked for a while after a failure).
        assert updated == {} and ended == {}
        assert waited < SLOW_BILLING / 3  # bounded by the pricing timeout, not billing
        assert station.shown_costs == []
        # The transaction is stored and ended all the same.
        (stored,) = memory.transactions.by_id.values()
        assert stored.end is not None and memory.transactions.completed == [stored.id]
        await station.close()


async def test_201_costs_come_back_with_billing() -> None:
    pricing = InMemoryPricing({TARIFF: PRICES}, available=False)
    async with running_csms(memory=_memory(pricing), options=FAST) as running:
        station = await _station(running, messages.V201)
        await station.transaction_event(
            "Started", "tx-4", evse_id=1, id_token="PRICED", meter_values=[_energy(0)]
        )
        assert await station.transaction_event("Updated", "tx-4", meter_values=[_energy(1000)]) == {}
        pricing.available = True
        await eventually(
            lambda: bool(station.costs_of("tx-4", "CostUpdated")), timeout=3, what="running cost"
        )
        assert station.costs_of("tx-4", "CostUpdated")[-1].cost == _cost("1")
        await station.close()


async def test_201_final_cost_from_the_database_store(databases: DatabaseFactory) -> None:
    db = Database(await databases.create("costs"))
    memory = _memory()
    storage = Storage.build(db, memory.stations, memory.access, process="p", log_flush_interval=0.05)
    await storage.start()
    try:
        async with running_csms(memory=memory, storage=storage, options=FAST) as running:
            station = await _station(running, messages.V201)
            await station.transaction_event(
                "Started", "tx-5", evse_id=1, id_token="PRICED", meter_values=[_energy(500)]
            )
            # An Updated event without a token still finds the tariff recorded at the start.
            updated = await station.transaction_event("Updated", "tx-5", meter_values=[_energy(2500)])
            ended = await station.transaction_event(
                "Ended", "tx-5", stopped_reason="Local", meter_values=[_energy(12_500)]
            )
            assert updated is not None and updated["totalCost"] == _cost("2")
            assert ended is not None and ended["totalCost"] == _cost("12")
            await station.close()
    finally:
        await storage.close()
        await db.dispose()


# -- OCPP 1.6: California pricing ---------------------------------------------------------------


async def test_16_running_and_final_cost_to_a_station_that_shows_prices(priced: RunningCsms) -> None:
    station = await _station(priced, messages.V16)
    transaction_id = await station.start_transaction(1, "PRICED", 1000)
    await asyncio.sleep(0.01)  # OCPP times have milliseconds: a sample in the start's is dropped
    await station.meter_values(1, transaction_id, 6000, power_w=7400)
    # Running costs come at the interval; once the meter value is in, they show its 5 kWh.
    await eventually(
        lambda: any(c.payload["meterValue"] == 6000 for c in station.costs_of(transaction_id, "RunningCost")),
        timeout=3,
        what="RunningCost",
    )
    # The CSMS asked the station whether it shows prices (its own configuration key), once.
    asked = [p for a, p in station.received_calls if a == "GetConfiguration"]
    assert asked == [{"key": ["CustomDisplayCostAndPrice"]}]
    running = station.costs_of(transaction_id, "RunningCost")[-1]
    assert running.cost == _cost("5")
    assert running.payload["meterValue"] == 6000 and running.payload["state"] == "Charging"
    assert running.payload["chargingPrice"] == {"kWhPrice": 0.39, "hourPrice": 0.0, "flatFee": 0.35}
    await station.stop_transaction(transaction_id, 16_000)
    await eventually(lambda: bool(station.costs_of(transaction_id, "FinalCost")), timeout=3, what="FinalCost")
    (final,) = station.costs_of(transaction_id, "FinalCost")
    assert final.cost == _cost("15") == 6.2
    assert final.payload["priceText"] == "EUR 6.20 for 15.000 kWh"
    transfers = [p for a, p in station.received_calls if a == "DataTransfer"]
    assert {p["vendorId"] for p in transfers} == {COSTMSG_VENDOR}
    assert all(isinstance(p["data"], str) for p in transfers)  # 1.6 DataTransfer data is text
    await station.close()


async def test_16_station_that_shows_no_prices_gets_no_cost_messages(priced: RunningCsms) -> None:
    station = SimStation(
        "CS001", priced.url, password=DEFAULT_PASSWORD, handlers=default_handlers(messages.V16)
    )
    station.displays_costs = False
    await station.connect()
    await station.boot()
    transaction_id = await station.start_transaction(1, "PRICED", 0)
    await station.meter_values(1, transaction_id, 3000)
    await asyncio.sleep(0.6)
    await station.stop_transaction(transaction_id, 4000)
    await asyncio.sleep(0.3)
    assert [a for a, _ in station.received_calls] == ["GetConfiguration"]  # asked once per boot
    assert station.shown_costs == []
    await station.close()


async def test_16_stations_opted_in_by_pattern_are_not_asked() -> None:
    options = CsmsOptions(
        validate_responses=True, cost_update_interval=0.2, pricing_timeout=3.0, cost_display_pattern="CS0.*"
    )
    async with running_csms(memory=_memory(), options=options) as running:
        station = await _station(running, messages.V16)
        transaction_id = await station.start_transaction(1, "PRICED", 0)
        await station.stop_transaction(transaction_id, 2000)
        await eventually(
            lambda: bool(station.costs_of(transaction_id, "FinalCost")), timeout=3, what="FinalCost"
        )
        assert station.costs_of(transaction_id, "FinalCost")[0].cost == _cost("2")
        assert "GetConfiguration" not in [a for a, _ in station.received_calls]
        await station.close()


async def test_16_billing_down_stops_nothing() -> None:
    pricing = InMemoryPricing({TARIFF: PRICES}, available=False)
    memory = _memory(pricing)
    async with running_csms(memory=memory, options=FAST) as running:
        station = await _station(running, messages.V16)
        transaction_id = await station.start_transaction(1, "PRICED", 0)
        await station.meter_values(1, transaction_id, 3000)
        await asyncio.sleep(0.5)
        stopped = await station.stop_transaction(transaction_id, 4000)
        assert stopped == {}
        await asyncio.sleep(0.3)
        assert station.shown_costs == []
        assert memory.transactions.by_id[transaction_id].end is not None
        await station.close()


async def test_no_pricing_means_no_cost_machinery(csms: RunningCsms) -> None:
    assert csms.csms.costs is None
    station = await _station(csms, messages.V201)
    csms.memory.access.set("PRICED", PRICED)
    await station.transaction_event(
        "Started", "tx-6", evse_id=1, id_token="PRICED", meter_values=[_energy(0)]
    )
    assert await station.transaction_event("Ended", "tx-6", stopped_reason="Local") == {}
    assert station.shown_costs == []
    await station.close()


async def test_201_station_without_cost_updated_is_not_asked_again_until_it_boots(
    priced: RunningCsms,
) -> None:
    station = SimStation(
        "CS001", priced.url, protocol=messages.V201, password=DEFAULT_PASSWORD
    )  # no handlers
    await station.connect()
    await station.boot()
    await station.transaction_event(
        "Started", "tx-7", evse_id=1, id_token="PRICED", meter_values=[_energy(0)]
    )
    await eventually(lambda: len(station.received_calls) == 1, timeout=3, what="a CostUpdated")
    await asyncio.sleep(0.6)  # three more intervals
    assert [a for a, _ in station.received_calls] == ["CostUpdated"]  # answered NotImplemented once
    updated = await station.transaction_event("Updated", "tx-7", meter_values=[_energy(2000)])
    assert updated is not None and updated["totalCost"] == _cost("2")  # the replies still show it
    await station.boot()  # new firmware, perhaps: asked again
    await eventually(lambda: len(station.received_calls) == 2, timeout=3, what="CostUpdated after the boot")
    await station.close()


async def test_16_unpriced_sessions_do_not_ask_the_station(priced: RunningCsms) -> None:
    station = await _station(priced, messages.V16)
    transaction_id = await station.start_transaction(1, "FREE", 0)
    await station.meter_values(1, transaction_id, 3000)
    await asyncio.sleep(0.6)
    await station.stop_transaction(transaction_id, 4000)
    await asyncio.sleep(0.3)
    assert station.received_calls == [] and station.shown_costs == []
    await station.close()


def test_running_cost_data_says_idle_while_parked() -> None:
    at = dt.datetime(2026, 12, 7, 18, tzinfo=dt.UTC)
    session = SessionToPrice(
        3,
        TARIFF,
        "",
        at - dt.timedelta(hours=2),
        meter_start_wh=0,
        samples=(MeterSample(at - dt.timedelta(hours=1), energy_wh=9000),),
        charging_states=((at - dt.timedelta(hours=2), True), (at - dt.timedelta(minutes=30), False)),
    )
    cost = SessionCost("EUR", Decimal("3.855"), 9000, Decimal("0.39"), None, Decimal("0.35"))
    data = orjson.loads(running_cost_data(3, session, cost, at))
    assert data == {
        "transactionId": 3,
        "timestamp": "2026-12-07T18:00:00.000Z",
        "meterValue": 9000,
        "cost": 3.86,  # rounded half up to the cent
        "state": "Idle",
        "chargingPrice": {"kWhPrice": 0.39, "flatFee": 0.35},
    }
    charging = orjson.loads(running_cost_data(3, session, cost, at - dt.timedelta(hours=1)))
    assert charging["state"] == "Charging"
