"""Write-behind: `record()` only appends; one background task hands batches to a sink.

The hot path (every frame in and out, every heartbeat and status) must not wait on storage, so
items go into a bounded buffer and a writer hands them to a `BatchSink` in batches, at most every
`flush_interval` seconds or as soon as `batch_size` items are waiting. A batch the sink fails to
write is tried again (`retries`), then counted in `failed_batches`. When the sink falls so far
behind that the buffer is full, the oldest items are dropped and counted (`dropped`): the protocol
keeps running and the store loses lines, which the counters and the log make visible.

A batch taken from the buffer is always written, even when the task that flushes is cancelled
(a service stopping its housekeeping mid-flush): the write runs shielded, and the next flush or
`close()` waits for it before taking more, so nothing is lost and the sink keeps the order.

The message log and the station registry's frequent updates share this one mechanism.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from wattlane.core.metrics import WRITEBEHIND_DROPPED as DROPPED
from wattlane.core.metrics import WRITEBEHIND_FAILED as FAILED
from wattlane.core.metrics import WRITEBEHIND_PENDING as PENDING
from wattlane.core.metrics import WRITEBEHIND_WRITTEN as WRITTEN

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class BatchSink(Protocol[T_contra]):
    """Where batches go (a database table, or memory for tests and the demo)."""

    async def write_batch(self, entries: Sequence[T_contra]) -> None:
        """Store `entries`; raise to have the batch retried, then counted as failed."""
        ...


class WriteBehind(Generic[T]):
    """Batches items into a `BatchSink` from one background task."""

    def __init__(
        self,
        sink: BatchSink[T],
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_pending: int = 100_000,
        retries: int = 2,
        retry_delay: float = 0.2,
        name: str = "write-behind",
    ) -> None:
        self._sink = sink
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._buffer: collections.deque[T] = collections.deque(maxlen=max_pending)
        self._max_pending = max_pending
        self._retries = retries
        self._retry_delay = retry_delay
        self._name = name
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        # The write of a taken batch; it outlives a cancelled flush and the next one awaits it.
        self._in_flight: asyncio.Future[None] | None = None
        self._stopping = False
        self.dropped = 0
        self.failed_batches = 0
        self.written = 0
        self._written_metric = WRITTEN.labels(name)
        self._dropped_metric = DROPPED.labels(name)
        self._failed_metric = FAILED.labels(name)
        PENDING.labels(name).set_function(lambda: len(self._buffer))

    def record(self, entry: T) -> None:
        """Enqueue `entry` (never blocks, never raises)."""
        if len(self._buffer) == self._max_pending:
            self.dropped += 1  # the deque drops the oldest entry on append
            self._dropped_metric.inc()
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch_size:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        """Items waiting to be written."""
        return len(self._buffer)

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def close(self) -> None:
        """Stop the writer after flushing what is buffered.

        The writer is asked to stop, not cancelled: a batch it has taken from the buffer is
        being written and would be lost."""
        if self._task is not None:
            self._stopping = True
            self._wakeup.set()
            try:
                await self._task
            finally:
                self._task = None
                self._stopping = False
        await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now (one flush at a time keeps the sink's order).

        Cancelling the caller never loses a batch already taken from the buffer: its write is
        shielded and finishes on its own; the next flush (or `close()`) waits for it first."""
        async with self._flushing:
            if self._in_flight is not None:
                await asyncio.shield(self._in_flight)
                self._in_flight = None
            while self._buffer:
                count = min(len(self._buffer), self._batch_size)
                batch = [self._buffer.popleft() for _ in range(count)]
                self._in_flight = asyncio.ensure_future(self._write(batch))
                await asyncio.shield(self._in_flight)
                self._in_flight = None

    async def _write(self, batch: list[T]) -> None:
        for attempt in range(self._retries + 1):
            try:
                await self._sink.write_batch(batch)
                self.written += len(batch)
                self._written_metric.inc(len(batch))
                return
            except Exception:
                if attempt == self._retries:
                    self.failed_batches += 1
                    self._failed_metric.inc()
                    logger.exception("%s: a batch of %d items could not be written", self._name, len(batch))
                    return
                await asyncio.sleep(self._retry_delay * (attempt + 1))

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()
