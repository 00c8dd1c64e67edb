"""The signed-in CLI session: the stack (every service address), the token (kept in a small file)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from opentelemetry import trace

from wattlane.cli.stack import Ports
from wattlane.core import telemetry
from wattlane.core.logs import current_trace_id

# Each service's address on a standard `wattlane up` (no --base-port).
DEFAULT_ADDRESSES = Ports().addresses()
DEFAULT_IDENTITY = DEFAULT_ADDRESSES["identity"]
# Where the CLI sends its traces (an OpenTelemetry collector's OTLP gRPC port); unset: no tracing.
OTLP_ENDPOINT = "WATTLANE_OTLP_ENDPOINT"


def home() -> Path:
    """Where the CLI keeps its session (WATTLANE_HOME, else ~/.config/wattlane)."""
    return Path(os.environ.get("WATTLANE_HOME") or Path.home() / ".config" / "wattlane")


def address_variable(service: str) -> str:
    """The environment variable naming a service's address, e.g. WATTLANE_CSMS_ADDRESS."""
    return f"WATTLANE_{service.upper()}_ADDRESS"


@dataclass
class Session:
    """Every service address of the stack signed into (so no command of the session silently
    talks to another stack), the token and who signed in. A WATTLANE_<SERVICE>_ADDRESS variable
    overrides the stored address of that service."""

    identity: str = DEFAULT_IDENTITY
    token: str = ""
    email: str = ""
    assets: str = DEFAULT_ADDRESSES["assets"]
    billing: str = DEFAULT_ADDRESSES["billing"]
    csms: str = DEFAULT_ADDRESSES["csms"]

    @classmethod
    def load(cls) -> Session:
        path = home() / "session.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})._overridden()

    @classmethod
    def for_stack(cls, base_port: int | None) -> Session:
        """A new session (no token yet) at the stack of `wattlane up --base-port base_port`, or of
        the standard ports when None; the address variables still override."""
        return cls(
            **(Ports.from_base(base_port).addresses() if base_port else DEFAULT_ADDRESSES)
        )._overridden()

    def _overridden(self) -> Session:
        for service in DEFAULT_ADDRESSES:
            setattr(self, service, os.environ.get(address_variable(service), getattr(self, service)))
        return self

    def addresses(self) -> dict[str, str]:
        """Service → address."""
        return {service: getattr(self, service) for service in DEFAULT_ADDRESSES}

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
    # A collector that is down costs a command at most ~2 s, and one line saying so.
    if not endpoint or not telemetry.configure_tracing("cli", endpoint, export_timeout=2.0):
        yield ""
        return
    logging.getLogger("opentelemetry.exporter").setLevel(logging.ERROR)  # not each retry
    try:
        with telemetry.tracer().start_as_current_span(command, kind=trace.SpanKind.CLIENT):
            yield current_trace_id()
    finally:
        telemetry.flush()
