"""The write-behind writer: a batch taken from the buffer is written even when the flush that
took it is cancelled (a service stopping its housekeeping in the middle of a flush)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from wattlane.csms.registry.writebehind import WriteBehind


class GatedSink:
    """Holds every write until `gate` opens; remembers what was written, in order."""

    def __init__(self) -> None:
        self.written: list[int] = []
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()

    async def write_batch(self, entries: Sequence[int]) -> None:
        self.writing.set()
        await self.gate.wait()
        self.written.extend(entries)


async def test_a_flush_cancelled_during_a_write_loses_nothing_and_keeps_the_order() -> None:
    sink = GatedSink()
    writer: WriteBehind[int] = WriteBehind(sink, batch_size=3, flush_interval=3600, name="test-cancelled")
    for item in range(5):
        writer.record(item)
    flushing = asyncio.create_task(writer.flush())
    await sink.writing.wait()  # the batch [0, 1, 2] is out of the buffer, inside the sink
    assert writer.pending == 2
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    writer.record(5)
    sink.gate.set()
    await writer.close()
    assert sink.written == [0, 1, 2, 3, 4, 5]
    assert writer.written == 6


async def test_the_writer_task_waits_for_a_write_a_cancelled_flush_left_running() -> None:
    sink = GatedSink()
    writer: WriteBehind[int] = WriteBehind(sink, batch_size=2, flush_interval=0.01, name="test-running")
    writer.start()
    writer.record(1)
    writer.record(2)
    await sink.writing.wait()  # the writer task took [1, 2]
    outside = asyncio.create_task(writer.flush())
    writer.record(3)
    await asyncio.sleep(0.05)
    outside.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outside
    sink.gate.set()
    await writer.close()
    assert sink.written == [1, 2, 3]
