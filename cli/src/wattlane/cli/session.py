"""The signed-in CLI session: which identity service, which token (kept in a small file)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from opentelemetry import trace

from wattlane.core import telemetry
from wattlane.core.logs import current_trace_id

DEFAULT_IDENTITY = "127.0.0.1:50051"
# Where the CLI sends its traces (an OpenTelemetry collector's OTLP gRPC port); unset: no tracing.
OTLP_ENDPOINT = "WATTLANE_OTLP_ENDPOINT"


def home() -> Path:
    """Where the CLI keeps its session (WATTLANE_HOME, else ~/.config/wattlane)."""
    return Path(os.environ.get("WATTLANE_HOME") or Path.home() / ".config" / "wattlane")


@dataclass
class Session:
    identity: str = DEFAULT_IDENTITY
    token: str = ""
    email: str = ""

    @classmethod
    def load(cls) -> Session:
        path = home() / "session.json"
        session = cls(**json.loads(path.read_text())) if path.exists() else cls()
        session.identity = os.environ.get("WATTLANE_IDENTITY_ADDRESS", session.identity)
        return session

    def save(self) -> Path:
        path = home() / "session.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    def clear(self) -> None:
        (home() / "session.json").unlink(missing_ok=True)


@contextmanager
def traced(command: str) -> Iterator[str]:
    """Run one CLI command as the root span of its trace when WATTLANE_OTLP_ENDPOINT is set; yields
    the trace id ('' when tracing is off). Every gRPC call made inside carries the trace context
    (core's client), so the services' spans join this trace; the spans are exported before the
    command returns (a CLI process lives too briefly for a background export)."""
    endpoint = os.environ.get(OTLP_ENDPOINT, "")
    if not endpoint or not telemetry.configure_tracing("cli", endpoint):
        yield ""
        return
    try:
        with telemetry.tracer().start_as_current_span(command, kind=trace.SpanKind.CLIENT):
            yield current_trace_id()
    finally:
        telemetry.flush()
