"""Completed transactions end as exactly one priced charge record, with every part real: identity,
assets (the rate plan inherited from the organization, checked with billing; the location's
time zone), simulated OCPP stations at the CSMS (database outbox + relay), a Temporal dev server,
the worker's handoff (RecordCharge, then RecordHandoff) and billing pricing what the CSMS
recorded (charging and parked time included).

The kill test stops billing, the worker and the relay at different points (each in-process: a
stop drops what it was doing, a new service starts on the same database and port) and counts
exactly one record per completed transaction, as the CSMS's handoff test does."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from tests.assets.helpers import location, mask, point, uid
from tests.support.assets import ASSETS_SCOPES, AssetsStack, Org, organization, service_token, start_assets
from tests.support.processes import free_port
from wattlane.api.assets.v1 import cards_pb2, settings_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.billing.v1 import charge_records_pb2, tariffs_pb2
from wattlane.api.identity.v1 import internal_pb2_grpc
from wattlane.assets.main import AssetsService
from wattlane.billing.main import BillingService
from wattlane.billing.models import ChargeRecordRow
from wattlane.billing.settings import BillingSettings
from wattlane.contracts import scopes
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.db import Database
from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.temporal import start_dev_server
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.transactions import repository as transaction_rows
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client as IdentityClient
from wattlane.identity.testing import TreeBuilder
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.worker import Dependencies, task_queues

R = charge_records_pb2
T = tariffs_pb2


@dataclass
class Account:
    client_id: str
    secret: str


@dataclass
class World:
    """The real parts around one organization with a public-tariff-less ROAMING site."""

    identity: IdentityService
    temporal: Client
    queue: str
    accounts: dict[str, Account]
    billing_db: str
    billing_port: int
    csms_db: str
    csms_grpc_port: int
    assets: AssetsService
    org: Org
    tariff: str
    stations: dict[str, str] = field(default_factory=dict)  # identity -> AuthorizationKey
    card: str = ""  # UID of the cardholder's card
    billing: BillingService | None = None
    csms: CsmsService | None = None

    async def start_billing(self) -> None:
        self.billing = BillingService(
            BillingSettings(
                database_url=self.billing_db,
                port=self.billing_port,
                metrics_port=-1,
                identity_address=f"127.0.0.1:{self.identity.port}",
                csms_address=f"127.0.0.1:{self.csms_grpc_port}",
                client_id=self.accounts["billing"].client_id,
                client_secret=self.accounts["billing"].secret,
                log_json=False,
                drain_seconds=0,
                grace_seconds=1,
            )
        )
        await self.billing.start()

    async def stop_billing(self) -> None:
        assert self.billing is not None
        await self.billing.stop()
        self.billing = None

    async def start_csms(self, *, relay: bool = True) -> None:
        """The CSMS with assets as its station directory; `relay=False`: no Temporal, so
        completed transactions wait in the outbox."""
        self.csms = CsmsService(
            CsmsSettings(
                port=0,
                metrics_port=-1,
                grpc_port=self.csms_grpc_port,
                database_url=self.csms_db,
                identity_address=f"127.0.0.1:{self.identity.port}",
                assets_address=f"127.0.0.1:{self.assets.port}",
                client_id=self.accounts["csms"].client_id,
                client_secret=self.accounts["csms"].secret,
                process_id="billing-e2e",
                temporal_address=self.temporal.service_client.config.target_host if relay else "",
                billing_task_queue=self.queue,
                handoff_interval=1,
            )
        )
        await self.csms.start()

    async def stop_csms(self) -> None:
        assert self.csms is not None
        await self.csms.stop()
        self.csms = None

    def station(self, identity: str, protocol: str = messages.V16) -> SimStation:
        assert self.csms is not None
        url = f"ws://127.0.0.1:{self.csms.port}/ocpp"
        return SimStation(identity, url, protocol=protocol, password=self.stations[identity])

    async def records(self) -> list[ChargeRecordRow]:
        db = Database(self.billing_db)
        try:
            async with db.reader() as session:
                return list(await session.scalars(select(ChargeRecordRow)))
        finally:
            await db.dispose()


@dataclass
class HandoffWorker:
    """The worker's billing task queue, with the real activities and the worker's account."""

    worker: Worker
    task: asyncio.Task[None]
    closers: list[Callable[[], Awaitable[None]]]

    @classmethod
    async def start(cls, world: World) -> HandoffWorker:
        target = f"127.0.0.1:{world.identity.port}"
        account = world.accounts["worker"]
        link = IdentityLink(target, client_id=account.client_id, client_secret=account.secret)
        identity = IdentityInternal(link, target)
        csms = CsmsInternal(link, f"127.0.0.1:{world.csms_grpc_port}")
        billing = BillingClient(f"127.0.0.1:{world.billing_port}", token_provider=link.service_token)
        deps = Dependencies(
            world.temporal, identity, Mailer(SmtpSender("127.0.0.1", 1), identity), csms=csms, billing=billing
        )
        (queue,) = [q for q in task_queues(deps, billing_queue=world.queue) if q.name == world.queue]
        worker = Worker(
            world.temporal,
            task_queue=queue.name,
            workflows=list(queue.workflows),
            activities=list(queue.activities),
            max_cached_workflows=0,
        )
        return cls(
            worker, asyncio.create_task(worker.run()), [billing.close, csms.close, identity.close, link.close]
        )

    async def stop(self) -> None:
        await self.worker.shutdown()
        await self.task
        for close in self.closers:
            await close()


async def _wait(predicate: Callable[[], Awaitable[bool]], timeout: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.25)


def _energy_tariff(parent: str) -> T.Tariff:
    """0.30 EUR/kWh and 1.20 EUR per hour parked, plus 0.50 per session, VAT 21%."""

    def component(kind: T.Dimension.ValueType, price: str) -> T.PriceComponent:
        return T.PriceComponent(type=kind, price=price, vat="21", step_size=1)

    return T.Tariff(
        parent=parent,
        display_name="Partner standard",
        currency="EUR",
        elements=[
            T.TariffElement(
                price_components=[
                    component(T.ENERGY, "0.30"),
                    component(T.FLAT, "0.50"),
                    component(T.PARKING_TIME, "1.20"),
                ]
            )
        ],
    )


@pytest.fixture
async def world(
    databases: DatabaseFactory, identity: IdentityService, admin: IdentityClient, tree: TreeBuilder
) -> AsyncIterator[World]:
    """Billing, assets and the CSMS (no worker yet) around a fresh organization whose rate plan
    is its partner's tariff, with two 1.6 stations and one 2.0.1 station at an Amsterdam site."""
    env = await start_dev_server()  # workflow ids are transaction ids: a server of its own
    accounts = {}
    for name, granted in (
        ("billing", list(scopes.SERVICE_ACCOUNTS["billing"])),
        ("assets", ASSETS_SCOPES),
        ("csms", list(scopes.SERVICE_ACCOUNTS["csms"])),
        ("worker", list(scopes.SERVICE_ACCOUNTS["worker"])),
    ):
        client_id, secret, _ = await service_token(admin, granted, name)
        accounts[name] = Account(client_id, secret)
    _, _, applications_token = await service_token(admin, [scopes.IDENTITY_APPLICATIONS], "apps")
    billing_port = free_port()
    assets = await start_assets(
        await databases.create("bassets"),
        identity.port,
        accounts["assets"].client_id,
        accounts["assets"].secret,
        billing_address=f"127.0.0.1:{billing_port}",
    )
    apps = channel(f"127.0.0.1:{identity.port}", token=applications_token, max_attempts=1)
    stack = AssetsStack(
        assets, f"127.0.0.1:{assets.port}", "", internal_pb2_grpc.IdentityInternalServiceStub(apps)
    )
    org = await organization(tree, stack)
    world = World(
        identity,
        env.client,
        f"billing-{secrets.token_hex(4)}",
        accounts,
        await databases.create("bbilling"),
        billing_port,
        await databases.create("bcsms"),
        free_port(),
        assets,
        org,
        tariff="",
    )
    await world.start_billing()
    operator = BillingClient(f"127.0.0.1:{billing_port}", admin.token)
    client = AssetsClient(stack.target, org.admin.client.token)
    try:
        created = await operator.tariffs.CreateTariff(
            T.CreateTariffRequest(parent=org.partner.name, tariff=_energy_tariff(org.partner.name))
        )
        world.tariff = created.name
        # The organization inherits its partner's tariff; the site and points inherit from it.
        await client.settings.UpdateOrganizationSettings(
            settings_pb2.UpdateOrganizationSettingsRequest(
                settings=settings_pb2.OrganizationSettings(
                    name=f"{org.org.name}/assetSettings", rate_plan=world.tariff, rate_plan_override=True
                ),
                update_mask=mask("rate_plan", "rate_plan_override"),
            )
        )
        site = await location(
            client, org.org.name, time_zone="Europe/Amsterdam", access_mode=settings_pb2.ROAMING
        )
        for version in ("1.6", "1.6", "2.0.1"):
            added = await point(client, site.name, charging_enabled=True, ocpp_version=version)
            key = await client.charging_points.RotateAuthorizationKey(
                cp_pb2.RotateAuthorizationKeyRequest(name=added.name)
            )
            world.stations[added.ocpp_identity] = key.authorization_key
        driver = await tree.member(org.org.name)
        world.card = uid()
        await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=driver.user.name, card=cards_pb2.Card(uid=world.card))
        )
        await world.start_csms()
        yield world
    finally:
        for c in (operator, client):
            await c.close()
        if world.csms is not None:
            await world.stop_csms()
        if world.billing is not None:
            await world.stop_billing()
        await assets.stop()
        await apps.close(None)
        await env.shutdown()


