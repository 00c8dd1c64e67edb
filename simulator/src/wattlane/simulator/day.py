"""A station's charging day, compressed: drivers plug in at random-ish but seeded times (busier
in the morning and late afternoon, quiet at night), with one of the station's cards, charge a
random amount of energy at up to the station's power, stay parked a while and leave. The same
seed and identity give the same day every run; the timestamps the CSMS sees are real ones.

`speed` is simulated seconds per real second: at 60 (the demo's) a day takes 24 minutes and a
20 kWh charge at 11 kW under two."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass

from wattlane.simulator.sessions import OFFLINE, ConnectorRunner, SessionPlan
from wattlane.simulator.station import SimCallError

HOUR = 3600.0


def mean_gap_hours(hour_of_day: float) -> float:
    """The mean time between two drivers arriving, by (simulated) hour of the day."""
    if 7 <= hour_of_day < 10 or 16 <= hour_of_day < 20:
        return 1.0  # arriving at work, coming home
    if 10 <= hour_of_day < 16:
        return 2.0
    if 20 <= hour_of_day < 23:
        return 3.0
    return 6.0  # the night


@dataclass(frozen=True)
class Day:
    """How one station's day of sessions is drawn."""

    cards: tuple[str, ...]
    max_power_w: int = 11_000
    speed: float = 60.0
    seed: int = 0
    sample_seconds: float = 10.0  # real seconds between meter values
    min_kwh: float = 4.0
    max_kwh: float = 40.0

    def sessions(self, identity: str) -> Iterator[tuple[float, SessionPlan]]:
        """Forever: (real seconds from the previous session's end to this plug-in, its plan)."""
        rng = random.Random(f"{self.seed}:{identity}")
        clock = 7 * HOUR + rng.uniform(0, HOUR)  # simulated time of day: the day starts at 7-8
        while True:
            gap = rng.expovariate(1 / (mean_gap_hours((clock / HOUR) % 24) * HOUR))
            clock += gap
            power_w = self.max_power_w * rng.uniform(0.6, 1.0)  # the car takes less than the most
            kwh = round(rng.uniform(self.min_kwh, self.max_kwh), 1)
            charging = kwh * 1000 / power_w * HOUR
            parked = rng.uniform(0.1, 2.5) * HOUR
            plan = SessionPlan(
                card=rng.choice(self.cards),
                kwh=kwh,
                charging_seconds=charging / self.speed,
                parked_seconds=parked / self.speed,
                sample_seconds=self.sample_seconds,
            )
            yield gap / self.speed, plan
            clock += charging + parked


async def charge_through_the_day(runner: ConnectorRunner, day: Day, *, first_after: float = 0.0) -> None:
    """Run `day`'s sessions on `runner` until cancelled; the first plug-in `first_after` seconds
    from now. A driver who finds the connector busy (a remote start) or unavailable leaves: that
    session is skipped. Offline, transaction messages queue and go out on reconnect."""
    await asyncio.sleep(first_after)
    for n, (gap, plan) in enumerate(day.sessions(runner.station.identity)):
        if n:
            await asyncio.sleep(gap)
        try:
            await runner.run(plan)
        except (*OFFLINE, SimCallError):
            continue  # dropped, or a message refused: the next driver comes as planned
