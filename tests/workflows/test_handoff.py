"""Exactly-once handoff of completed transactions, end to end with real parts: simulated
stations charging at a real CSMS (database outbox + relay), a real Temporal dev server, the
worker's billing queue and a real identity issuing the worker's and the CSMS's tokens; billing
is a fake here (one record per transaction, deliveries counted; the real billing's kill test
is tests/billing/test_charge_records.py).

The CSMS, the relay, the worker and billing are stopped and restarted at different points (the
CSMS in-process: a stop drops the relay mid-way and a new service starts on the same database);
afterwards every completed transaction has exactly one workflow, one charge record and one
handoff record."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.billing import FakeBilling, serve_fake_billing
from wattlane.contracts.handoff import workflow_id
from wattlane.core.clients.billing import BillingClient
from wattlane.core.db import Database
from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.temporal import start_dev_server
from wattlane.csms.models import TransactionHandoff, TransactionOutbox
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.csms.transactions import repository as transaction_rows
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import start_identity
from wattlane.simulator.station import SimStation
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.worker import Dependencies, task_queues

from .conftest import record_history, service_accounts_file

PASSWORD = "0123456789abcdef0123"
STATIONS = tuple((f"HO-{n}", PASSWORD) for n in range(3))


@pytest.fixture(scope="module")
async def temporal_own() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own: handoff workflow ids are transaction ids, which start
    at 1 in every fresh test database and must not meet another test's."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


@dataclass
class HandoffStack:
    identity: IdentityService
    secret: str
    db_url: str
    temporal: Client
    queue: str

    def csms_settings(self, *, temporal: bool) -> CsmsSettings:
        return CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=self.db_url,
            identity_address=f"127.0.0.1:{self.identity.port}",
            stations=STATIONS,
            process_id="handoff",
            temporal_address=self.temporal.service_client.config.target_host if temporal else "",
            billing_task_queue=self.queue,
            handoff_interval=1,
        )


@dataclass
class BillingWorker:
    worker: Worker
    task: asyncio.Task[None]
    link: IdentityLink
    csms: CsmsInternal
    identity: IdentityInternal
    billing: BillingClient

    @classmethod
    async def start(cls, stack: HandoffStack, csms_port: int, billing_address: str) -> BillingWorker:
        target = f"127.0.0.1:{stack.identity.port}"
        link = IdentityLink(target, client_id="worker", client_secret=stack.secret)
        identity = IdentityInternal(link, target)
        csms = CsmsInternal(link, f"127.0.0.1:{csms_port}")
        billing = BillingClient(billing_address, token_provider=link.service_token)
        deps = Dependencies(
            stack.temporal,
            identity,
            Mailer(SmtpSender("127.0.0.1", 1), identity),
            csms=csms,
            billing=billing,
        )
        (queue,) = [q for q in task_queues(deps, billing_queue=stack.queue) if q.name == stack.queue]
        worker = Worker(
            stack.temporal,
            task_queue=queue.name,
            workflows=list(queue.workflows),
            activities=list(queue.activities),
            max_cached_workflows=0,
        )
        return cls(worker, asyncio.create_task(worker.run()), link, csms, identity, billing)

    async def stop(self) -> None:
        await self.worker.shutdown()
        await self.task
        await self.billing.close()
        await self.csms.close()
        await self.identity.close()
        await self.link.close()


@pytest.fixture
async def stack(
    temporal_own: WorkflowEnvironment, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[HandoffStack]:
    accounts, secret = service_accounts_file(tmp_path)
    identity = await start_identity(await databases.create("hoid"), service_accounts_file=str(accounts))
    try:
        yield HandoffStack(
            identity,
            secret,
            await databases.create("hocsms"),
            temporal_own.client,
            f"billing-{secrets.token_hex(4)}",
        )
    finally:
        await identity.stop()


async def _charge(service: CsmsService, sessions: int, meter: int) -> list[int]:
    """`sessions` complete 1.6 sessions spread over the stations; returns their ids."""
    ids = []
    stations = [SimStation(i, f"ws://127.0.0.1:{service.port}/ocpp", password=p) for i, p in STATIONS]
    for station in stations:
        await station.connect()
        await station.boot()
    for n in range(sessions):
        station = stations[n % len(stations)]
        transaction_id = await station.start_transaction(1, f"CARD{n}", meter + n)
        await station.meter_values(1, transaction_id, meter + n + 500)
        assert await station.stop_transaction(transaction_id, meter + n + 1000) == {}
        ids.append(transaction_id)
    for station in stations:
        await station.close()
    return ids


async def _wait(predicate: object, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


async def test_every_completed_transaction_is_handed_on_exactly_once(stack: HandoffStack) -> None:
    async with serve_fake_billing() as (billing, billing_address):
        await _handed_on_exactly_once(stack, billing, billing_address)


async def _handed_on_exactly_once(stack: HandoffStack, billing: FakeBilling, billing_address: str) -> None:
    # 1. CSMS and relay up, worker down: workflows start and wait for a worker.
    csms = CsmsService(stack.csms_settings(temporal=True))
    await csms.start()
    first = await _charge(csms, 6, 1000)
    db = Database(stack.db_url)

    async def relayed() -> bool:
        async with db.reader() as session:
            rows = await session.scalars(select(TransactionOutbox.relay_time))
            return all(t is not None for t in rows)

    await _wait(relayed)
    # 2. The CSMS stops; it comes back without Temporal (the relay "down"): the outbox fills.
    await csms.stop()
    csms = CsmsService(stack.csms_settings(temporal=False))
    await csms.start()
    second = await _charge(csms, 6, 5000)
    await csms.stop()
    async with db.reader() as session:
        waiting = await transaction_rows.waiting_handoffs(session, 100)
    assert waiting == sorted(second)
    # 3. Back with Temporal: the relay hands the waiting ones on.
    csms = CsmsService(stack.csms_settings(temporal=True))
    await csms.start()
    await _wait(relayed)
    # 4. A relay that crashed after starting the workflows and before marking them: the rows
    #    are unmarked again; the next pass finds every workflow already started.
    async with db.transaction() as session:
        await session.execute(update(TransactionOutbox).values(relay_time=None))
    assert csms.handoff is not None
    assert await csms.handoff.relay_once() == 12
    # 5. The worker starts with billing down: nothing is recorded, nothing fails; billing
    #    comes back; the worker is stopped part-way and starts again.
    billing.down = True
    worker = await BillingWorker.start(stack, csms.grpc_port, billing_address)

    async def billing_asked() -> bool:
        return len(billing.requests) >= 3

    await _wait(billing_asked)
    async with db.reader() as session:
        assert await transaction_rows.count_rows(session, transaction_rows.HANDOFFS) == 0
    billing.down = False

    async def some_handed() -> bool:
        async with db.reader() as session:
            return await transaction_rows.count_rows(session, transaction_rows.HANDOFFS) >= 3

    await _wait(some_handed)
    await worker.stop()
    worker = await BillingWorker.start(stack, csms.grpc_port, billing_address)
    all_ids = sorted(first + second)

    async def all_handed() -> bool:
        async with db.reader() as session:
            return await transaction_rows.count_rows(session, transaction_rows.HANDOFFS) == len(all_ids)

    try:
        await _wait(all_handed)
        async with db.reader() as session:
            handoffs = list(await session.scalars(select(TransactionHandoff)))
            transactions = await transaction_rows.count_rows(session, transaction_rows.TRANSACTIONS)
        assert transactions == len(all_ids) == 12
        assert sorted(h.transaction_id for h in handoffs) == all_ids
        assert {h.workflow_id for h in handoffs} == {workflow_id(i) for i in all_ids}
        # One charge record per transaction, sealed before its handoff was recorded.
        assert sorted(billing.records) == sorted(f"transactions/{i}" for i in all_ids)
        assert len({r.name for r in billing.records.values()}) == len(all_ids)
        workflows = [w async for w in stack.temporal.list_workflows(f"TaskQueue = '{stack.queue}'")]
        assert sorted(w.id for w in workflows) == sorted(workflow_id(i) for i in all_ids)  # one each
        for i in all_ids:
            handle = stack.temporal.get_workflow_handle(workflow_id(i))
            await handle.result()
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        await record_history(stack.temporal, workflow_id(all_ids[0]), "transaction_handoff")
    finally:
        await worker.stop()
        await csms.stop()
        await db.dispose()
