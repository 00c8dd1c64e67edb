"""A non-blocking station message log: `record()` only appends; the shared write-behind writer
(`writebehind.py`) hands the entries to a `MessageSink` in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wattlane.csms.providers.interfaces import LogEntry
from wattlane.csms.registry.writebehind import WriteBehind


class MessageSink(Protocol):
    """Where batches of log entries go (`logstore.DatabaseMessageSink`, or memory)."""

    async def write_batch(self, entries: Sequence[LogEntry]) -> None:
        """Store `entries`; raise to have the batch retried, then counted as failed."""
        ...


class BatchingMessageLog(WriteBehind[LogEntry]):
    """A `MessageLog` that batches entries into a `MessageSink` from one background task."""

    def __init__(
        self,
        sink: MessageSink,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__(
            sink,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            name="message-log-writer",
        )
