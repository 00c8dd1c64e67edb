"""Billing configuration: `WATTLANE_BILLING_<FIELD>` variables with these defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlane.core import settings as core_settings
from wattlane.core.settings import ProcessSettings


@dataclass(frozen=True)
class BillingSettings(ProcessSettings):
    """Everything billing reads from the environment, once, in main (the side port, logging,
    tracing and drain settings come from `ProcessSettings`)."""

    database_url: str = field(
        default="sqlite+aiosqlite:///data/billing.db", metadata={"help": "SQLAlchemy URL"}
    )
    host: str = field(default="127.0.0.1", metadata={"help": "gRPC listen address"})
    port: int = field(default=50053, metadata={"help": "gRPC port (0 = any free port)"})
    metrics_port: int = field(
        default=9154, metadata={"help": "HTTP side port: /metrics, /healthz, /readyz (-1 = off)"}
    )
    migrate_on_start: bool = field(default=True, metadata={"help": "apply migrations before serving"})
    identity_address: str = field(default="127.0.0.1:50051", metadata={"help": "identity gRPC endpoint"})
    csms_address: str = field(
        default="127.0.0.1:50061",
        metadata={"help": "CSMS gRPC endpoint (RecordCharge reads the completed transaction there)"},
    )
    client_id: str = field(default="billing", metadata={"help": "service account of billing at identity"})
    client_secret: str = field(default="", metadata={"help": "its secret", "secret": True})
    scope_cache_seconds: float = field(default=10.0, metadata={"help": "how long a caller's scope is cached"})


def load(**overrides: Any) -> BillingSettings:
    """Settings from the environment; `overrides` win."""
    return core_settings.load(BillingSettings, "billing", **overrides)
