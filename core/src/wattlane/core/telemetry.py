"""OpenTelemetry tracing setup: one tracer provider per process, OTLP export when configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False
_exporting_to: set[str] = set()  # OTLP endpoints the process's provider already exports to


def configure_tracing(
    service: str, otlp_endpoint: str = "", processors: list[SpanProcessor] | None = None
) -> bool:
    """Install a tracer provider exporting to `otlp_endpoint` (gRPC) and/or `processors`.

    Returns whether tracing is on; with neither, spans are not recorded at all (no cost on the
    request path beyond one flag check). OpenTelemetry lets a process set its provider once: a
    later call (several services in one test process) adds its exporter and processors to that
    provider, each endpoint once, rather than building a provider nobody uses."""
    global _configured
    if not otlp_endpoint and not processors:
        return False
    provider = _installed() or TracerProvider(
        resource=Resource.create({"service.name": f"wattlane-{service}"})
    )
    if otlp_endpoint and otlp_endpoint not in _exporting_to:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        # Batched, off the request path. A process that forks after this loses the export
        # thread in the child (BatchSpanProcessor and fork do not mix): configure after forking.
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
        _exporting_to.add(otlp_endpoint)
    for processor in processors or []:
        provider.add_span_processor(processor)
    if not _configured:
        trace.set_tracer_provider(provider)
        _configured = True
    return True


def _installed() -> TracerProvider | None:
    """The SDK provider this module installed, if any."""
    provider = trace.get_tracer_provider()
    return provider if _configured and isinstance(provider, TracerProvider) else None


def flush(timeout_millis: int = 5000) -> bool:
    """Export every finished span now (a short-lived process before it exits, a test before it
    reads the collector); True when everything went out in time (or tracing is off)."""
    provider = _installed()
    return provider.force_flush(timeout_millis) if provider is not None else True


def tracer() -> trace.Tracer:
    return trace.get_tracer("wattlane")
