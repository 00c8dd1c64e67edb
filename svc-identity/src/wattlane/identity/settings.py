"""Identity configuration: `WATTLANE_IDENTITY_<FIELD>` variables with these defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlane.core import settings as core_settings
from wattlane.core.settings import ProcessSettings


@dataclass(frozen=True)
class IdentitySettings(ProcessSettings):
    """Everything identity reads from the environment, once, in main (the side port, logging,
    tracing and drain settings come from `ProcessSettings`)."""

    database_url: str = field(
        default="sqlite+aiosqlite:///data/identity.db", metadata={"help": "SQLAlchemy URL"}
    )
    host: str = field(default="127.0.0.1", metadata={"help": "gRPC listen address"})
    port: int = field(default=50051, metadata={"help": "gRPC port (0 = any free port)"})
    metrics_port: int = field(
        default=9151, metadata={"help": "HTTP side port: /metrics, /healthz, /readyz (-1 = off)"}
    )
    migrate_on_start: bool = field(default=True, metadata={"help": "apply migrations before serving"})
    access_token_ttl_seconds: int = field(default=900, metadata={"help": "user token lifetime"})
    service_token_ttl_seconds: int = field(default=3600, metadata={"help": "service token lifetime"})
    scope_cache_seconds: float = field(default=10.0, metadata={"help": "how long a scope is cached"})
    idempotency_retention_seconds: float = field(
        default=7 * 24 * 3600, metadata={"help": "how long a request id replays its first answer"}
    )
    housekeeping_interval_seconds: float = field(
        default=3600, metadata={"help": "how often expired rows are purged"}
    )
    login_max_failures: int = field(default=5, metadata={"help": "failed sign-ins before a lockout"})
    login_failure_window_seconds: int = field(default=900, metadata={"help": "window that counts failures"})
    login_lockout_seconds: int = field(default=900, metadata={"help": "how long a lockout lasts"})
    invitation_ttl_seconds: int = 7 * 24 * 3600
    password_reset_ttl_seconds: int = 3600
    password_reset_mail_cooldown_seconds: float = field(
        default=60, metadata={"help": "at most one reset mail per user this often"}
    )
    # argon2id cost; RFC 9106's second recommended option by default (tests lower it).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    signing_key_file: str = field(default="", metadata={"help": "Ed25519 PEM; empty = key kept in the DB"})
    operator_name: str = field(default="Wattlane", metadata={"help": "display name of the root tenant"})
    bootstrap_admin_email: str = field(default="", metadata={"help": "first operator admin (created once)"})
    bootstrap_admin_password: str = field(default="", metadata={"help": "its first password", "secret": True})
    temporal_address: str = field(default="", metadata={"help": "Temporal frontend (empty: approvals off)"})
    temporal_namespace: str = "default"
    approval_task_queue: str = field(default="accounts", metadata={"help": "where approval workflows run"})
    approval_reminder_seconds: float = field(
        default=2 * 24 * 3600, metadata={"help": "remind Customer Success after this long without a decision"}
    )
    default_mail_domain: str = field(
        default="wattlane.local", metadata={"help": "From-domain without a brand"}
    )
    service_accounts_file: str = field(
        default="", metadata={"help": "JSON list of {service, secret, scopes} upserted on start"}
    )


def load(**overrides: Any) -> IdentitySettings:
    return core_settings.load(IdentitySettings, "identity", **overrides)
