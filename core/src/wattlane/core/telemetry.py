"""OpenTelemetry tracing setup: one tracer provider per process, OTLP export when configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(
    service: str, otlp_endpoint: str = "", processors: list[SpanProcessor] | None = None
) -> bool:
    """Install a tracer provider exporting to `otlp_endpoint` (gRPC) and/or `processors`.

    Returns whether tracing is on; with neither, spans are not recorded at all (no cost on the
    request path beyond one flag check)."""
    global _configured
    if not otlp_endpoint and not processors:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": f"wattlane-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
    for processor in processors or []:
        provider.add_span_processor(processor)
    if not _configured:
        trace.set_tracer_provider(provider)
        _configured = True
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer("wattlane")
