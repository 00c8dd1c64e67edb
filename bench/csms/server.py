"""Server process for the benchmark: the CSMS (in-memory providers), the CSMS with its persistent
registry and message log (`csms-stored`: a SQLite file, or `--database-url`), or a raw websockets
echo server.

Started by `run.py` as `python -m bench.csms.server csms|csms-stored|echo`; prints `port <n>` when listening,
then answers `stats` lines on stdin with one JSON line (RSS, connected stations, ...) and exits on
`quit` or end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve

from wattlane.core.db import Database
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.runtime import raise_open_files_limit, run
from wattlane.csms.protocol.schemas import schema_set
from wattlane.csms.protocol.server import Csms, ListenerConfig
from wattlane.csms.providers.memory import memory_providers
from wattlane.csms.storage import Storage

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


async def serve_stored(database_url: str | None) -> None:
    """The CSMS as `wattlane up` runs it: registry and every frame of the log in the database."""
    memory = memory_providers(pattern=PATTERN, pattern_password=PASSWORD)
    for version in OcppVersion:
        schema_set(version).warm()
    with tempfile.TemporaryDirectory(prefix="bench-csms-") as tmp:
        db = Database(database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'csms.db'}")
        storage = Storage.build(db, memory.stations, memory.access, process="bench")
        await storage.start()
        csms = Csms(storage.providers, CsmsOptions())
        server = await csms.listen(ListenerConfig(port=0))
        print(f"port {server.sockets[0].getsockname()[1]}", flush=True)

        def stats() -> dict[str, Any]:
            return {
                "connected": len(csms.registry),
                "log_dropped": storage.message_log.dropped,
                "log_written": storage.message_log.written,
                "log_pending": storage.message_log.pending,
                "registry_dropped": storage.registry.writer.dropped,
            }

        await _control(stats)
        await csms.close()
        await storage.close()
        await db.dispose()


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
    parser.add_argument("kind", choices=["csms", "csms-stored", "echo"])
    parser.add_argument("--database-url", help="csms-stored: this database instead of a SQLite file")
    args = parser.parse_args()
    raise_open_files_limit()
    if args.kind == "csms-stored":
        run(serve_stored(args.database_url))
    else:
        run(serve_csms() if args.kind == "csms" else serve_echo())


if __name__ == "__main__":
    main()
