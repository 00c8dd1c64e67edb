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
    logged and tried again: the task itself never dies. With `max_backoff`, the wait doubles
    per consecutive failure up to that cap, and kicks wait for it (a peer that is down is not
    hammered by every new piece of work)."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        interval: float,
        max_backoff: float | None = None,
        after_step: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._after = after_step
        self.interval = interval
        self.max_backoff = max_backoff
        self.failures = 0  # consecutive failed steps
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
        """Run the step now rather than at the next tick (unless backing off)."""
        self._wake.set()

    def next_wait(self) -> float:
        """Seconds until the next step: `interval`, or while failing the backoff."""
        if self.failures == 0 or self.max_backoff is None:
            return self.interval
        return float(min(self.max_backoff, self.interval * 2 ** min(self.failures, 30)))

    async def _loop(self) -> None:
        while True:
            if self.failures and self.max_backoff is not None:
                await asyncio.sleep(self.next_wait())
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self._step()
            except Exception:
                self.failures += 1
                log.warning(
                    "%s failed (%d in a row); retrying in %.1fs",
                    self.name,
                    self.failures,
                    self.next_wait(),
                    exc_info=True,
                )
            else:
                self.failures = 0
            if self._after is not None:
                try:
                    await self._after()
                except Exception:
                    log.debug("%s: after-step hook failed", self.name, exc_info=True)
