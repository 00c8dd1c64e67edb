"""Support for billing's own tests: the service running for real (its database, gRPC,
migrations) against core's FakeIdentity and a fake CSMS built on the generated TransactionService
servicer. Test modules import the `billing` fixture from here (a conftest.py beside the tests
would clash with the CSMS's in the one mypy run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
import pytest

from wattlane.api.billing.v1 import (
    charge_records_pb2_grpc,
    internal_pb2,
    internal_pb2_grpc,
    invoices_pb2_grpc,
    tariffs_pb2,
    tariffs_pb2_grpc,
)
from wattlane.api.csms.v1 import transactions_pb2, transactions_pb2_grpc
from wattlane.billing import charge_records
from wattlane.billing.main import BillingService
from wattlane.billing.settings import BillingSettings
from wattlane.contracts import scopes
from wattlane.core.client import channel
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.fake_identity import FakeIdentity, FakeTenant, FakeUser
from wattlane.core.timestamps import to_timestamp

START = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)


class FakeCsms(transactions_pb2_grpc.TransactionServiceServicer):
    """The CSMS's TransactionService answering from `transactions` (by id); counts the reads and
    accepts only billing's service token."""

    def __init__(self, identity: FakeIdentity) -> None:
        self.identity = identity
        self.transactions: dict[int, transactions_pb2.Transaction] = {}
        self.reads = 0
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        server = grpc.aio.server()
        transactions_pb2_grpc.add_TransactionServiceServicer_to_server(self, server)
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)

    async def GetTransaction(
        self, request: transactions_pb2.GetTransactionRequest, context: Any
    ) -> transactions_pb2.Transaction:
        self.reads += 1
        metadata = dict(context.invocation_metadata() or ())
        token = str(metadata.get("authorization", "")).removeprefix("Bearer ")
        key = self.identity.minter.private_key.public_key()
        claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_aud": False})
        if scopes.CSMS_TRANSACTIONS not in claims.get("scp", []):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "csms.transactions is required")
        assert request.view == transactions_pb2.FULL
        transaction = self.transactions.get(int(request.name.removeprefix("transactions/")))
        if transaction is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        assert transaction is not None
        return transaction


@dataclass
class Clients:
    """Stubs of billing's APIs on one channel with one bearer token."""

    channel: grpc.aio.Channel
    tariffs: tariffs_pb2_grpc.TariffServiceAsyncStub = field(init=False)
    records: charge_records_pb2_grpc.ChargeRecordServiceAsyncStub = field(init=False)
    internal: internal_pb2_grpc.BillingInternalServiceAsyncStub = field(init=False)
    invoices: invoices_pb2_grpc.InvoiceServiceAsyncStub = field(init=False)

    def __post_init__(self) -> None:
        self.tariffs = tariffs_pb2_grpc.TariffServiceStub(self.channel)
        self.records = charge_records_pb2_grpc.ChargeRecordServiceStub(self.channel)
        self.internal = internal_pb2_grpc.BillingInternalServiceStub(self.channel)
        self.invoices = invoices_pb2_grpc.InvoiceServiceStub(self.channel)


@dataclass
class Billing:
    """A running billing service with its world: a partner with two sibling organizations."""

    service: BillingService
    identity: FakeIdentity
    csms: FakeCsms
    partner: FakeTenant
    org: FakeTenant
    sibling: FakeTenant
    admin: FakeUser  # billing.read + billing.manage at org
    sibling_admin: FakeUser
    viewer: FakeUser  # billing.read at org
    outsider: FakeUser  # transactions.read at org only
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.service.port}"

    def client(self, who: FakeUser | str) -> Clients:
        token = who if isinstance(who, str) else who.token
        ch = channel(self.target, token=token, max_attempts=1)
        self._channels.append(ch)
        return Clients(ch)

    def service_client(self, name: str, *granted: str) -> Clients:
        return self.client(self.identity.service_account(name, granted))

    async def close(self) -> None:
        for ch in self._channels:
            await ch.close(None)


