"""Assets configuration: `WATTLANE_ASSETS_<FIELD>` variables with these defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlane.core import settings as core_settings
from wattlane.core.settings import ProcessSettings


@dataclass(frozen=True)
class AssetsSettings(ProcessSettings):
    """Everything assets reads from the environment, once, in main (the side port, logging,
    tracing and drain settings come from `ProcessSettings`)."""

    database_url: str = field(
        default="sqlite+aiosqlite:///data/assets.db", metadata={"help": "SQLAlchemy URL"}
    )
    host: str = field(default="127.0.0.1", metadata={"help": "gRPC listen address"})
    port: int = field(default=50052, metadata={"help": "gRPC port (0 = any free port)"})
    metrics_port: int = field(
        default=9152, metadata={"help": "HTTP side port: /metrics, /healthz, /readyz (-1 = off)"}
    )
    migrate_on_start: bool = field(default=True, metadata={"help": "apply migrations before serving"})
    identity_address: str = field(default="127.0.0.1:50051", metadata={"help": "identity gRPC endpoint"})
    client_id: str = field(default="assets", metadata={"help": "service account of assets at identity"})
    client_secret: str = field(default="", metadata={"help": "its secret", "secret": True})
    csms_address: str = field(
        default="", metadata={"help": "CSMS gRPC endpoint for connected onboarding (empty: unavailable)"}
    )
    billing_address: str = field(
        default="",
        metadata={"help": "billing gRPC endpoint: rate plans reference its tariffs (empty: none can be set)"},
    )
    scope_cache_seconds: float = field(default=10.0, metadata={"help": "how long a caller's scope is cached"})
    reconcile_seconds: float = field(
        default=30.0, metadata={"help": "how often half-done point creations/removals are finished"}
    )
    reconcile_after_seconds: float = field(
        default=60.0, metadata={"help": "age after which a half-done creation is rolled back"}
    )


def load(**overrides: Any) -> AssetsSettings:
    """Settings from the environment; `overrides` win."""
    return core_settings.load(AssetsSettings, "assets", **overrides)
