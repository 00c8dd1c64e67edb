"""The relay half of a transactional outbox: rows committed with the business change wait for a
background task to hand them on (start a workflow, send a message) and mark them done.

A service writes its outbox rows in the same transaction as the change, calls `kick()` after the
commit, and gives the relay a `step` that hands on whatever is waiting. A failing step is logged
and retried on the next tick, so a row is never lost, only delayed; consumers deduplicate (e.g.
a workflow id derived from the row id) because a crash between hand-on and mark repeats it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wattlane.core.periodic import Periodic


class Relay(Periodic):
    """Runs `step` after every `kick()` and at least every `interval` seconds."""

    def __init__(self, name: str, step: Callable[[], Awaitable[int]], *, interval: float = 2.0) -> None:
        super().__init__(f"outbox-relay-{name}", step, interval=interval)
