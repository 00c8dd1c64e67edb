"""The message log in the database: every frame in and out, batched off the hot path, purged
after the retention period; a stuck store never holds up a reply and loses nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select

from wattlane.core.db import Database
from wattlane.core.migrations import upgrade_async
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import Message
from wattlane.csms.providers.interfaces import Direction, LogEntry
from wattlane.csms.providers.memory import MemoryLogSink, memory_providers
from wattlane.csms.registry import repository
from wattlane.csms.registry.logstore import DatabaseMessageSink, log_row, purge_messages
from wattlane.csms.registry.messagelog import BatchingMessageLog
from wattlane.csms.schema import MIGRATIONS
from wattlane.csms.testing import DEFAULT_PASSWORD, running_csms
from wattlane.simulator.station import SimStation


async def _fresh(databases: DatabaseFactory) -> Database:
    url = await databases.create("csmslog")
    await upgrade_async(url, MIGRATIONS)
    return Database(url)


class GatedSink:
    """A sink that holds every batch until `gate` opens (a database that hangs)."""

    def __init__(self, inner: DatabaseMessageSink) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.waiting = 0

    async def write_batch(self, entries: Sequence[LogEntry]) -> None:
        self.waiting += 1
        await self.gate.wait()
        await self.inner.write_batch(entries)


async def test_a_stuck_store_never_holds_up_a_reply_and_loses_nothing(databases: DatabaseFactory) -> None:
    db = await _fresh(databases)
    sink = GatedSink(DatabaseMessageSink(db))
    memory = memory_providers()
    memory.message_log = BatchingMessageLog(sink, batch_size=10, flush_interval=0.01)
    try:
        async with running_csms(memory=memory) as csms:
            station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
            await station.connect()
            await station.boot()
            for _ in range(50):  # answered while the writer is stuck on its first batch
                await station.heartbeat()
            await station.send_raw("not json")
            await station.next_unmatched()
            assert sink.waiting == 1 and not sink.gate.is_set()
            sink.gate.set()
            await station.close()
        # running_csms closed the log: everything buffered was written.
        async with db.reader() as session:
            rows = list(await session.scalars(select(Message).order_by(Message.id)))
        assert len(rows) == 2 + 100 + 2
        assert [(r.direction, r.message_type, r.action) for r in rows[:2]] == [
            ("in", 2, "BootNotification"),
            ("out", 3, "BootNotification"),
        ]
        assert rows[2].payload == {} and rows[3].payload["currentTime"]
        bad_in, bad_out = rows[-2:]
        assert (bad_in.message_type, bad_in.error, bad_in.payload) == (0, True, "not json")
        assert (bad_out.direction, bad_out.message_type, bad_out.error) == ("out", 4, True)
        assert bad_out.error_code in ("RpcFrameworkError", "FormationViolation")
        assert memory.message_log.dropped == 0 and memory.message_log.failed_batches == 0
    finally:
        await db.dispose()


async def test_retention_purges_old_lines_only(databases: DatabaseFactory) -> None:
    db = await _fresh(databases)
    now = dt.datetime.now(dt.UTC)
    old = (now - dt.timedelta(days=40)).timestamp()
    recent = (now - dt.timedelta(days=1)).timestamp()
    entries = [
        LogEntry(at, "CS1", Direction.IN, 2, str(n), "Heartbeat", {})
        for n, at in enumerate([old, old, recent])
    ]
    try:
        await DatabaseMessageSink(db).write_batch(entries)
        assert await purge_messages(db, dt.timedelta(days=30)) == 2
        async with db.reader() as session:
            assert await session.scalar(select(func.count()).select_from(Message)) == 1
            rows = await repository.list_messages(session, Message.identity == "CS1", None, 10)
        assert [r.message_id for r in rows] == ["2"]
    finally:
        await db.dispose()


def test_log_rows_cap_their_strings() -> None:
    entry = LogEntry(0.0, "CS1", Direction.OUT, 4, "x" * 100, "A" * 100, {"a": 1}, "E" * 100, "d" * 10_000)
    row = dict(zip(repository.MESSAGE_COLUMNS, log_row(entry), strict=True))
    assert len(row["message_id"]) == 64 and len(row["action"]) == 64 and len(row["error_code"]) == 64
    assert len(row["error_description"]) == 4000 and row["error"] is True
    assert row["time"] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) and row["payload"] == '{"a":1}'
    assert log_row(entry, sqlite=True)[1] == "1970-01-01 00:00:00.000000"


async def test_the_memory_sink_still_serves_the_demo() -> None:
    sink = MemoryLogSink()
    log = BatchingMessageLog(sink)
    log.record(LogEntry(0.0, "CS1", Direction.IN, 2, "1", "Heartbeat", {}))
    await log.close()
    assert len(sink.entries) == 1
