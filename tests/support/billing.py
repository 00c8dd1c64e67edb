"""A fake of billing's internal API for the processes that call it, built from wattlane.api only:
ResolveTariff (assets) answers tariffs registered by name with their owner, currency and highest
energy price; RecordCharge (the worker's handoff) upserts one record per transaction and counts
deliveries. Every request is kept. The real billing is tested in tests/billing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, internal_pb2_grpc, tariffs_pb2


@dataclass
class FakeTariff:
    """What ResolveTariff answers for one tariff."""

    owner_path: str
    currency: str = "EUR"
    max_energy_price: str = "0.30"  # per kWh excl. VAT; "" for a tariff without energy price
    version: int = 1


@dataclass
class FakeBilling(internal_pb2_grpc.BillingInternalServiceServicer):
    """ResolveTariff from `tariffs`, RecordCharge into `records`; UNAVAILABLE for every call
    while `down`."""

    tariffs: dict[str, FakeTariff] = field(default_factory=dict)
    down: bool = False
    requests: list[Any] = field(default_factory=list)
    records: dict[str, charge_records_pb2.ChargeRecord] = field(default_factory=dict)  # by transaction
    deliveries: dict[str, int] = field(default_factory=dict)  # RecordCharge calls per transaction

    def add(self, name: str, owner_path: str, **fields: Any) -> str:
        """Register a tariff; returns its name."""
        self.tariffs[name] = FakeTariff(owner_path, **fields)
        return name

    async def ResolveTariff(
        self, request: internal_pb2.ResolveTariffRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> internal_pb2.TariffReference:
        """Found when registered and owned at or above `owner_path`, as billing answers."""
        self.requests.append(request)
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "billing is down (fake)")
        tariff = self.tariffs.get(request.name)
        if tariff is None or not request.owner_path.startswith(tariff.owner_path):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        assert tariff is not None
        return internal_pb2.TariffReference(
            name=request.name,
            version=tariff.version,
            currency=tariff.currency,
            owner_path=tariff.owner_path,
            max_energy_price=tariff.max_energy_price,
            display_name=request.name,
        )

    async def RecordCharge(
        self, request: internal_pb2.RecordChargeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> charge_records_pb2.ChargeRecord:
        """The transaction's one record (created on the first delivery, returned on repeats)."""
        self.requests.append(request)
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "billing is down (fake)")
        self.deliveries[request.transaction] = self.deliveries.get(request.transaction, 0) + 1
        if request.transaction not in self.records:
            self.records[request.transaction] = charge_records_pb2.ChargeRecord(
                name=f"chargeRecords/r{len(self.records) + 1}",
                transaction=request.transaction,
                kind=charge_records_pb2.ChargeRecord.DEBIT,
            )
        return self.records[request.transaction]

    async def PriceSession(
        self, request: internal_pb2.PriceSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> tariffs_pb2.PricedSession:
        """Not faked."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")
        raise AssertionError

    async def ListSettlementRecipients(
        self,
        request: internal_pb2.ListSettlementRecipientsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> internal_pb2.ListSettlementRecipientsResponse:
        """Not faked (the settlement's tests run the real billing)."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")
        raise AssertionError

    async def SettleRecipients(
        self, request: internal_pb2.SettleRecipientsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> internal_pb2.SettleRecipientsResponse:
        """Not faked (the settlement's tests run the real billing)."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")
        raise AssertionError


@asynccontextmanager
async def serve_fake_billing(fake: FakeBilling | None = None) -> AsyncIterator[tuple[FakeBilling, str]]:
    """A fake billing on a free loopback port: (the fake, its address)."""
    fake = fake or FakeBilling()
    server = grpc.aio.server()
    internal_pb2_grpc.add_BillingInternalServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)
