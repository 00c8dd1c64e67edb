"""Costs on the station with billing's real pricing: the real billing service (its database,
tariffs and PriceSession, scope `billing.pricing`) beside a CSMS process whose simulated 2.0.1 and
1.6 stations run priced sessions. What they are shown is billing's price of what the CSMS
stored: the running cost while charging and the final cost at the end."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal

import pytest

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.billing.service_testing import Billing, energy_tariff, start_billing
from wattlane.contracts import scopes
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.protocol.clock import ocpp_time
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.testing import eventually
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation, default_handlers

PASSWORD = "0123456789abcdef0123"
START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


def _incl_vat(kwh: str, price: str = "0.30", vat: str = "1.21") -> float:
    """An energy-only tariff's cost as a station shows it (to the cent)."""
    cost = Decimal(kwh) * Decimal(price) * Decimal(vat)
    return float(cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _at(minutes: int) -> str:
    return ocpp_time(START + dt.timedelta(minutes=minutes))


@pytest.fixture
async def world(databases: DatabaseFactory) -> AsyncIterator[tuple[Billing, CsmsService, str]]:
    """Billing with a tariff of 0.30/kWh + 21% VAT, and a CSMS pricing with it (card PRICED)."""
    billing = await start_billing(databases)
    billing.identity.service_account("csms", [scopes.BILLING_PRICING])
    tariff: tariffs_pb2.Tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff("0.30"))
    )
    csms = CsmsService(
        CsmsSettings(
            port=0,
            grpc_port=-1,
            metrics_port=-1,
            stations=(("CS201", PASSWORD), ("CS16", PASSWORD)),
            identity_address=billing.identity.target,
            client_id="csms",
            billing_address=billing.target,
            cost_update_interval=0.3,
            pricing_timeout=5.0,
            validate_responses=True,
        )
    )
    await csms.start()
    assert csms.memory is not None
    csms.memory.access.set("PRICED", AccessDecision(AccessStatus.ACCEPTED, rate_plan=tariff.name))
    try:
        yield billing, csms, tariff.name
    finally:
        await csms.stop()
        await billing.close()
        await billing.service.stop()
        await billing.csms.stop()
        await billing.identity.stop()


async def _station(csms: CsmsService, identity: str, protocol: str) -> SimStation:
    station = SimStation(
        identity,
        f"ws://127.0.0.1:{csms.port}/ocpp",
        protocol=protocol,
        password=PASSWORD,
        handlers=default_handlers(protocol),
    )
    await station.connect()
    await station.boot()
    return station


def _energy(wh: int, minutes: int) -> list[dict[str, object]]:
    return [messages.sampled_meter_value(messages.V201, wh, timestamp=_at(minutes))]


async def test_201_station_shows_billings_running_and_final_cost(
    world: tuple[Billing, CsmsService, str],
) -> None:
    _, csms, _ = world
    station = await _station(csms, "CS201", messages.V201)
    await station.transaction_event(
        "Started", "T1", evse_id=1, id_token="PRICED", meter_values=_energy(1000, 0), timestamp=_at(0)
    )
    updated = await station.transaction_event(
        "Updated", "T1", meter_values=_energy(6000, 20), timestamp=_at(20)
    )
    assert updated is not None and updated["totalCost"] == _incl_vat("5")  # 5 kWh: 1.815 → 1.82
    await eventually(lambda: bool(station.costs_of("T1", "CostUpdated")), timeout=5, what="CostUpdated")
    assert station.costs_of("T1", "CostUpdated")[-1].cost == _incl_vat("5")
    ended = await station.transaction_event(
        "Ended", "T1", stopped_reason="Local", meter_values=_energy(13_345, 40), timestamp=_at(40)
    )
    assert ended is not None and ended["totalCost"] == _incl_vat("12.345")  # 4.481235 → 4.48
    await station.close()


async def test_16_station_shows_billings_running_and_final_cost(
    world: tuple[Billing, CsmsService, str],
) -> None:
    _, csms, _ = world
    station = await _station(csms, "CS16", messages.V16)
    transaction_id = await station.start_transaction(1, "PRICED", 1000)
    await asyncio.sleep(0.01)  # OCPP times have milliseconds: a sample in the start's is dropped
    await station.meter_values(1, transaction_id, 11_000, power_w=11_000)
    # Running costs come at the interval; once the meter value is in, they show its 10 kWh.
    await eventually(
        lambda: any(
            c.payload["meterValue"] == 11_000 for c in station.costs_of(transaction_id, "RunningCost")
        ),
        timeout=5,
        what="RunningCost",
    )
    running = station.costs_of(transaction_id, "RunningCost")[-1]
    assert running.cost == _incl_vat("10"), running
    assert running.payload["chargingPrice"]["kWhPrice"] == 0.363  # 0.30 + 21% VAT
    await station.stop_transaction(transaction_id, 21_000)
    await eventually(lambda: bool(station.costs_of(transaction_id, "FinalCost")), timeout=5, what="FinalCost")
    (final,) = station.costs_of(transaction_id, "FinalCost")
    assert final.cost == _incl_vat("20") == 7.26
    assert final.payload["priceText"] == "EUR 7.26 for 20.000 kWh"
    await station.close()
