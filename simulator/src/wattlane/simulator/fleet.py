"""Many simulated stations in one process."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from wattlane.simulator import messages
from wattlane.simulator.station import SimStation, default_handlers


@dataclass
class FleetReport:
    """What happened when the fleet came up."""

    connected: int = 0
    accepted: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class Fleet:
    """N stations named `<prefix><n>` against one CSMS URL."""

    def __init__(
        self,
        url: str,
        count: int,
        *,
        protocol: str = messages.V16,
        prefix: str = "SIM-",
        start: int = 1,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        call_timeout: float = 30.0,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        """`keys` ({identity: AuthorizationKey}) names the stations instead of prefix/start/count,
        each with its own key (stations provisioned one by one, as in the demo)."""
        credentials = (
            dict(keys)
            if keys is not None
            else {f"{prefix}{n}": password for n in range(start, start + count)}
        )
        self.stations = [
            SimStation(
                identity,
                url,
                protocol=protocol,
                password=key,
                ssl_context=ssl_context,
                call_timeout=call_timeout,
                handlers=default_handlers(protocol),
            )
            for identity, key in credentials.items()
        ]

    def __iter__(self) -> Iterator[SimStation]:
        return iter(self.stations)

    def __len__(self) -> int:
        return len(self.stations)

    async def up(
        self,
        *,
        boot: bool = True,
        status: str | None = None,
        concurrency: int | None = None,
        open_timeout: float = 30.0,
    ) -> FleetReport:
        """Connect every station (at most `concurrency` handshakes at once), boot, report status."""
        report = FleetReport()
        limit = asyncio.Semaphore(concurrency or len(self.stations) or 1)
        begin = time.perf_counter()

        async def bring_up(station: SimStation) -> None:
            try:
                async with limit:
                    await station.connect(open_timeout=open_timeout)
                report.connected += 1
                if boot:
                    answer = await station.boot()
                    if answer.get("status") == "Accepted":
                        report.accepted += 1
                if status is not None:
                    await station.status(1, status)
            except Exception as exc:
                report.failed += 1
                if len(report.errors) < 10:
                    report.errors.append(f"{station.identity}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(bring_up(s) for s in self.stations))
        report.seconds = time.perf_counter() - begin
        return report

    def start_heartbeats(self, interval: float | None = None) -> None:
        """Start every connected station's heartbeat loop."""
        for station in self.stations:
            if station.ws is not None:
                station.start_heartbeats(interval)

    async def down(self) -> None:
        """Close every station (and end its reconnecting)."""
        await asyncio.gather(*(s.close() for s in self.stations), return_exceptions=True)
