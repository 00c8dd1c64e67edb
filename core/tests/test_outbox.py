"""outbox: the one relay, against a real Temporal dev server and a real database (SQLite, or
PostgreSQL when WATTLANE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.ids import new_id
from wattlane.core.orm import BaseModel, new_metadata
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.temporal import start_dev_server

QUEUE = "outbox-test"  # no worker polls it: started workflows simply stay running


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


class Parcel(Base):
    """A test outbox: one row per thing to hand on."""

    __tablename__ = "parcels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    create_time: Mapped[dt.datetime]
    relay_time: Mapped[dt.datetime | None]


@dataclass(frozen=True)
class ParcelInput:
    parcel: str


TABLE = OutboxTable(
    "test-parcels",
    key=Parcel.id,
    created=Parcel.create_time,
    waiting=Parcel.relay_time.is_(None),
    done=lambda at: {"relay_time": at},
)


def workflow_id(run: str, parcel_id: str) -> str:
    return f"parcel-{run}-{parcel_id}"


def relay_for(db: Database, temporal: LazyClient, run: str, **options: float) -> WorkflowRelay:
    return WorkflowRelay(
        db,
        temporal,
        TABLE,
        lambda key: WorkflowStart("ParcelDelivery", ParcelInput(key), workflow_id(run, key), QUEUE),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("outbox"))
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


def lazy(env: WorkflowEnvironment) -> LazyClient:
    client = LazyClient("configured")
    client._client = env.client  # the environment's client, already connected
    return client


async def add_parcels(db: Database, count: int, *, age: float = 0.0) -> list[str]:
    ids = [new_id() for _ in range(count)]
    async with db.transaction() as session:
        for parcel_id in ids:
            session.add(
                Parcel(id=parcel_id, create_time=utcnow() - dt.timedelta(seconds=age), relay_time=None)
            )
    return ids


async def waiting(db: Database) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).where(TABLE.waiting)) or 0)


async def runs_of(env: WorkflowEnvironment, wf_id: str) -> list[WorkflowExecutionStatus | None]:
    return [e.status async for e in env.client.list_workflows(f"WorkflowId = '{wf_id}'")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_waiting_rows_start_one_workflow_each_and_are_marked(
    db: Database, temporal: WorkflowEnvironment
) -> None:
    run = new_id()
    ids = await add_parcels(db, 7)
    relay = relay_for(db, lazy(temporal), run, batch=3)  # several batches
    assert await relay.relay_once() == 7
    assert await waiting(db) == 0
    for parcel_id in ids:
        handle = temporal.client.get_workflow_handle(workflow_id(run, parcel_id))
        description = await handle.describe()
        assert description.workflow_type == "ParcelDelivery"
        assert description.task_queue == QUEUE
    assert await relay.relay_once() == 0  # nothing left: a second pass starts nothing
    assert await relay.export_stats() == (0, 0.0)


async def test_already_started_counts_as_delivered_and_a_finished_one_never_runs_again(
    db: Database, temporal: WorkflowEnvironment
) -> None:
    """A relay that crashed between starting and marking finds the workflow started (maybe even
    finished) on its next pass: the row is marked, and no second run exists."""
    run = new_id()
    running, finished = await add_parcels(db, 2)
    await temporal.client.start_workflow(
        "ParcelDelivery", ParcelInput(running), id=workflow_id(run, running), task_queue=QUEUE
    )
    done = await temporal.client.start_workflow(
        "ParcelDelivery", ParcelInput(finished), id=workflow_id(run, finished), task_queue=QUEUE
    )
    await done.terminate("delivered before the crash")
    relay = relay_for(db, lazy(temporal), run)
    assert await relay.relay_once() == 2
    assert await waiting(db) == 0
    assert await runs_of(temporal, workflow_id(run, running)) == [WorkflowExecutionStatus.RUNNING]
    assert await runs_of(temporal, workflow_id(run, finished)) == [WorkflowExecutionStatus.TERMINATED]


async def test_temporal_down_backs_off_keeps_every_row_and_reports_the_backlog(
    db: Database, temporal: WorkflowEnvironment
) -> None:
    run = new_id()
    ids = await add_parcels(db, 4, age=30)
    down = LazyClient(f"127.0.0.1:{closed_port()}", wait_seconds=0.2)
    relay = relay_for(db, down, run, interval=0.05, max_backoff=0.4)
    relay.start()
    try:
        for _ in range(200):
            if relay.failures >= 3:
                break
            await asyncio.sleep(0.05)
        assert relay.failures >= 3
        # The wait doubles per failure and stops at the cap.
        assert relay.next_wait() == 0.4
        assert relay_for(db, down, run, interval=0.05, max_backoff=60).next_wait() == 0.05
        pending, oldest = await relay.export_stats()
        assert pending == 4
        assert oldest >= 30
        assert REGISTRY.get_sample_value("wattlane_outbox_pending", {"outbox": "test-parcels"}) == 4
        age = REGISTRY.get_sample_value("wattlane_outbox_oldest_age_seconds", {"outbox": "test-parcels"})
        assert age is not None and age >= 30
        failures = REGISTRY.get_sample_value("wattlane_outbox_failures_total", {"outbox": "test-parcels"})
        assert failures is not None and failures >= 3
    finally:
        await relay.stop()
    assert await waiting(db) == 4  # nothing lost
    # Temporal is back: everything goes through, each once.
    assert await relay_for(db, lazy(temporal), run).relay_once() == 4
    for parcel_id in ids:
        assert await runs_of(temporal, workflow_id(run, parcel_id)) == [WorkflowExecutionStatus.RUNNING]


async def test_kick_relays_at_once(db: Database, temporal: WorkflowEnvironment) -> None:
    run = new_id()
    relay = relay_for(db, lazy(temporal), run, interval=60)
    relay.start()
    try:
        await asyncio.sleep(0.1)  # the first tick waits out its interval
        await add_parcels(db, 2)
        relay.kick()
        for _ in range(100):
            if await waiting(db) == 0:
                break
            await asyncio.sleep(0.05)
        assert await waiting(db) == 0
    finally:
        await relay.stop()


async def test_replicas_share_the_rows_and_start_each_once(
    db: Database, temporal: WorkflowEnvironment
) -> None:
    """Two relays on one outbox (two replicas): every row handed on; on PostgreSQL each row is
    claimed by one relay only (FOR UPDATE SKIP LOCKED)."""
    run = new_id()
    ids = await add_parcels(db, 40)
    first = relay_for(db, lazy(temporal), run, batch=5)
    second = relay_for(db, lazy(temporal), run, batch=5)
    counts = await asyncio.gather(first.relay_once(), second.relay_once())
    assert await waiting(db) == 0
    if not db.is_sqlite:
        assert sum(counts) == 40
    for parcel_id in ids:
        assert await runs_of(temporal, workflow_id(run, parcel_id)) == [WorkflowExecutionStatus.RUNNING]


async def test_an_unconfigured_temporal_hands_on_nothing(db: Database) -> None:
    await add_parcels(db, 1)
    relay = relay_for(db, LazyClient(""), new_id())
    assert await relay.relay_once() == 0
    assert await waiting(db) == 1
