"""Costs from billing over gRPC: `BillingPricing` sends PriceSession what the CSMS stored (the
tariff recorded at the start, the zone, the readings) and shows billing's total; a fake
BillingInternalService on a real gRPC server stands in for billing. The process wires it from
`WATTLANE_CSMS_BILLING_ADDRESS`, and a billing that stops answering takes the costs away, never
the sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc
import pytest

from wattlane.api.billing.v1 import internal_pb2, internal_pb2_grpc, tariffs_pb2
from wattlane.core.clients.billing import BillingClient
from wattlane.core.timestamps import from_timestamp
from wattlane.csms.protocol.clock import ocpp_time
from wattlane.csms.providers.billing import BillingPricing, session_readings
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    MeterSample,
    ProviderUnavailable,
    SessionCost,
    SessionToPrice,
)
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation, default_handlers

Context = grpc.aio.ServicerContext[Any, Any]
KWH_PRICE = Decimal("0.30")  # excl. VAT
VAT = Decimal("1.21")
FLAT = Decimal("1.00")
PASSWORD = "0123456789abcdef0123"


def _energy_wh(readings: tariffs_pb2.SessionReadings) -> int:
    values = [s.wh for s in readings.energy]
    return max(values) - min(values) if values else 0


def _price(excl: Decimal) -> tariffs_pb2.Price:
    return tariffs_pb2.Price(excl_vat=str(excl), incl_vat=str(excl * VAT))


class FakeBilling(internal_pb2_grpc.BillingInternalServiceServicer):
    """PriceSession: a flat fee plus a kWh price (VAT 21%) over the energy readings; `refuse`
    answers an error code, `delay` answers late."""

    def __init__(self) -> None:
        self.requests: list[internal_pb2.PriceSessionRequest] = []
        self.refuse: grpc.StatusCode | None = None
        self.delay = 0.0

    async def RecordCharge(self, request: Any, context: Context) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not the CSMS's call")

    async def ResolveTariff(self, request: Any, context: Context) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not the CSMS's call")

    async def ListSettlementRecipients(self, request: Any, context: Context) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not the CSMS's call")

    async def SettleRecipients(self, request: Any, context: Context) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not the CSMS's call")

    async def PriceSession(self, request: Any, context: Context) -> Any:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse is not None:
            await context.abort(self.refuse, "refused")
        wh = _energy_wh(request.readings)
        energy = KWH_PRICE * wh / 1000
        last = tariffs_pb2.ChargingPeriod(
            dimensions=[
                tariffs_pb2.DimensionCost(type=tariffs_pb2.ENERGY, quantity=str(wh), cost=_price(energy))
            ]
        )
        return tariffs_pb2.PricedSession(
            tariff=request.tariff,
            tariff_version=3,
            currency="EUR",
            time_zone=request.time_zone,
            periods=[last],
            totals=[
                tariffs_pb2.DimensionCost(type=tariffs_pb2.ENERGY, quantity=str(wh), cost=_price(energy)),
                tariffs_pb2.DimensionCost(type=tariffs_pb2.FLAT, quantity="1", cost=_price(FLAT)),
            ],
            total_cost=_price(energy + FLAT),
            energy_wh=str(wh),
        )


@dataclass
class Billing:
    fake: FakeBilling
    server: grpc.aio.Server
    address: str
    clients: list[BillingClient] = field(default_factory=list)

    def pricing(self) -> BillingPricing:
        client = BillingClient(self.address, max_attempts=1)
        self.clients.append(client)
        return BillingPricing(client)


@pytest.fixture
async def billing() -> AsyncIterator[Billing]:
    fake = FakeBilling()
    server = grpc.aio.server()
    internal_pb2_grpc.add_BillingInternalServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    running = Billing(fake, server, f"127.0.0.1:{port}")
    yield running
    for client in running.clients:
        await client.close()
    await server.stop(None)


def _expected(wh: int) -> Decimal:
    return (KWH_PRICE * wh / 1000 + FLAT) * VAT


START = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
SESSION = SessionToPrice(
    transaction_id=7,
    tariff="tariffs/t1",
    time_zone="",
    start_time=START,
    meter_start_wh=1000,
    stop_time=START + dt.timedelta(hours=3),
    meter_stop_wh=23_000,
    samples=(
        MeterSample(START + dt.timedelta(hours=1), energy_wh=8000, power_w=7400, current_a=32.0),
        MeterSample(START + dt.timedelta(hours=2), energy_wh=15_000),
    ),
)


async def test_price_session_gets_the_stored_session_and_its_answer_is_shown(billing: Billing) -> None:
    cost = await billing.pricing().price(SESSION, SESSION.stop_time)  # type: ignore[arg-type]
    (request,) = billing.fake.requests
    assert request.tariff == "tariffs/t1"
    assert request.time_zone == "UTC"  # none recorded: UTC
    assert from_timestamp(request.until) == SESSION.stop_time
    readings = request.readings
    assert from_timestamp(readings.start_time) == START
    assert from_timestamp(readings.stop_time) == START + dt.timedelta(hours=3)
    # The start and stop registers are readings too, at the start and stop times.
    assert [(from_timestamp(s.time) - START, s.wh) for s in readings.energy] == [
        (dt.timedelta(hours=h), wh) for h, wh in ((0, 1000), (1, 8000), (2, 15_000), (3, 23_000))
    ]
    assert [s.value for s in readings.power] == ["7400"]
    assert [s.value for s in readings.current] == ["32.0"]
    assert cost == SessionCost(
        currency="EUR",
        total=_expected(22_000),
        energy_wh=22_000,
        kwh_price=KWH_PRICE * VAT,
        hour_price=None,
        flat_fee=FLAT * VAT,
    )


async def test_the_location_zone_is_sent_as_recorded(billing: Billing) -> None:
    session = SessionToPrice(7, "tariffs/t1", "Europe/Amsterdam", START, meter_start_wh=0)
    await billing.pricing().price(session, START + dt.timedelta(minutes=5))
    assert billing.fake.requests[0].time_zone == "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("code", "outage"),
    [
        (grpc.StatusCode.NOT_FOUND, False),
        (grpc.StatusCode.FAILED_PRECONDITION, False),
        (grpc.StatusCode.INTERNAL, True),
        (grpc.StatusCode.PERMISSION_DENIED, True),
    ],
)
async def test_refusals_are_no_cost_and_failures_are_outages(
    billing: Billing, code: grpc.StatusCode, outage: bool
) -> None:
    billing.fake.refuse = code
    pricing = billing.pricing()
    if outage:
        with pytest.raises(ProviderUnavailable):
            await pricing.price(SESSION, START)
    else:
        assert await pricing.price(SESSION, START) is None


async def test_billing_gone_is_an_outage(billing: Billing) -> None:
    pricing = billing.pricing()
    await billing.server.stop(None)
    with pytest.raises(ProviderUnavailable):
        await pricing.price(SESSION, START)


BASE = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)


def _at(seconds: int) -> str:
    """An OCPP timestamp `seconds` into the sessions of the process test (they start at BASE)."""
    return ocpp_time(BASE + dt.timedelta(seconds=seconds))


def _reading(wh: int, seconds: int) -> dict[str, Any]:
    return messages.sampled_meter_value(messages.V201, wh, timestamp=_at(seconds))


async def test_the_process_shows_billings_costs_and_keeps_going_without_billing(billing: Billing) -> None:
    service = CsmsService(
        CsmsSettings(
            port=0,
            grpc_port=-1,
            metrics_port=-1,
            stations=(("CS201", PASSWORD),),
            billing_address=billing.address,
            pricing_timeout=2.0,  # generous: a loaded test machine
            pricing_backoff=0.2,
            cost_update_interval=0,
            validate_responses=True,
        )
    )
    await service.start()
    try:
        assert service.memory is not None
        service.memory.access.set("PRICED", AccessDecision(AccessStatus.ACCEPTED, rate_plan="tariffs/t1"))
        station = SimStation(
            "CS201",
            f"ws://127.0.0.1:{service.port}/ocpp",
            protocol=messages.V201,
            password=PASSWORD,
            handlers=default_handlers(messages.V201),
        )
        await station.connect()
        await station.boot()
        await station.transaction_event(
            "Started", "a", evse_id=1, id_token="PRICED", meter_values=[_reading(0, 0)], timestamp=_at(0)
        )
        updated = await station.transaction_event(
            "Updated", "a", meter_values=[_reading(4000, 60)], timestamp=_at(60)
        )
        ended = await station.transaction_event(
            "Ended", "a", stopped_reason="Local", meter_values=[_reading(10_000, 120)], timestamp=_at(120)
        )
        assert updated is not None and updated["totalCost"] == float(
            _expected(4000).quantize(Decimal("0.01"))
        )
        assert ended is not None and ended["totalCost"] == float(_expected(10_000).quantize(Decimal("0.01")))
        assert {r.tariff for r in billing.fake.requests} == {"tariffs/t1"}

        billing.fake.delay = 30.0  # billing is slow: the reply goes out at the deadline, costless
        await station.transaction_event(
            "Started", "s", evse_id=1, id_token="PRICED", meter_values=[_reading(0, 0)], timestamp=_at(0)
        )
        began = time.monotonic()
        assert await station.transaction_event("Updated", "s", meter_values=[_reading(500, 60)]) == {}
        assert time.monotonic() - began < 10.0  # the pricing timeout, not billing's 30 s

        await billing.server.stop(None)  # billing goes away: sessions go on, without costs
        await station.transaction_event(
            "Started", "b", evse_id=1, id_token="PRICED", meter_values=[_reading(0, 0)], timestamp=_at(0)
        )
        assert await station.transaction_event("Updated", "b", meter_values=[_reading(1000, 60)]) == {}
        assert await station.transaction_event("Ended", "b", stopped_reason="Local") == {}
        assert [c.transaction_id for c in station.shown_costs] == ["a", "a"]
        await station.close()
    finally:
        await service.stop()


def test_readings_leave_out_what_billings_record_leaves_out() -> None:
    """The same reading of the stored session as billing's charge record makes, so the final
    cost shown is the record's: samples outside the session, out of order or with the register
    going back are left out; a stop reading behind the last one is too."""
    h = dt.timedelta(hours=1)
    session = SessionToPrice(
        7,
        "tariffs/t1",
        "",
        START,
        meter_start_wh=1000,
        stop_time=START + 3 * h,
        meter_stop_wh=9000,
        samples=(
            MeterSample(START - h, energy_wh=500),  # before the start
            MeterSample(START + h, energy_wh=8000, power_w=7000),
            MeterSample(START + 2 * h, energy_wh=7000, power_w=0),  # the register went back
            MeterSample(START + 4 * h, energy_wh=12_000),  # after the stop
        ),
    )
    readings = session_readings(session, START + 3 * h)
    assert [(from_timestamp(s.time) - START, s.wh) for s in readings.energy] == [
        (0 * h, 1000),
        (1 * h, 8000),
        (3 * h, 9000),
    ]
    assert [(from_timestamp(s.time) - START, s.value) for s in readings.power] == [(h, "7000"), (2 * h, "0")]
    # Charging/parked changes inside the session, in order.
    states = dataclasses.replace(
        session,
        charging_states=((START - h, True), (START, True), (START + 2 * h, False), (START + 5 * h, True)),
    )
    assert [
        (from_timestamp(c.time) - START, c.charging) for c in session_readings(states, START).charging_states
    ] == [
        (0 * h, True),
        (2 * h, False),
    ]
    # Only the totals known (no samples, the stop reading kept): start and stop registers.
    bare = SessionToPrice(
        8, "tariffs/t1", "", START, meter_start_wh=0, stop_time=START + h, meter_stop_wh=5000
    )
    assert [s.wh for s in session_readings(bare, START + h).energy] == [0, 5000]
    # A running session is read up to `until`.
    running = SessionToPrice(9, "tariffs/t1", "", START, meter_start_wh=0, samples=session.samples)
    assert [s.wh for s in session_readings(running, START + 90 * dt.timedelta(minutes=1)).energy] == [0, 8000]
    assert not session_readings(running, START + h).HasField("stop_time")