def _at(start: dt.datetime, seconds: float) -> str:
    moment = start + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def _session_16(station: SimStation, card: str, meter: int) -> int:
    """A 1.6 session: 10 kWh charged in 30 minutes, then 15 minutes parked (station time, now on)."""
    start = dt.datetime.now(dt.UTC)
    answer = await station.call("StartTransaction", messages.start_transaction(1, card, meter, _at(start, 0)))
    transaction_id = int(answer["transactionId"])
    await station.call(
        "StatusNotification",
        messages.status_notification(messages.V16, 1, "Charging", timestamp=_at(start, 1)),
    )
    await station.call(
        "MeterValues",
        messages.meter_values_16(
            1,
            transaction_id,
            [messages.sampled_meter_value(messages.V16, meter + 5000, timestamp=_at(start, 900))],
        ),
    )
    await station.call(
        "StatusNotification",
        messages.status_notification(messages.V16, 1, "SuspendedEV", timestamp=_at(start, 1800)),
    )
    await station.call(
        "StopTransaction",
        messages.stop_transaction(transaction_id, meter + 10_000, timestamp=_at(start, 2700)),
    )
    return transaction_id


async def _session_201(station: SimStation, card: str, meter: int) -> str:
    """The same session in 2.0.1 (chargingState on the events); returns the station's id."""
    start = dt.datetime.now(dt.UTC)
    tx = f"tx-{secrets.token_hex(4)}"

    def sample(energy: int, seconds: float, context: str = "Sample.Periodic") -> dict[str, object]:
        return messages.sampled_meter_value(
            messages.V201, energy, timestamp=_at(start, seconds), context=context
        )

    await station.transaction_event(
        "Started",
        tx,
        evse_id=1,
        id_token=card,
        timestamp=_at(start, 0),
        charging_state="Charging",
        meter_values=[sample(meter, 0, "Transaction.Begin")],
    )
    await station.transaction_event(
        "Updated",
        tx,
        timestamp=_at(start, 900),
        trigger="MeterValuePeriodic",
        meter_values=[sample(meter + 5000, 900)],
    )
    await station.transaction_event(
        "Updated",
        tx,
        timestamp=_at(start, 1800),
        trigger="ChargingStateChanged",
        charging_state="SuspendedEV",
    )
    await station.transaction_event(
        "Ended",
        tx,
        timestamp=_at(start, 2700),
        stopped_reason="EVDisconnected",
        meter_values=[sample(meter + 10_000, 2700, "Transaction.End")],
    )
    return tx


