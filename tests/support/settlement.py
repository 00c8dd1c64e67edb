"""The monthly settlement's world for cross-service tests: the real billing service (its fake
identity and CSMS) with a tariff and five paying cardholders, a billing client with the
worker's token, a worker of the settlement's workflows and the counts the tests check."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.billing.models import ChargeRecordRow, InvoiceRow, SettlementRow
from wattlane.billing.service_testing import Billing, energy_tariff, recorded_at, start_billing
from wattlane.contracts import scopes
from wattlane.core.clients.billing import BillingClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.fake_identity import FakeUser
from wattlane.workflows.settlement.activities import SettlementActivities
from wattlane.workflows.settlement.workflows import MonthlySettlement, SettleChunk

ZONE = "Europe/Brussels"


@dataclass
class World:
    billing: Billing
    client: BillingClient  # with the worker's token
    tariff: str
    payers: list[FakeUser]
    next_transaction: int = 1

    @property
    def issuer(self) -> str:
        return self.billing.partner.name

    async def seal(self, monkeypatch: pytest.MonkeyPatch, at: dt.datetime, payer: FakeUser) -> None:
        await recorded_at(
            self.billing, monkeypatch, self.next_transaction, at, rate_plan=self.tariff, cardholder=payer
        )
        self.next_transaction += 1

    def worker(self, temporal: Client, queue: str) -> Worker:
        activities = SettlementActivities(self.client)
        return Worker(
            temporal,
            task_queue=queue,
            workflows=[MonthlySettlement, SettleChunk],
            activities=[activities.list_recipients, activities.settle],
            max_cached_workflows=0,  # every task replayed from history
        )

    async def counts(self, month: str) -> tuple[int, int, int]:
        """(records sealed in `month`, of them on an invoice, records the month's invoices hold)."""
        year, number = int(month[:4]), int(month[5:])
        start = dt.datetime(year, number, 1, tzinfo=ZoneInfo(ZONE))
        end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=ZoneInfo(ZONE))
        R = ChargeRecordRow
        in_month = (R.create_time >= start.astimezone(dt.UTC)) & (R.create_time < end.astimezone(dt.UTC))
        async with self.billing.service.rt.db.reader() as session:
            sealed = (await session.execute(select(func.count()).where(in_month))).scalar_one()
            invoiced = (
                await session.execute(select(func.count()).where(in_month, R.invoice_id != ""))
            ).scalar_one()
            held = (
                await session.execute(
                    select(func.coalesce(func.sum(SettlementRow.charge_records), 0)).where(
                        SettlementRow.month == month
                    )
                )
            ).scalar_one()
        return int(sealed), int(invoiced), int(held)

    async def numbers(self) -> list[int]:
        async with self.billing.service.rt.db.reader() as session:
            rows = (await session.execute(select(InvoiceRow.series, InvoiceRow.sequence))).all()
        assert len({r.series for r in rows}) <= 1
        return sorted(r.sequence for r in rows)


@pytest.fixture(name="world")
async def world_fixture(databases: DatabaseFactory) -> AsyncIterator[World]:
    billing = await start_billing(databases)
    token = billing.identity.service_account("worker", [scopes.BILLING_SETTLEMENT])
    client = BillingClient(billing.target, token=token, max_attempts=4)
    tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff("0.30", vat="21"))
    )
    payers = [billing.identity.user(billing.sibling) for _ in range(5)]
    try:
        yield World(billing, client, tariff.name, payers)
    finally:
        await client.close()
        await billing.close()
        await billing.service.stop()
        await billing.csms.stop()
        await billing.identity.stop()


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """The UTC instant of a wall-clock time in the issuer's zone."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(dt.UTC)


def first_of_next(day: dt.date) -> dt.date:
    """The 1st of the month after `day`'s."""
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
