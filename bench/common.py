"""What every benchmark shares: timing statistics, tables, target lines, the event loop."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import statistics
import time
from array import array
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """A performance target: `ratio` (measured / baseline) must stay at or below `limit`."""

    name: str
    ratio: float
    limit: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.ratio <= self.limit

    def line(self) -> str:
        verdict = "OK" if self.ok else "MISSED"
        detail = f" [{self.detail}]" if self.detail else ""
        return f"{self.name} ratio {self.ratio:.2f}x (target <= {self.limit:.1f}x) {verdict}{detail}"


@dataclass(frozen=True)
class Stats:
    """Latency samples (seconds) summarized."""

    count: int
    median: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(
            len(samples), statistics.median(samples), percentile(samples, 99), statistics.fmean(samples)
        )


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(cells[0]), rule, *(fmt(r) for r in cells[1:])])


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a benchmark's async main on uvloop, as the services run (asyncio if it is missing)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def load_note() -> str:
    """The machine's load before a run: other busy processes skew every number."""
    try:
        with open("/proc/loadavg") as f:
            one, five = f.read().split()[:2]
    except OSError:
        return f"{os.cpu_count()} CPUs"
    return f"{os.cpu_count()} CPUs, load average {one} (1 min) {five} (5 min) before the run"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc); NaN elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load_concurrent(
    call: Callable[[int], Awaitable[object]], seconds: float, concurrency: int
) -> dict[str, Any]:
    """`concurrency` workers call `call(i)` (i counts calls) back to back for `seconds`.

    Returns calls, elapsed seconds, this process's CPU seconds and the latencies (array bytes),
    picklable for a parent process."""
    latencies = array("d")
    deadline = time.perf_counter() + seconds
    counter = 0
    cpu0 = time.process_time()

    async def worker() -> None:
        nonlocal counter
        while True:
            now = time.perf_counter()
            if now >= deadline:
                return
            i = counter
            counter += 1
            await call(i)
            latencies.append(time.perf_counter() - now)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "calls": len(latencies),
        "elapsed": elapsed,
        "client_cpu": time.process_time() - cpu0,
        "latencies": latencies.tobytes(),
    }


async def load_sequential(call: Callable[[int], Awaitable[object]], calls: int) -> dict[str, Any]:
    """`calls` calls of `call(i)`, one at a time (latency without queueing)."""
    latencies = array("d")
    started = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - t0)
    return {"calls": calls, "elapsed": time.perf_counter() - started, "latencies": latencies.tobytes()}
