"""clients.billing: the typed shortcuts send what they are given to billing's internal API (a
fake servicer on a real gRPC server) and return its answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, internal_pb2_grpc, tariffs_pb2
from wattlane.core.clients.billing import BillingClient
from wattlane.core.timestamps import from_timestamp


class FakeBillingInternal(internal_pb2_grpc.BillingInternalServiceServicer):
    """Records the requests and answers with what they asked for."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.metadata: list[dict[str, str]] = []

    def _seen(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata() or ()))

    async def RecordCharge(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._seen(request, context)
        return charge_records_pb2.ChargeRecord(transaction=request.transaction)

    async def ResolveTariff(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._seen(request, context)
        if request.name != "tariffs/t1":
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        return internal_pb2.TariffReference(name=request.name, owner_path=request.owner_path, version=2)

    async def PriceSession(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._seen(request, context)
        return tariffs_pb2.PricedSession()


@pytest.fixture
async def served() -> AsyncIterator[tuple[BillingClient, FakeBillingInternal]]:
    fake = FakeBillingInternal()
    server = grpc.aio.server()
    internal_pb2_grpc.add_BillingInternalServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = BillingClient(f"127.0.0.1:{port}", token="tok")
    try:
        yield client, fake
    finally:
        await client.close()
        await server.stop(None)


async def test_record_charge(served: tuple[BillingClient, FakeBillingInternal]) -> None:
    client, fake = served
    record = await client.record_charge("transactions/7", "handoff-7")
    assert record.transaction == "transactions/7"
    assert fake.requests[-1] == internal_pb2.RecordChargeRequest(
        transaction="transactions/7", workflow_id="handoff-7"
    )
    assert fake.metadata[-1]["authorization"] == "Bearer tok"


async def test_resolve_tariff_now_and_at(served: tuple[BillingClient, FakeBillingInternal]) -> None:
    client, fake = served
    ref = await client.resolve_tariff("tariffs/t1", "/op/o1/")
    assert (ref.name, ref.owner_path, ref.version) == ("tariffs/t1", "/op/o1/", 2)
    assert not fake.requests[-1].HasField("at")  # unset means now, decided by billing
    at = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    await client.resolve_tariff("tariffs/t1", "/op/o1/", at=at)
    assert from_timestamp(fake.requests[-1].at) == at


async def test_resolve_tariff_errors_reach_the_caller(
    served: tuple[BillingClient, FakeBillingInternal],
) -> None:
    client, _ = served
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.resolve_tariff("tariffs/none", "/op/")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_price_session(served: tuple[BillingClient, FakeBillingInternal]) -> None:
    client, fake = served
    start = dt.datetime(2026, 12, 6, 17, 40, tzinfo=dt.UTC)
    readings = tariffs_pb2.SessionReadings()
    readings.start_time.FromDatetime(start)
    await client.price_session(
        "tariffs/t1", "Europe/Amsterdam", readings, until=start + dt.timedelta(hours=1)
    )
    sent = fake.requests[-1]
    assert (sent.tariff, sent.time_zone) == ("tariffs/t1", "Europe/Amsterdam")
    assert from_timestamp(sent.readings.start_time) == start
    assert from_timestamp(sent.until) == start + dt.timedelta(hours=1)
