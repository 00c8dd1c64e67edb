"""Billing with the real CSMS and identity: RecordCharge reads a completed transaction from the
CSMS (GetTransaction FULL with billing's own service token), prices it with the tariff version
the station's rate plan named at the start, in the location's zone with its parked stretch, and
the record is visible to the station owner's members through identity's real roles."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.support.assets import service_token
from wattlane.api.billing.v1 import charge_records_pb2, tariffs_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.billing.main import BillingService
from wattlane.billing.settings import load
from wattlane.contracts import scopes
from wattlane.core.clients.billing import BillingClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    ChargingChange,
    MeterSample,
    StationOwner,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client, TreeBuilder

UTC = dt.UTC


@dataclass
class Stack:
    csms: CsmsService
    billing: BillingService

    @property
    def billing_target(self) -> str:
        return f"127.0.0.1:{self.billing.port}"


@pytest.fixture
async def stack(databases: DatabaseFactory, identity: IdentityService, admin: Client) -> AsyncIterator[Stack]:
    csms = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmsbilling"),
            identity_address=f"127.0.0.1:{identity.port}",
            process_id="billing",
        )
    )
    await csms.start()
    client_id, secret, _ = await service_token(admin, list(scopes.SERVICE_ACCOUNTS["billing"]), "billing")
    billing = BillingService(
        load(
            database_url=await databases.create("billingcsms"),
            port=0,
            metrics_port=-1,
            log_json=False,
            identity_address=f"127.0.0.1:{identity.port}",
            csms_address=f"127.0.0.1:{csms.grpc_port}",
            client_id=client_id,
            client_secret=secret,
        )
    )
    await billing.start()
    try:
        yield Stack(csms, billing)
    finally:
        await billing.stop()
        await csms.stop()


async def _session(csms: CsmsService, org: tenants_pb2.Tenant, tariff: str) -> int:
    """A completed transaction at the org's station CB-1 on Sunday 2026-03-29 in Amsterdam: charging
    from 01:30 to 03:30 local (across the spring-forward gap: one hour), 8 kWh, then parked 30 min."""
    assert csms.memory is not None and csms.storage is not None
    csms.memory.stations.add(
        "CB-1", "x" * 20, owner=StationOwner(org.name.removeprefix("tenants/"), org.path)
    )
    decision = AccessDecision(
        AccessStatus.ACCEPTED, payer="free", rate_plan=tariff, time_zone="Europe/Amsterdam"
    )
    begin = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    charged = begin + dt.timedelta(hours=1)  # 03:30 CEST
    end = charged + dt.timedelta(minutes=30)
    start = TransactionStart("CB-1", OcppVersion.V201, "cb", 1, 1, "TOKEN", "ISO14443", begin, 0, decision)
    transactions = csms.storage.transactions
    transaction_id = await transactions.record(
        TransactionChange(
            "CB-1",
            start=start,
            charging=ChargingChange(begin, True, 1),
            samples=(MeterSample(begin, energy_wh=0, power_w=8000),),
        )
    )
    assert transaction_id is not None
    await transactions.record(
        TransactionChange(
            "CB-1",
            start=start,
            charging=ChargingChange(charged, False, 1),
            samples=(MeterSample(charged, energy_wh=8000, power_w=0),),
        )
    )
    await transactions.record(TransactionChange("CB-1", start=start, end=TransactionEnd(end, 8000, "Local")))
    return transaction_id


async def test_a_completed_transaction_becomes_one_priced_record(
    stack: Stack, tree: TreeBuilder, admin: Client
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    operator = BillingClient(stack.billing_target, admin.token)
    energy = tariffs_pb2.PriceComponent(type=tariffs_pb2.ENERGY, price="0.40", vat="21", step_size=1)
    parked = tariffs_pb2.PriceComponent(type=tariffs_pb2.PARKING_TIME, price="4.00", vat="21", step_size=60)
    tariff = await operator.tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(
            parent=org.name,
            tariff=tariffs_pb2.Tariff(
                display_name="Depot",
                currency="EUR",
                elements=[tariffs_pb2.TariffElement(price_components=[energy, parked])],
            ),
        )
    )
    transaction_id = await _session(stack.csms, org, tariff.name)
    _, _, worker_token = await service_token(admin, [scopes.BILLING_RECORDS], "worker")
    worker = BillingClient(stack.billing_target, worker_token)
    member = await tree.member(org.name, [("organization-admin", org.name)])
    viewer = BillingClient(stack.billing_target, member.client.token)
    try:
        name = f"transactions/{transaction_id}"
        records = await asyncio.gather(
            *(worker.record_charge(name, f"handoff-{transaction_id}") for _ in range(3))
        )
        assert len({r.name for r in records}) == 1
        record = records[0]
        assert record.owner == org.name and record.payer_kind == charge_records_pb2.FREE
        assert record.priced.time_zone == "Europe/Amsterdam"
        assert record.energy_wh == 8000
        assert record.priced.charging_seconds == "3600.000000"  # 01:30 CET to 03:30 CEST is one hour
        assert record.priced.parking_seconds == "1800.000000"
        # 8 kWh at 0.40 and half an hour parked at 4.00 per hour.
        assert Decimal(record.total_cost.excl_vat) == Decimal("3.20") + Decimal("2.00")
        assert Decimal(record.total_cost.incl_vat) == Decimal("5.20") * Decimal("1.21")
        listed = await viewer.charge_records.ListChargeRecords(charge_records_pb2.ListChargeRecordsRequest())
        assert [r.name for r in listed.charge_records] == [record.name]
    finally:
        for client in (operator, worker, viewer):
            await client.close()
