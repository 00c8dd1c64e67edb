"""The CSMS protocol benchmark: ratios against a raw `websockets` echo server measured in the same run.

Each measurement starts a fresh server process (`server.py`) and drives it from this process with
the same lean clients (raw websockets + orjson; `SimStation` where a boot is needed):

1. Heartbeat round trips/s with 100 stations in a closed loop, p50/p99 latency (target >= 0.5x echo),
   for the in-memory CSMS and for the CSMS with its stored registry and message log;
2. RSS per idle station with 1,000 and 5,000 stations connected (CSMS: booted) (target <= 2x echo);
3. 10,000 stations connected to one CSMS process;
4. a storm: 5,000 stations connect and boot at once (target: all online within 10 s, none lost);
5. transactions (`bench/csms/transactions.py`): persisted MeterValues round trips and a
   compressed 1,000-station charging day with its count check.

Results are printed and written to .bench/csms.json. `--quick`: the round trips only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import Target
from bench.csms.server import PASSWORD
from wattlane.csms.protocol.runtime import raise_open_files_limit, run
from wattlane.simulator.station import SimStation

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT = b'[2,"1","Heartbeat",{}]'
RT_STATIONS = 100
RT_SECONDS = 3.0
RT_ROUNDS = 5
RSS_COUNTS = (1_000, 5_000)
BIG_FLEET = 10_000
STORM = 5_000


@dataclass
class ServerProcess:
    """A benchmark server in its own process."""

    kind: str
    process: asyncio.subprocess.Process
    port: int

    @classmethod
    async def start(cls, kind: str, *args: str) -> ServerProcess:
        """Start `python -m bench.csms.server <kind>` and wait for its port."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.csms.server",
            kind,
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line.startswith(b"port "):
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        return cls(kind, process, int(line.split()[1]))

    async def stats(self) -> dict[str, Any]:
        """RSS and counters from the server."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"stats\n")
        await self.process.stdin.drain()
        result: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.process.stdout.readline(), 30))
        return result

    async def stop(self) -> None:
        """Ask the server to close its connections and exit."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"quit\n")
        await self.process.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    @property
    def url(self) -> str:
        """Base URL for stations."""
        return f"ws://127.0.0.1:{self.port}/ocpp"


async def raw_connect(url: str, identity: str) -> ClientConnection:
    """The lean client connection used for round trips (Basic auth, no compression, no pings)."""
    return await connect(
        f"{url}/{identity}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers={"Authorization": _basic(identity)},
        compression=None,
        ping_interval=None,
        open_timeout=60,
        user_agent_header=None,
        proxy=None,  # as SimStation: no per-connection proxy lookup in the environment
    )