async def test_a_session_at_a_simulated_station_ends_as_one_priced_charge_record(world: World) -> None:
    identities = list(world.stations)
    v16 = world.station(identities[0])
    v201 = world.station(identities[2], messages.V201)
    for station in (v16, v201):
        await station.connect()
        assert (await station.boot())["status"] == "Accepted"
    first = await _session_16(v16, world.card, 1000)
    await _session_201(v201, world.card, 0)
    for station in (v16, v201):
        await station.close()
    worker = await HandoffWorker.start(world)
    try:

        async def both_recorded() -> bool:
            return len(await world.records()) == 2

        await _wait(both_recorded)
        org_admin = BillingClient(f"127.0.0.1:{world.billing_port}", world.org.admin.client.token)
        try:
            listed = await org_admin.charge_records.ListChargeRecords(R.ListChargeRecordsRequest())
        finally:
            await org_admin.close()
        assert len(listed.charge_records) == 2
        by_station = {r.station.removeprefix("stations/"): r for r in listed.charge_records}
        for identity in (identities[0], identities[2]):
            record = by_station[identity]
            assert record.kind == R.ChargeRecord.DEBIT
            assert (record.tariff.name, record.currency, record.energy_wh) == (world.tariff, "EUR", 10_000)
            assert record.priced.time_zone == "Europe/Amsterdam"  # from the location, via the CSMS
            assert Decimal(record.priced.parking_seconds) == 900  # the charging states reached billing
            # 10 kWh x 0.30 + 0.50 once + 0.25 h parked x 1.20 = 3.80 excl. VAT, 21% VAT on top.
            assert Decimal(record.total_cost.excl_vat) == Decimal("3.80")
            assert Decimal(record.total_cost.incl_vat) == Decimal("4.598")
            assert record.payer_kind == R.CARDHOLDER and record.owner == world.org.org.name
        assert by_station[identities[0]].transaction == f"transactions/{first}"
    finally:
        await worker.stop()


