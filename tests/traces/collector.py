"""An in-process OpenTelemetry collector for tests: a real OTLP/gRPC endpoint (the TraceService
of opentelemetry-proto) keeping every span it receives, from this process's exporter and from
child processes (the CLI) alike.

It serves from its own threads, not the test's event loop, so a blocking flush of this process's
exporter cannot wait on a loop it blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2


@dataclass(frozen=True)
class Span:
    """A received span, ids in hex as logs and audit entries carry them."""

    service: str  # the exporting process's service.name
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    attributes: Mapping[str, Any]
    linked_traces: tuple[str, ...]


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return (
        getattr(value, kind) if kind in ("string_value", "bool_value", "int_value", "double_value") else None
    )


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """See the module docstring."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)  # type: ignore[no-untyped-call]
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        """What WATTLANE_*_OTLP_ENDPOINT points at."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(None)

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received: list[Span] = []
        for resource_spans in request.resource_spans:
            service = next(
                (_value(a.value) for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        Span(
                            service=str(service),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            linked_traces=tuple(link.trace_id.hex() for link in span.links),
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self, trace_id: str) -> list[Span]:
        """Every span received so far of one trace."""
        with self._lock:
            return [s for s in self._spans if s.trace_id == trace_id]

    async def wait(
        self, trace_id: str, done: Callable[[Sequence[Span]], bool], timeout: float = 10.0
    ) -> list[Span]:
        """The trace's spans once `done(spans)` holds (exports arrive in batches); the spans so far
        when it never does (the test's assertions then say what is missing)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(trace_id)
            if done(spans) or time.monotonic() > deadline:
                return spans
            await asyncio.sleep(0.05)
