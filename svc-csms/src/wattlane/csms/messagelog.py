"""A non-blocking station message log: `record()` only appends; one task writes batches.

The hot path (every frame in and out) must not wait on storage, so entries go into a bounded
buffer and a background writer hands them to a `MessageSink` in batches, at most every
`flush_interval` seconds or as soon as `batch_size` entries are waiting. When the sink falls so
far behind that the buffer is full, the oldest entries are dropped and counted — the protocol
keeps running; the log loses lines (`dropped` says how many).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from wattlane.csms.providers import LogEntry

logger = logging.getLogger(__name__)


class MessageSink(Protocol):
    """Where batches of log entries go (a database table later; memory for tests and the demo)."""

    async def write_batch(self, entries: Sequence[LogEntry]) -> None:
        """Store `entries`; raise to have the batch counted as failed."""
        ...


class BatchingMessageLog:
    """A `MessageLog` that batches entries into a `MessageSink` from one background task."""

    def __init__(
        self,
        sink: MessageSink,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_pending: int = 100_000,
    ) -> None:
        self._sink = sink
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._buffer: collections.deque[LogEntry] = collections.deque(maxlen=max_pending)
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.failed_batches = 0

    def record(self, entry: LogEntry) -> None:
        """Enqueue `entry` (never blocks, never raises)."""
        if len(self._buffer) == self._max_pending:
            self.dropped += 1  # the deque drops the oldest entry on append
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch_size:
            self._wakeup.set()

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="message-log-writer")

    async def close(self) -> None:
        """Stop the writer after flushing what is buffered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now."""
        while self._buffer:
            count = min(len(self._buffer), self._batch_size)
            batch = [self._buffer.popleft() for _ in range(count)]
            try:
                await self._sink.write_batch(batch)
            except Exception:
                self.failed_batches += 1
                logger.exception("message log: a batch of %d entries could not be written", len(batch))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()
