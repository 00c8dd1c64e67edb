"""Prometheus metrics shared by every service (bounded labels only: no tenant or station ids)."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_HANDLED = Counter(
    "wattlane_grpc_server_handled",
    "RPCs completed by the server, by method and status code.",
    ["service", "grpc_service", "grpc_method", "grpc_code"],
)
RPC_SECONDS = Histogram(
    "wattlane_grpc_server_handling_seconds",
    "Time from receiving an RPC to sending its status.",
    ["service", "grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RPC_IN_FLIGHT = Gauge(
    "wattlane_grpc_server_in_flight",
    "RPCs being handled right now.",
    ["service"],
)


def start_metrics_server(host: str, port: int) -> tuple[WSGIServer, threading.Thread, int]:
    """Serve /metrics on (host, port); port 0 picks a free one. Returns the bound port too."""
    server, thread = start_http_server(port, addr=host)
    return server, thread, int(server.server_port)
