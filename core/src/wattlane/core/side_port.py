"""The HTTP side port of every process: `/metrics` (Prometheus), `/healthz` (alive) and
`/readyz` (ready; 503 while starting and from SIGTERM on, so the load balancer stops sending
before sockets close). It runs in a thread of its own: a scrape never waits for the event loop,
and a stuck loop is reported by `/healthz` rather than hanging it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from wattlane.core.health import Health
from wattlane.core.metrics import publish

log = logging.getLogger("wattlane.side_port")

Exposition = Callable[[], bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        health = self.server.health
        if path == "/metrics":
            publish()  # hot paths' plain counts into the catalog's metrics
            body = generate_latest(REGISTRY) + b"".join(extra() for extra in self.server.expositions)
            self._reply(200, body, CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            alive = health.is_alive()
            self._reply(200 if alive else 503, b"ok\n" if alive else b"event loop stalled\n")
        elif path == "/readyz":
            state = health.state
            self._reply(200 if state == "ready" else 503, f"{state}\n".encode())
        else:
            self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # probes every few seconds would drown the service's own log


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], health: Health, expositions: list[Exposition]) -> None:
        super().__init__(address, _Handler)
        self.health = health
        self.expositions = expositions


class SidePort:
    """Serves the side port on (host, port); port 0 picks a free one (`port` is the bound one)."""

    def __init__(self, host: str, port: int, health: Health) -> None:
        self.host = host
        self.requested_port = port
        self.health = health
        self.port = 0
        # More exposition text appended to /metrics (the worker adds the Temporal SDK's metrics).
        self.expositions: list[Exposition] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        self._server = _Server((self.host, self.requested_port), self.health, self.expositions)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="side-port", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