async def start_billing(databases: DatabaseFactory) -> Billing:
    identity = FakeIdentity()  # type: ignore[abstract]
    await identity.start()
    identity.service_account("billing", ["identity.directory", scopes.CSMS_TRANSACTIONS, "assets.stations"])
    csms = FakeCsms(identity)  # type: ignore[abstract]
    await csms.start()
    partner = identity.tenant(identity.root, "PARTNER")
    org, sibling = identity.tenant(partner), identity.tenant(partner)
    manage = {"billing.read": [org], "billing.manage": [org], "transactions.read": [org]}
    admin = identity.user(org, manage)
    sibling_admin = identity.user(
        sibling, {"billing.read": [sibling], "billing.manage": [sibling], "transactions.read": [sibling]}
    )
    viewer = identity.user(org, {"billing.read": [org]})
    outsider = identity.user(org, {"transactions.read": [org]})
    settings = BillingSettings(
        database_url=await databases.create("billing"),
        port=0,
        metrics_port=-1,
        identity_address=identity.target,
        csms_address=f"127.0.0.1:{csms.port}",
        client_id="billing",
        log_json=False,
        drain_seconds=0,
        grace_seconds=1,
    )
    service = BillingService(settings)
    await service.start()
    return Billing(service, identity, csms, partner, org, sibling, admin, sibling_admin, viewer, outsider)


@pytest.fixture(name="billing")
async def billing_fixture(databases: DatabaseFactory) -> AsyncIterator[Billing]:
    """A fresh billing service (its own database) with its fake identity and CSMS."""
    running = await start_billing(databases)
    try:
        yield running
    finally:
        await running.close()
        await running.service.stop()
        await running.csms.stop()
        await running.identity.stop()


def energy_tariff(
    price: str = "0.30", *, display_name: str = "Standard", currency: str = "EUR", vat: str | None = "21"
) -> tariffs_pb2.Tariff:
    """A one-element tariff pricing energy (per Wh steps)."""
    component = tariffs_pb2.PriceComponent(type=tariffs_pb2.ENERGY, price=price, step_size=1)
    if vat is not None:
        component.vat = vat
    return tariffs_pb2.Tariff(
        display_name=display_name,
        currency=currency,
        elements=[tariffs_pb2.TariffElement(price_components=[component])],
    )


def transaction(
    billing: Billing, transaction_id: int, *, rate_plan: str = "", payer: str = "cardholder", kwh: int = 10
) -> transactions_pb2.Transaction:
    """A completed two-hour transaction (from START, `kwh` at constant power) at the org's station,
    paid by a user's card of the sibling; the fake CSMS answers it from now on."""
    stop = START + dt.timedelta(hours=2)
    tx = transactions_pb2.Transaction(
        name=f"transactions/{transaction_id}",
        station="stations/CS-1",
        protocol="ocpp1.6",
        evse_id=1,
        connector_id=1,
        id_token="TAG1",
        state=transactions_pb2.Transaction.COMPLETED,
        start_time=to_timestamp(START),
        stop_time=to_timestamp(stop),
        meter_start_wh=1000,
        meter_stop_wh=1000 + kwh * 1000,
        energy_wh=kwh * 1000,
        owner=billing.org.name,
        location="locations/L1",
        charging_point="chargingPoints/P1",
        card="cards/C1",
        card_owner=billing.sibling.name,
        cardholder=f"users/{billing.sibling_admin.id}",
        payer=payer,
        rate_plan=rate_plan,
    )
    tx.meter_values.add(
        time=to_timestamp(START + dt.timedelta(hours=1)), energy_wh=1000 + kwh * 500, power_w=5000
    )
    billing.csms.transactions[transaction_id] = tx
    return tx


async def recorded_at(
    billing: Billing,
    monkeypatch: pytest.MonkeyPatch,
    transaction_id: int,
    at: dt.datetime,
    *,
    rate_plan: str = "",
    payer: str = "cardholder",
    cardholder: FakeUser | None = None,
) -> None:
    """Seal the charge record of a new `transaction` as though it were handed over at `at` (the
    instant that decides its settlement month), through RecordCharge as the worker does.
    `cardholder`: whose card it is (default the sibling's admin)."""
    tx = transaction(billing, transaction_id, rate_plan=rate_plan, payer=payer)
    if cardholder is not None:
        tx.cardholder, tx.card_owner = f"users/{cardholder.id}", cardholder.tenant.name
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    with monkeypatch.context() as patched:
        patched.setattr(charge_records, "utcnow", lambda: at)
        await worker.RecordCharge(
            internal_pb2.RecordChargeRequest(transaction=f"transactions/{transaction_id}")
        )
