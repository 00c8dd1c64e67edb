"""Alternating rounds of load against server processes: how a benchmark compares a server with
its baseline in the same run.

Each server and the load client run in their own process (spawn), so on two cores the client's
CPU does not eat into a server's. Per round every side is measured back to back, the order
alternating, with `concurrency` calls in flight (throughput, latency under load, the server
process's CPU time per call from /proc), then with `sequential_calls` calls one at a time.

A server process entry is `serve(*side.serve_args, conn)`: it sends its port on `conn`, then
serves until it receives anything. The client entry is `client(conn, *client_args)`: it answers
each command dict (`op` "concurrent" or "sequential", `target`, and the side's `command` fields)
with `load_concurrent` / `load_sequential`'s result, until `op` is "stop"."""

from __future__ import annotations

import multiprocessing
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.common import cpu_seconds


@dataclass
class Side:
    """One server under test and what was measured against it."""

    label: str
    serve_args: tuple[Any, ...]  # the server process entry's arguments before its connection
    command: dict[str, Any] = field(default_factory=dict)  # sent with every load command
    process: Any = None
    conn: Connection | None = None
    port: int = 0
    rps: list[float] = field(default_factory=list)
    cpu_per_call: list[float] = field(default_factory=list)  # server CPU seconds per call
    server_busy: list[float] = field(default_factory=list)  # server CPU seconds per second
    client_busy: list[float] = field(default_factory=list)
    concurrent: array[float] = field(default_factory=lambda: array("d"))
    sequential: array[float] = field(default_factory=lambda: array("d"))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Load:
    seconds: float  # per side and round, with `concurrency` calls in flight
    rounds: int
    concurrency: int
    sequential_calls: int  # per side and round, one call at a time
    warmup_seconds: float = 1.0
    start_timeout: float = 60.0


def run_rounds(
    sides: Sequence[Side],
    load: Load,
    *,
    serve: Callable[..., None],
    client: Callable[..., None],
    client_args: tuple[Any, ...] = (),
) -> None:
    """Start the servers and the client, warm up, run the rounds; fills in each side."""
    ctx = multiprocessing.get_context("spawn")
    client_conn, child_conn = ctx.Pipe()
    client_proc = ctx.Process(target=client, args=(child_conn, *client_args), daemon=True)
    try:
        for side in sides:  # start every process at once (each imports grpc and wattlane)
            side.conn, server_conn = ctx.Pipe()
            side.process = ctx.Process(target=serve, args=(*side.serve_args, server_conn), daemon=True)
            side.process.start()
        client_proc.start()
        for side in sides:
            assert side.conn is not None
            if not side.conn.poll(load.start_timeout):
                raise TimeoutError(f"{side.label}: the server did not start")
            side.port = side.conn.recv()

        def ask(side: Side, command: dict[str, Any]) -> tuple[dict[str, Any], float]:
            cpu0 = cpu_seconds(side.process.pid)
            client_conn.send({**command, **side.command, "target": side.target})
            result: dict[str, Any] = client_conn.recv()
            return result, cpu_seconds(side.process.pid) - cpu0

        under_load = {"op": "concurrent", "seconds": load.seconds, "concurrency": load.concurrency}
        for side in sides:  # warm up: connections made, caches filled
            ask(side, {**under_load, "seconds": load.warmup_seconds})
        for round_ in range(load.rounds):
            order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]  # alternate who goes first
            for side in order:
                result, cpu = ask(side, under_load)
                side.rps.append(result["calls"] / result["elapsed"])
                side.cpu_per_call.append(cpu / result["calls"])
                side.server_busy.append(cpu / result["elapsed"])
                side.client_busy.append(result["client_cpu"] / result["elapsed"])
                side.concurrent.frombytes(result["latencies"])
            for side in order:
                result, _ = ask(side, {"op": "sequential", "calls": load.sequential_calls})
                side.sequential.frombytes(result["latencies"])
        client_conn.send({"op": "stop"})
        client_proc.join(10)
    finally:
        for side in sides:
            if side.conn is not None:
                side.conn.send("stop")
            if side.process is not None:
                side.process.join(10)
                if side.process.is_alive():
                    side.process.terminate()
        if client_proc.is_alive():
            client_proc.terminate()
