"""A background task that runs a step every `interval` seconds (and at once on `kick()`):
outbox relays, retention purges, anything a service does "from time to time"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("wattlane.periodic")


class BackgroundTask(Protocol):
    """What a service runs from start to stop (a Periodic, an outbox relay)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Periodic:
    """Runs `step` after every `kick()` and at least every `interval` seconds. A failing step is
    logged and tried again next time: the task itself never dies."""

    def __init__(self, name: str, step: Callable[[], Awaitable[object]], *, interval: float) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        """Run the step now rather than at the next tick."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self._step()
            except Exception:
                log.warning("%s failed; will retry", self.name, exc_info=True)
