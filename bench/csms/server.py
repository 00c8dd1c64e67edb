"""Server process for the benchmark: the CSMS (in-memory providers) or a raw websockets echo server.

Started by `run.py` as `python -m bench.csms.server csms|echo`; prints `port <n>` when listening,
then answers `stats` lines on stdin with one JSON line (RSS, connected stations, ...) and exits on
`quit` or end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve

from wattlane.csms.errors import OcppVersion
from wattlane.csms.memory import memory_providers
from wattlane.csms.options import CsmsOptions
from wattlane.csms.runtime import raise_open_files_limit, run
from wattlane.csms.schemas import schema_set
from wattlane.csms.server import Csms, ListenerConfig

PASSWORD = "bench-password-0123456789"
PATTERN = r"SIM-\d+"


def rss_kb() -> int:
    """Resident set size of this process in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _control(stats: Any) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        if line == b"quit":
            return
        gc.collect()
        print(orjson.dumps({"rss_kb": rss_kb(), **stats()}).decode(), flush=True)


async def serve_csms() -> None:
    """The CSMS as `main.py` runs it, plus stats; the message log keeps only a small window."""
    # A database sink keeps nothing in RAM: keep only a small window of the log here.
    memory = memory_providers(pattern=PATTERN, pattern_password=PASSWORD, log_max_entries=1000)
    for version in OcppVersion:
        schema_set(version).warm()  # compile up front so the baseline RSS includes the validators
    csms = Csms(memory.providers(), CsmsOptions())
    memory.message_log.start()
    server = await csms.listen(ListenerConfig(port=0))
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)

    def stats() -> dict[str, Any]:
        return {
            "connected": len(csms.registry),
            "online": memory.events.online_count(),
            "booted": len(memory.events.boots),
            "log_dropped": memory.message_log.dropped,
        }

    await _control(stats)
    await csms.close()
    await memory.message_log.close()


async def serve_echo() -> None:
    """The baseline: websockets with the same settings, echoing every message."""
    connections: set[ServerConnection] = set()

    async def echo(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            connections.discard(ws)

    server: Server = await serve(echo, "127.0.0.1", 0, compression=None, backlog=4096, max_size=1024 * 1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await _control(lambda: {"connected": len(connections)})
    server.close()
    await server.wait_closed()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["csms", "echo"])
    kind = parser.parse_args().kind
    raise_open_files_limit()
    run(serve_csms() if kind == "csms" else serve_echo())


if __name__ == "__main__":
    main()
