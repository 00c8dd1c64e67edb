"""The Temporal SDK's own metrics on the worker's side port: schedule-to-start latencies, task
slots available and used, pollers, request and poll failures, activity and workflow task
failures, sticky cache, ...

The SDK's core exports Prometheus text on an HTTP port of its own. The worker binds it to a free
loopback port (never reachable from outside the pod) and appends what it serves to the side
port's `/metrics`, so one scrape sees ours and the SDK's. Counters carry `_total` and durations
are seconds with a `_seconds` suffix, so the combined text passes `promtool check metrics`. The
SDK's labels (namespace, task_queue, workflow_type, activity_type, ...) are bounded: the queues
and types this worker serves.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger("wattlane.worker.sdk_metrics")

_lock = threading.Lock()
_shared: SdkMetrics | None = None


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SdkMetrics:
    """A Temporal runtime exporting the SDK's metrics on 127.0.0.1:`port`; clients (and the
    workers built on them) must be connected with `runtime` for their metrics to show."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=f"127.0.0.1:{port}",
                    counters_total_suffix=True,
                    unit_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )

    def exposition(self) -> bytes:
        """The SDK's metrics as Prometheus text (empty, with a warning, if its port does not
        answer: our own metrics are still served)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as reply:
                body: bytes = reply.read()
        except OSError as error:
            log.warning("the Temporal SDK's metrics are unavailable: %s", error)
            return b""
        return body if not body or body.endswith(b"\n") else body + b"\n"


def sdk_metrics() -> SdkMetrics:
    """The process's one SDK runtime with metrics (Temporal advises one runtime per process; a
    worker restarted in the same process, as tests do, reuses it)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = SdkMetrics(_free_loopback_port())
        return _shared
