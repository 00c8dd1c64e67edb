"""The relay half of a transactional outbox: rows committed with the business change wait for a
background task to hand them on (start a workflow, send a message) and mark them done.

A service writes its outbox rows in the same transaction as the change, calls `kick()` after the
commit, and gives the relay a `step` that hands on whatever is waiting. A failing step is logged
and retried on the next tick, so a row is never lost, only delayed; consumers deduplicate (e.g.
a workflow id derived from the row id) because a crash between hand-on and mark repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("wattlane.outbox")


class Relay:
    """Runs `step` after every `kick()` and at least every `interval` seconds."""

    def __init__(self, name: str, step: Callable[[], Awaitable[int]], *, interval: float = 2.0) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"outbox-relay-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        """Hand on waiting rows now (call after the transaction that wrote them commits)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self._step()
            except Exception:
                log.warning("outbox relay %s failed; will retry", self.name, exc_info=True)