def _basic(identity: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{identity}:{PASSWORD}".encode()).decode()


async def round_trips(server: ServerProcess, stations: int = RT_STATIONS) -> tuple[float, list[float]]:
    """Closed-loop Heartbeats on `stations` connections: (round trips/s, latencies in s)."""
    conns = await asyncio.gather(*(raw_connect(server.url, f"SIM-{n}") for n in range(stations)))
    latencies: list[float] = []
    counting = False
    stop = False

    async def worker(ws: ClientConnection) -> int:
        done = 0
        while not stop:
            start = time.perf_counter()
            await ws.send(HEARTBEAT, text=True)
            await ws.recv(decode=False)
            if counting:
                latencies.append(time.perf_counter() - start)
                done += 1
        return done

    tasks = [asyncio.ensure_future(worker(ws)) for ws in conns]
    await asyncio.sleep(0.5)  # warm up
    counting = True
    begin = time.perf_counter()
    await asyncio.sleep(RT_SECONDS)
    counting = False
    elapsed = time.perf_counter() - begin
    stop = True
    total = sum(await asyncio.gather(*tasks))
    await asyncio.gather(*(ws.close() for ws in conns))
    return total / elapsed, latencies


async def bring_up(
    server: ServerProcess, count: int, *, concurrency: int | None, boot: bool
) -> tuple[float, int, list[Any]]:
    """Connect `count` stations (SimStation + boot for the CSMS; raw + one echo for the baseline)."""
    limit = asyncio.Semaphore(concurrency or count)
    failures = 0
    handles: list[Any] = []
    begin = time.perf_counter()

    async def one(n: int) -> None:
        nonlocal failures
        try:
            if boot:
                station = SimStation(f"SIM-{n}", server.url, password=PASSWORD, call_timeout=60)
                async with limit:
                    await station.connect(open_timeout=60)
                handles.append(station)
                answer = await station.boot()
                if answer.get("status") != "Accepted":
                    failures += 1
            else:
                async with limit:
                    ws = await raw_connect(server.url, f"SIM-{n}")
                handles.append(ws)
                await ws.send(HEARTBEAT, text=True)
                await ws.recv()
        except Exception:
            failures += 1

    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - begin, failures, handles


async def close_all(handles: list[Any]) -> None:
    """Close stations / raw connections."""
    for start in range(0, len(handles), 1000):
        await asyncio.gather(*(h.close() for h in handles[start : start + 1000]), return_exceptions=True)


async def rss_per_station(kind: str, count: int) -> dict[str, Any]:
    """Fresh server, baseline RSS, `count` idle stations, RSS again."""
    server = await ServerProcess.start(kind)
    try:
        base = await server.stats()
        seconds, failures, handles = await bring_up(server, count, concurrency=500, boot=kind == "csms")
        await asyncio.sleep(1.0)
        loaded = await server.stats()
        await close_all(handles)
    finally:
        await server.stop()
    return {
        "stations": count,
        "failures": failures,
        "connected": loaded["connected"],
        "kb_per_station": (loaded["rss_kb"] - base["rss_kb"]) / count,
        "base_rss_mb": base["rss_kb"] / 1024,
        "seconds": seconds,
    }


async def big_fleet() -> dict[str, Any]:
    """10,000 booted stations on one CSMS process."""
    server = await ServerProcess.start("csms")
    try:
        base = await server.stats()
        seconds, failures, handles = await bring_up(server, BIG_FLEET, concurrency=1000, boot=True)
        await asyncio.sleep(1.0)
        loaded = await server.stats()
        # Still serving: a round of heartbeats from a sample of the fleet.
        sample = handles[:: max(1, len(handles) // 200)]
        beat = time.perf_counter()
        await asyncio.gather(*(s.heartbeat() for s in sample))
        heartbeat_ms = (time.perf_counter() - beat) * 1000
        await close_all(handles)
    finally:
        await server.stop()
    return {
        "stations": BIG_FLEET,
        "failures": failures,
        "connected": loaded["connected"],
        "online": loaded["online"],
        "seconds": seconds,
        "kb_per_station": (loaded["rss_kb"] - base["rss_kb"]) / BIG_FLEET,
        "rss_mb": loaded["rss_kb"] / 1024,
        "sample_heartbeat_ms": heartbeat_ms,
        "sample_size": len(sample),
    }


async def storm(kind: str, *args: str) -> dict[str, Any]:
    """5,000 stations connect (and, on the CSMS, boot) at the same moment."""
    server = await ServerProcess.start(kind, *args)
    try:
        seconds, failures, handles = await bring_up(server, STORM, concurrency=None, boot=kind != "echo")
        stats = await server.stats()
        await close_all(handles)
    finally:
        await server.stop()
    return {
        "stations": STORM,
        "seconds": seconds,
        "failures": failures,
        "connected": stats["connected"],
        "online": stats.get("online", stats["connected"]),
        "booted": stats.get("booted", stats["connected"]),
        "log_dropped": stats.get("log_dropped", 0),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


RT_KINDS = ("echo", "csms", "csms-stored")


async def measure(*, quick: bool = False, database_url: str | None = None) -> dict[str, Any]:
    """Every measurement, in one run (`quick`: the round trips only, fewer rounds)."""
    results: dict[str, Any] = {"round_trips": {k: [] for k in RT_KINDS}, "latency_ms": {}}
    latencies: dict[str, list[float]] = {k: [] for k in RT_KINDS}
    stored_args = ("--database-url", database_url) if database_url else ()
    # The servers run back to back in each round, in rotating order, so that load from
    # elsewhere on the machine hits every side of a round's ratios alike.
    for round_number in range(3 if quick else RT_ROUNDS):
        shift = round_number % len(RT_KINDS)
        for kind in RT_KINDS[shift:] + RT_KINDS[:shift]:
            server = await ServerProcess.start(kind, *(stored_args if kind == "csms-stored" else ()))
            try:
                rate, lat = await round_trips(server)
            finally:
                await server.stop()
            results["round_trips"][kind].append(rate)
            latencies[kind].extend(lat)
    for kind, values in latencies.items():
        results["latency_ms"][kind] = {
            "p50": _percentile(values, 0.5) * 1000,
            "p99": _percentile(values, 0.99) * 1000,
        }
    if quick:
        return results
    results["idle_latency_ms"] = {}
    for kind in ("echo", "csms"):
        server = await ServerProcess.start(kind)
        try:
            _, values = await round_trips(server, stations=1)
        finally:
            await server.stop()
        results["idle_latency_ms"][kind] = {
            "p50": _percentile(values, 0.5) * 1000,
            "p99": _percentile(values, 0.99) * 1000,
        }
    results["rss"] = {kind: [await rss_per_station(kind, n) for n in RSS_COUNTS] for kind in ("echo", "csms")}
    results["big_fleet"] = await big_fleet()
    # The same storm against the echo server shows what the machine and the clients allow.
    results["storm_echo"] = await storm("echo")
    results["storm"] = await storm("csms")
    results["storm_stored"] = await storm("csms-stored", *stored_args)
    return results


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines with ratios and verdicts."""
    echo = statistics.median(results["round_trips"]["echo"])
    csms = statistics.median(results["round_trips"]["csms"])
    ratios = [
        c / e for e, c in zip(results["round_trips"]["echo"], results["round_trips"]["csms"], strict=True)
    ]
    ratio = statistics.median(ratios)
    lat = results["latency_ms"]
    lines = [
        f"Heartbeat round trips/s, {RT_STATIONS} stations in a closed loop, "
        f"median of {RT_ROUNDS} runs x {RT_SECONDS:.0f} s",
    ]
    for label, kind, rate in (("raw websockets echo", "echo", echo), ("Wattlane CSMS", "csms", csms)):
        lines.append(
            f"  {label:<20} {rate:9,.0f} rt/s  p50 {lat[kind]['p50']:6.2f} ms  p99 {lat[kind]['p99']:6.2f} ms"
        )
    lines.append(
        f"  ratio {ratio:.2f}x, median of the rounds' ratios {', '.join(f'{r:.2f}' for r in ratios)} "
        f"(target >= 0.50x)  {_verdict(ratio >= 0.5)}"
    )
    stored_rate = statistics.median(results["round_trips"]["csms-stored"])
    stored = statistics.median(_stored_ratios(results))
    lines.append(
        f"  CSMS + stored registry and log {stored_rate:9,.0f} rt/s  p50 {lat['csms-stored']['p50']:6.2f} ms"
        f"  p99 {lat['csms-stored']['p99']:6.2f} ms  ratio {stored:.2f}x, rounds "
        f"{', '.join(f'{r:.2f}' for r in _stored_ratios(results))} (target >= 0.50x)"
        f"  {_verdict(stored >= 0.5)}"
    )
    if "idle_latency_ms" not in results:
        return lines
    idle = results["idle_latency_ms"]
    lines.append(
        f"  one station alone: raw p50 {idle['echo']['p50']:.3f} ms p99 {idle['echo']['p99']:.3f} ms; "
        f"CSMS p50 {idle['csms']['p50']:.3f} ms p99 {idle['csms']['p99']:.3f} ms"
    )
    lines.append("RSS per idle station (CSMS stations booted)")
    for raw, ours in zip(results["rss"]["echo"], results["rss"]["csms"], strict=True):
        r = ours["kb_per_station"] / raw["kb_per_station"]
        lines.append(
            f"  {raw['stations']:6,} stations: raw {raw['kb_per_station']:5.1f} KB, "
            f"CSMS {ours['kb_per_station']:5.1f} KB, ratio {r:.2f}x (target <= 2x)  {_verdict(r <= 2)}"
        )
    big = results["big_fleet"]
    lines.append(
        f"{big['stations']:,} stations on one CSMS process: {big['connected']:,} connected, "
        f"{big['online']:,} online, {big['failures']} failed, up in {big['seconds']:.1f} s; "
        f"RSS {big['rss_mb']:.0f} MB ({big['kb_per_station']:.1f} KB/station); "
        f"{big['sample_size']} of them heartbeat in {big['sample_heartbeat_ms']:.0f} ms"
    )
    st = results["storm"]
    lost = st["stations"] - min(st["online"], st["booted"])
    ok = st["seconds"] <= 10 and lost == 0 and not st["failures"]
    lines.append(
        f"Storm: {st['stations']:,} stations connect + boot at once: all online in {st['seconds']:.2f} s, "
        f"{st['failures']} failed, {lost} lost (target <= 10 s, none lost)  {_verdict(ok)}"
    )
    stored_storm = results["storm_stored"]
    missing = stored_storm["stations"] - stored_storm["connected"]
    lines.append(
        f"  with the stored registry and log: {stored_storm['seconds']:.2f} s, "
        f"{stored_storm['failures']} failed, {missing} not connected"
    )
    raw = results["storm_echo"]
    lines.append(
        f"  baseline: the same {raw['stations']:,} clients connecting to the raw echo server at once "
        f"(no boot): {raw['seconds']:.2f} s, {raw['failures']} failed"
    )
    return lines


def _stored_ratios(results: dict[str, Any]) -> list[float]:
    rounds = results["round_trips"]
    return [c / e for e, c in zip(rounds["echo"], rounds["csms-stored"], strict=True)]


def targets(results: dict[str, Any]) -> list[Target]:
    """The issue's targets as ratios that must stay at or below their limit (a throughput that
    must reach 0.5x the raw echo is the echo's rate over ours staying <= 2x)."""
    ratios = [
        c / e for e, c in zip(results["round_trips"]["echo"], results["round_trips"]["csms"], strict=True)
    ]
    out = [
        Target("csms.heartbeat_round_trips (echo/CSMS)", 1 / statistics.median(ratios), 2.0),
        Target(
            "csms.heartbeat_round_trips_stored (echo/CSMS+DB)",
            1 / statistics.median(_stored_ratios(results)),
            2.0,
        ),
    ]
    if "rss" not in results:
        return out
    for raw, ours in zip(results["rss"]["echo"], results["rss"]["csms"], strict=True):
        out.append(
            Target(
                f"csms.rss_per_idle_station_{raw['stations']}",
                ours["kb_per_station"] / raw["kb_per_station"],
                2.0,
            )
        )
    st = results["storm"]
    lost = st["stations"] - min(st["online"], st["booted"])
    out.append(
        Target(
            f"csms.storm_{st['stations']}_seconds/10s",
            st["seconds"] / 10 if not lost and not st["failures"] else float("inf"),
            1.0,
            f"{st['seconds']:.1f} s, {lost} lost, {st['failures']} failed",
        )
    )
    return out


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the benchmark, print the report, return its targets (see bench/__main__.py)."""
    parser = argparse.ArgumentParser(prog="python -m bench.csms", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="heartbeat round trips only, 3 rounds")
    parser.add_argument(
        "--database-url", help="the stored CSMS's database (default: a SQLite file in a temporary directory)"
    )
    args = parser.parse_args(argv)
    raise_open_files_limit(BIG_FLEET * 2 + 1000)
    print(
        f"CSMS protocol benchmark ({os.cpu_count()} cores); server and load generator in separate processes"
    )
    results = run(measure(quick=args.quick, database_url=args.database_url))
    lines = report(results)
    print("\n".join(lines))
    out = ROOT / ".bench" / "csms.json"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(orjson.dumps({"results": results, "report": lines}, option=orjson.OPT_INDENT_2))
    if args.quick:
        return targets(results)
    from bench.csms.transactions import main as transactions_main

    return targets(results) + transactions_main([])
