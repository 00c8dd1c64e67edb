"""The worker process connects to a real Temporal dev server and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import sysconfig
from pathlib import Path

from wattlane.cli.stack import port_is_free


async def test_worker_connects_and_stops_on_sigterm(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    temporal = await asyncio.create_subprocess_exec(
        str(Path(sysconfig.get_path("scripts")) / "temporal"),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(tmp_path / "t.db"),
        "--log-level",
        "error",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while port_is_free(port):
            await asyncio.sleep(0.1)
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.workflows",
            env={
                **os.environ,
                "WATTLANE_WORKER_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
                "WATTLANE_WORKER_METRICS_PORT": "0",  # its side port on any free port
            },
            stderr=asyncio.subprocess.PIPE,
        )
        assert worker.stderr is not None
        line = await asyncio.wait_for(worker.stderr.readline(), 60)
        assert b"connected to Temporal" in line or b"worker running" in line, line
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        temporal.terminate()
        await temporal.wait()