async def test_billing_the_worker_and_the_relay_killed_at_different_points_leave_one_record_each(
    world: World,
) -> None:
    identities = list(world.stations)[:2]
    completed: list[int] = []

    async def charge(sessions: int, meter: int) -> None:
        stations = [world.station(i) for i in identities]
        for station in stations:
            await station.connect()
            await station.boot()
        for n in range(sessions):
            completed.append(await _session_16(stations[n % len(stations)], world.card, meter + n * 20_000))
        for station in stations:
            await station.close()

    async def records() -> int:
        return len(await world.records())

    # 1. Billing down, the worker up: handoffs start and wait on RecordCharge (retried).
    await world.stop_billing()
    worker = await HandoffWorker.start(world)
    await charge(4, 0)
    await asyncio.sleep(3)  # a few attempts against nothing
    assert await records() == 0
    # 2. Billing back: records appear; the worker is stopped part-way and started again.
    await world.start_billing()

    async def some() -> bool:
        return await records() >= 1

    await _wait(some)
    await worker.stop()
    # 3. The relay down (the CSMS without Temporal): more sessions wait in the outbox.
    await world.stop_csms()
    await world.start_csms(relay=False)
    await charge(4, 100_000)
    await world.stop_csms()
    # 4. Billing killed again while the worker restarts, then everything back.
    await world.stop_billing()
    worker = await HandoffWorker.start(world)
    await world.start_csms()
    await asyncio.sleep(2)
    await world.start_billing()

    async def all_recorded() -> bool:
        return await records() == len(completed)

    try:
        await _wait(all_recorded, timeout=120)
        rows = await world.records()
        assert sorted(r.transaction_id for r in rows) == sorted(completed)  # one each, none twice
        assert all(Decimal(r.total_excl_vat) == Decimal("3.80") for r in rows)
        db = Database(world.csms_db)
        try:

            async def all_handed() -> bool:
                async with db.reader() as session:
                    return await transaction_rows.count_rows(session, transaction_rows.HANDOFFS) == len(
                        completed
                    )

            await _wait(all_handed)
            async with db.reader() as session:
                assert (
                    await session.scalar(select(func.count()).select_from(transaction_rows.TRANSACTIONS)) == 8
                )
        finally:
            await db.dispose()
        workflows = [w async for w in world.temporal.list_workflows(f"TaskQueue = '{world.queue}'")]
        assert len(workflows) == len(completed) == 8
    finally:
        await worker.stop()
