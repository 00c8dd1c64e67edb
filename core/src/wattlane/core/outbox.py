"""The one outbox relay: rows committed in the same database transaction as a business change
are handed on to Temporal by a background task, each as one workflow with a deterministic id.

A service declares where its outbox rows live (`OutboxTable`) and which workflow each row
starts (`start_for`); the relay does the rest, the same way for every service:

- claim a batch of waiting rows, oldest first (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so several
  replicas share the work without starting a row twice at the same moment);
- start each row's workflow with its deterministic id and `REJECT_DUPLICATE`: "already started"
  means a previous pass (or another replica) delivered it, and counts as delivered — a finished
  workflow is never started again;
- mark the delivered rows;
- on errors (Temporal or the database down) log, count, and back off exponentially; the rows
  wait, nothing is lost;
- export the pending count and the oldest row's age (`wattlane_outbox_*`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.metrics import OUTBOX_FAILURES, OUTBOX_OLDEST_AGE, OUTBOX_PENDING, OUTBOX_RELAYED
from wattlane.core.periodic import Periodic
from wattlane.core.temporal import LazyClient

log = logging.getLogger("wattlane.outbox")


@dataclass(frozen=True)
class WorkflowStart:
    """What one outbox row starts: a workflow type with its one input, under a deterministic id."""

    workflow: str
    arg: Any
    id: str
    task_queue: str


@dataclass(frozen=True)
class OutboxTable:
    """Where an outbox's rows live.

    `key`: the column identifying a row (the workflow id derives from it); `created`: when the
    row was written (its age); `waiting`: the condition of rows not yet handed on; `done`: the
    column values that mark a row handed on, given the time it was."""

    name: str
    key: InstrumentedAttribute[Any]
    created: InstrumentedAttribute[dt.datetime]
    waiting: ColumnElement[bool]
    done: Callable[[dt.datetime], dict[str, Any]]

    @classmethod
    def flagged(
        cls,
        name: str,
        *,
        key: InstrumentedAttribute[Any],
        created: InstrumentedAttribute[dt.datetime],
        started: InstrumentedAttribute[bool],
    ) -> OutboxTable:
        """An outbox whose rows carry a "workflow started" flag (false until handed on)."""
        column = started.key
        return cls(
            name, key=key, created=created, waiting=started.is_(False), done=lambda _at: {column: True}
        )


class WorkflowRelay:
    """Relays one outbox into Temporal, after every `kick()` and at least every `interval`."""

    def __init__(
        self,
        db: Database,
        temporal: LazyClient,
        table: OutboxTable,
        start_for: Callable[[Any], WorkflowStart | Awaitable[WorkflowStart]],
        *,
        interval: float = 2.0,
        batch: int = 100,
        max_backoff: float = 60.0,
    ) -> None:
        self.db = db
        self.temporal = temporal
        self.table = table
        self.start_for = start_for
        self.batch = batch
        self._pending = OUTBOX_PENDING.labels(table.name)
        self._oldest = OUTBOX_OLDEST_AGE.labels(table.name)
        self._relayed = OUTBOX_RELAYED.labels(table.name)
        self._failed = OUTBOX_FAILURES.labels(table.name)
        self.periodic = Periodic(
            f"outbox-{table.name}",
            self._counted_pass,
            interval=interval,
            max_backoff=max_backoff,
            after_step=self.export_stats,  # the gauges follow every pass
        )

    # --- the background task -------------------------------------------------------------------

    def start(self) -> None:
        self.periodic.start()

    async def stop(self) -> None:
        """Stop relaying; rows not yet marked wait for the next start (of any replica)."""
        await self.periodic.stop()

    def kick(self) -> None:
        """Relay now (a service calls this after committing an outbox row)."""
        self.periodic.kick()

    @property
    def failures(self) -> int:
        """Consecutive failed passes (the backoff grows with them)."""
        return self.periodic.failures

    def next_wait(self) -> float:
        """Seconds until the next pass: `interval`, doubled per consecutive failure, capped."""
        return self.periodic.next_wait()

    async def _counted_pass(self) -> None:
        try:
            await self.relay_once()
        except Exception:
            self._failed.inc()
            raise

    # --- one pass ------------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Hand on every waiting row; returns how many were delivered. Raises when a start or
        the database fails (rows delivered before the failure are marked first)."""
        if not self.temporal.configured:
            return 0
        delivered = 0
        while True:
            handed = await self._relay_batch()
            delivered += handed
            if handed < self.batch:
                return delivered

    async def _relay_batch(self) -> int:
        if self.db.is_sqlite:
            # One writer at a time on SQLite: never hold its write lock while calling Temporal.
            async with self.db.reader() as session:
                keys = await self._claim(session, lock=False)
            started, error = await self._start_all(keys)
            async with self.db.transaction() as session:
                await self._mark(session, started)
        else:
            async with self.db.transaction() as session:
                keys = await self._claim(session, lock=True)
                started, error = await self._start_all(keys)
                await self._mark(session, started)
        self._relayed.inc(len(started))
        if error is not None:
            raise error
        return len(started)

    async def _claim(self, session: AsyncSession, *, lock: bool) -> list[Any]:
        t = self.table
        query = select(t.key).where(t.waiting).order_by(t.key).limit(self.batch)
        if lock:
            query = query.with_for_update(skip_locked=True)
        return list((await session.scalars(query)).all())

    async def _start_all(self, keys: Sequence[Any]) -> tuple[list[Any], Exception | None]:
        started: list[Any] = []
        for key in keys:
            try:
                await self.deliver(key)
            except Exception as error:
                return started, error
            started.append(key)
        return started, None

    async def deliver(self, key: Any) -> None:
        """Start the workflow of the row `key` (already started counts as delivered). Services
        also call it to make sure a row's workflow exists before they talk to it."""
        start = self.start_for(key)
        if inspect.isawaitable(start):  # a row whose input is read from the database
            start = await start
        client = await self.temporal.get()
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                start.workflow,
                start.arg,
                id=start.id,
                task_queue=start.task_queue,
                # The default policy lets a closed workflow's id start again: a relay that
                # crashed between starting and marking would then run a finished one twice.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def _mark(self, session: AsyncSession, keys: Sequence[Any]) -> None:
        if keys:
            t = self.table
            await session.execute(
                update(t.key.class_).where(t.key.in_(list(keys))).values(**t.done(utcnow()))
            )

    async def export_stats(self) -> tuple[int, float]:
        """Update and return (pending rows, age of the oldest in seconds)."""
        t = self.table
        async with self.db.reader() as session:
            count, oldest = (
                await session.execute(select(func.count(), func.min(t.created)).where(t.waiting))
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=dt.UTC)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        self._pending.set(count)
        self._oldest.set(age)
        return int(count), age
