"""telemetry + interceptor tracing: server spans per RPC, trace context across gRPC hops."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from wattlane.core import telemetry
from wattlane.core.client import channel
from wattlane.core.errors import NotFound
from wattlane.core.testing.probe import SERVICE, ProbeClient, serve_probe
from wattlane.core.testing.tokens import TokenMinter


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """Spans of this process. The global tracer provider can be set only once per process, so
    whichever test module of this worker comes first installs it; later ones add a processor."""
    memory = InMemorySpanExporter()
    processor = SimpleSpanProcessor(memory)
    if not telemetry._configured:
        assert telemetry.configure_tracing("probe", processors=[processor]) is True
    else:
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
        provider.add_span_processor(processor)
    return memory


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def server_spans(exporter: InMemorySpanExporter, name: str) -> Sequence[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == f"{SERVICE}/{name}"]


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def test_without_exporters_tracing_is_off() -> None:
    before = trace.get_tracer_provider()
    assert telemetry.configure_tracing("svc") is False
    assert telemetry.configure_tracing("svc", otlp_endpoint="") is False
    assert trace.get_tracer_provider() is before


async def test_one_server_span_per_call(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    async with (
        serve_probe(service="probe-traced", verifier=minter.verifier(), tracing=True) as (server, _),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        reply = await ProbeClient(ch).call("Whoami")
    (span,) = server_spans(spans, "Whoami")
    assert span.kind == trace.SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == 0
    assert span.status.status_code == trace.StatusCode.UNSET
    assert reply["trace_id"] == hex_trace(span)  # logs and audit entries of the call carry it
    assert str(span.resource.attributes["service.name"]).startswith("wattlane-")


async def test_failed_call_marks_the_span(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    async with serve_probe(service="probe-traced", verifier=minter.verifier(), tracing=True) as (
        server,
        probe,
    ):
        probe.failures["nf"] = NotFound("things/1")
        async with channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch:
            with pytest.raises(grpc.aio.AioRpcError):
                await ProbeClient(ch).call("Fail", {"error": "nf"})
            with pytest.raises(grpc.aio.AioRpcError):
                await ProbeClient(ch).call("Whoami", metadata=[("authorization", "Bearer nope")])
    (failed,) = server_spans(spans, "Fail")
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert failed.status.description == "NOT_FOUND"
    assert failed.attributes is not None
    assert failed.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    (refused,) = server_spans(spans, "Whoami")
    assert refused.status.description == "UNAUTHENTICATED"


async def test_incoming_traceparent_is_the_parent(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with (
        serve_probe(service="probe-traced", verifier=minter.verifier(), tracing=True) as (server, _),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        reply = await ProbeClient(ch).call(
            "Whoami", metadata=[("traceparent", f"00-{trace_id}-{parent_id}-01")]
        )
    (span,) = server_spans(spans, "Whoami")
    assert hex_trace(span) == trace_id == reply["trace_id"]
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_id


async def test_client_propagates_the_current_span(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    async with (
        serve_probe(service="probe-traced", verifier=minter.verifier(), tracing=True) as (server, _),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        with telemetry.tracer().start_as_current_span("job") as job:
            await ProbeClient(ch).call("Whoami")
    (span,) = server_spans(spans, "Whoami")
    assert span.parent is not None
    assert span.parent.span_id == job.get_span_context().span_id
    assert span.context is not None
    assert span.context.trace_id == job.get_span_context().trace_id


async def test_one_trace_across_two_services(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    token = minter.user_token()
    async with (
        serve_probe(service="probe-up", verifier=minter.verifier(), tracing=True) as (upstream, _),
        serve_probe(service="probe-down", verifier=minter.verifier(), tracing=True) as (downstream, _),
        channel(f"127.0.0.1:{upstream.port}", token=token, max_attempts=1) as ch,
    ):
        reply = await ProbeClient(ch).call(
            "Forward", {"target": f"127.0.0.1:{downstream.port}", "token": token}
        )
    (forward,) = server_spans(spans, "Forward")
    (whoami,) = server_spans(spans, "Whoami")
    assert reply["upstream"]["trace_id"] == reply["downstream"]["trace_id"] == hex_trace(forward)
    assert whoami.parent is not None
    assert forward.context is not None
    assert whoami.parent.span_id == forward.context.span_id


async def test_untraced_server_records_nothing(spans: InMemorySpanExporter, minter: TokenMinter) -> None:
    async with (
        serve_probe(service="probe-untraced", verifier=minter.verifier(), tracing=False) as (
            server,
            _,
        ),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        reply = await ProbeClient(ch).call("Whoami")
    assert server_spans(spans, "Whoami") == []
    assert reply["trace_id"] == ""
