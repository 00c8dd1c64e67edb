"""What a process says about itself: alive (its event loop still turns) and ready (it takes
traffic). The side port answers `/healthz` and `/readyz` from here, from its own thread, so a
stuck event loop shows as not alive instead of as a hung probe."""

from __future__ import annotations

import asyncio
import threading
import time

from wattlane.core.metrics import EVENT_LOOP_LAG, READY


class Health:
    """Liveness and readiness of one process. `watch_loop` must run as a task on the loop."""

    def __init__(self, service: str, *, stall_seconds: float = 30.0) -> None:
        self.service = service
        self.stall_seconds = stall_seconds
        self._lock = threading.Lock()
        self._state = "starting"  # starting -> ready -> draining
        self._last_beat = time.monotonic()
        READY.labels(service).set(0)

    def ready(self) -> None:
        """Start taking traffic (the skeleton calls this once everything has started)."""
        with self._lock:
            if self._state == "starting":
                self._state = "ready"
                READY.labels(self.service).set(1)

    def draining(self) -> None:
        """Stop taking traffic for good (SIGTERM): /readyz turns 503 at once."""
        with self._lock:
            self._state = "draining"
            READY.labels(self.service).set(0)

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def is_ready(self) -> bool:
        return self.state == "ready"

    def is_alive(self) -> bool:
        """False when the event loop has not turned for `stall_seconds` (a blocked process)."""
        with self._lock:
            return time.monotonic() - self._last_beat < self.stall_seconds

    async def watch_loop(self, interval: float = 0.25) -> None:
        """Beat every `interval` seconds and record how late each beat came (event-loop lag)."""
        lag = EVENT_LOOP_LAG.labels(self.service)
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            now = time.monotonic()
            lag.observe(max(0.0, now - before - interval))
            with self._lock:
                self._last_beat = now
