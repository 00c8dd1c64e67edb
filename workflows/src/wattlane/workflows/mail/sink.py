"""A local SMTP sink (aiosmtpd): every mail it receives becomes a .eml file in a directory.
`wattlane up` runs one so a newcomer sees the mails; tests read mails from it."""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import signal
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.messages: list[EmailMessage] = []
        self._seq = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{next(self._seq):05d}-{'-'.join(envelope.rcpt_tos)[:60]}.eml".replace("/", "_")
            (self.directory / name).write_bytes(envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    """Run with `start()`/`stop()`; `messages` holds what arrived, in order."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, directory: Path | None = None) -> None:
        self._handler = _Handler(directory)
        if port == 0:  # aiosmtpd checks readiness by connecting to the port, so it must be known
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self._controller = Controller(self._handler, hostname=host, port=port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until at least `count` messages arrived."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                await asyncio.sleep(0.05)
        return self.messages


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink writing .eml files")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    sink = MailSink(port=args.port, directory=args.dir)
    sink.start()

    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
