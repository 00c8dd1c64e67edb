"""Staying connected as a real station does: after the connection closes for any reason (the
CSMS restarting or draining, the network, another connection with the same identity displacing
this one) it reconnects after an exponential backoff with jitter, capped, boots again, reports
its connectors' statuses, resumes heartbeats and sends the transaction messages queued while it
was offline. A connection that stayed up longer than the cap starts the backoff over."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed, WebSocketException

from wattlane.simulator.station import SimCallError, SimStation

# What failing to (re)connect looks like: refused, reset, a 401/404 handshake, no answer.
RETRYABLE = (OSError, TimeoutError, ConnectionError, ConnectionClosed, WebSocketException, SimCallError)


@dataclass(frozen=True)
class Backoff:
    """Delays before reconnect attempts: `first`, then times `factor` each attempt, at most
    `cap`; each drawn in [delay * (1 - jitter), delay] so a fleet dropped at once does not
    come back at once."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempt` (1, 2, ...)."""
        ceiling = min(self.cap, self.first * self.factor ** max(0, attempt - 1))
        return ceiling * (1.0 - self.jitter * rng.random())


async def bring_up(station: SimStation, *, status: str | None = None, heartbeat: float | None = None) -> None:
    """Connect, boot (as the station last booted), report its connectors (or connector 1 as
    `status` when it never reported one), start heartbeats and send what queued offline."""
    await station.connect()
    answer = await station.boot(**station.boot_kwargs)
    if answer.get("status") != "Accepted":
        # Pending or Rejected: a real station retries the boot later; here that is a reconnect.
        raise ConnectionError(f"{station.identity}: boot {answer.get('status')}")
    statuses = dict(station.connector_statuses)
    if not statuses and status is not None:
        statuses[(1, None)] = status
    for (connector, evse), value in statuses.items():
        extra = {"evse_id": evse} if evse is not None else {}
        await station.status(connector, value, **extra)
    station.start_heartbeats(heartbeat)
    while station.offline_queue:
        try:
            await station.replay_queue()
        except SimCallError:
            station.offline_queue.pop(0)  # the CSMS refused it: sending it again would not help


async def stay_connected(
    station: SimStation,
    backoff: Backoff | None = None,
    *,
    status: str | None = None,
    heartbeat: float | None = None,
    rng: random.Random | None = None,
) -> None:
    """Keep `station` connected until cancelled (see the module docstring); a station not yet
    connected is brought up first. Run it as a task (`station.spawn`, so `close` ends it)."""
    backoff = backoff or Backoff()
    rng = rng or random.Random()
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        if not station.connected:
            try:
                await bring_up(station, status=status, heartbeat=heartbeat)
            except RETRYABLE:
                if station.ws is not None:
                    await station.ws.close()
                attempt += 1
                station.reconnect_attempts += 1
                await asyncio.sleep(backoff.delay(attempt, rng))
                continue
        up_since = loop.time()
        assert station.ws is not None
        await station.ws.wait_closed()
        await station.stop_heartbeats()
        if loop.time() - up_since > backoff.cap:
            attempt = 0  # it was up a good while: this is a new outage, not the same one
        attempt += 1
        station.reconnect_attempts += 1
        await asyncio.sleep(backoff.delay(attempt, rng))
