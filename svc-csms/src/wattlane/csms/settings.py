"""CSMS configuration: `WATTLANE_CSMS_<FIELD>` variables with these defaults (read once in main).

`python -m wattlane.csms settings` prints every variable with the value in force and its meaning
(secrets redacted). Besides what every process reads (`ProcessSettings`: the side port, logging,
tracing, drain and grace), the CSMS reads its listener, security profile, registries and links:
with `DATABASE_URL` empty the registry and the message log stay in memory (benchmarks, quick
local runs); with `ASSETS_ADDRESS` set, station credentials and access decisions come from assets,
otherwise from the static `STATIONS` list and the demo pattern; with `BILLING_ADDRESS` set,
stations are shown the costs of priced sessions (`protocol/costs.py`).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wattlane.contracts import task_queues
from wattlane.core import settings as core_settings
from wattlane.core.settings import ProcessSettings, SettingsError, doc, env_name
from wattlane.csms.protocol.security import SecurityProfile

PREFIX = "csms"


def parse_stations(value: object) -> tuple[tuple[str, str], ...]:
    """`identity:password,identity:password` (or pairs already) as (identity, password) pairs;
    the password may itself contain ':'."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, tuple | list):
        raise SettingsError(f"{env_name(PREFIX, 'stations')} must be a list of identity:password")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, tuple | list) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
            continue
        text = str(item).strip()
        if not text:
            continue
        identity, colon, password = text.partition(":")
        if not colon or not identity or not password:
            shown = identity or text[:20]
            raise SettingsError(
                f"{env_name(PREFIX, 'stations')} entries are identity:password, got {shown!r}"
            )
        pairs.append((identity, password))
    return tuple(pairs)


@dataclass(frozen=True)
class CsmsSettings(ProcessSettings):
    """Everything the CSMS reads from the environment, once, in main."""

    host: str = field(default="127.0.0.1", metadata=doc("listen address (WebSocket and gRPC)"))
    port: int = field(default=9000, metadata=doc("OCPP-J WebSocket port (0 = any free port)"))
    metrics_port: int = field(
        default=9161,
        metadata=doc("HTTP side port: /metrics, /healthz, /readyz (0 = any free port, -1 = off)"),
    )
    security_profile: SecurityProfile = field(
        default=SecurityProfile.BASIC,
        metadata=doc("1 = ws + Basic, 2 = TLS + Basic, 3 = TLS client certificates"),
    )
    tls_cert: str | None = field(default=None, metadata=doc("server certificate chain (profiles 2, 3)"))
    tls_key: str | None = field(default=None, metadata=doc("server private key (profiles 2, 3)"))
    tls_client_ca: str | None = field(
        default=None, metadata=doc("CA bundle that signs station certificates (profile 3)")
    )
    onboarding: bool = field(
        default=False, metadata=doc("let unknown stations in and answer their boot Pending")
    )
    heartbeat_interval: int = field(default=300, metadata=doc("seconds, sent to accepted stations"))
    stations: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=doc("static stations without assets: identity:password,identity:password", secret=True),
    )
    demo_pattern: str | None = field(
        default=None, metadata=doc("without assets: identities matching this regex are known ...")
    )
    demo_password: str | None = field(
        default=None, metadata=doc("... with this password (simulated fleets)", secret=True)
    )
    reuse_port: bool = field(default=False, metadata=doc("SO_REUSEPORT: several processes on one port"))
    validate_responses: bool = field(
        default=False, metadata=doc("check every reply against its schema before sending it")
    )
    database_url: str = field(
        default="",
        metadata=doc("registry, message log, transactions, commands (SQLAlchemy URL); empty: in memory"),
    )
    migrate_on_start: bool = field(default=True, metadata=doc("apply migrations before serving"))
    process_id: str = field(
        default_factory=socket.gethostname,
        metadata=doc("this process in the registry (a pod name); host name"),
    )
    log_retention_days: int = field(default=30, metadata=doc("message log lines older than this are purged"))
    command_retention_days: int = field(
        default=90, metadata=doc("finished remote-action commands older than this are purged")
    )
    idempotency_retention_days: int = field(
        default=7, metadata=doc("how long a request id replays its first answer")
    )
    housekeeping_interval: int = field(
        default=300, metadata=doc("seconds between purges and silent-station sweeps")
    )
    grpc_port: int = field(
        default=50061, metadata=doc("gRPC API port (StationService, commands, ...); 0 = any, -1 = off")
    )
    grpc_advertise: str = field(
        default="",
        metadata=doc("address other CSMS processes reach this one's gRPC at (default host:grpc port)"),
    )
    lease_seconds: float = field(
        default=30.0, metadata=doc("process lease: renewed every third; a process silent longer is gone")
    )
    call_timeout: float = field(
        default=30.0, metadata=doc("seconds a remote action waits for the station's answer")
    )
    close_spread_seconds: float = field(
        default=5.0,
        metadata=doc(
            "on SIGTERM, after DRAIN_SECONDS: station sockets close with 1001 spread over up to this many "
            "seconds (at least 200 a second, never longer than GRACE_SECONDS), so stations reconnect "
            "elsewhere gradually"
        ),
    )
    identity_address: str = field(
        default="", metadata=doc("identity's gRPC address (token keys, callers' scopes, service token)")
    )
    client_id: str = field(default="csms", metadata=doc("this service's account at identity"))
    client_secret: str = field(default="", metadata=doc("its secret", secret=True))
    assets_address: str = field(
        default="", metadata=doc("assets' gRPC address: station credentials and access decisions")
    )
    demo_owner: str = field(default="", metadata=doc("owner tenant id of static and demo stations"))
    demo_owner_path: str = field(default="", metadata=doc("owner tenant path of static and demo stations"))
    billing_address: str = field(
        default="",
        metadata=doc("billing's gRPC address: costs shown on stations (PriceSession); empty: no costs"),
    )
    cost_update_interval: float = field(
        default=60.0,
        metadata=doc(
            "seconds between running costs sent during a priced session (2.0.1 CostUpdated, 1.6 "
            "RunningCost); 0 = only in TransactionEvent replies and at the end"
        ),
    )
    pricing_timeout: float = field(
        default=1.0, metadata=doc("seconds a cost may take; a reply never waits longer and goes without one")
    )
    pricing_backoff: float = field(
        default=15.0, metadata=doc("seconds without costs after billing failed or was late")
    )
    cost_display_stations: str = field(
        default="",
        metadata=doc(
            "OCPP 1.6: regex of identities sent California pricing messages without asking; the "
            "others get them when their CustomDisplayCostAndPrice key is true"
        ),
    )
    temporal_address: str = field(
        default="", metadata=doc("Temporal for the transaction handoff; empty: the outbox waits")
    )
    temporal_namespace: str = field(default="default", metadata=doc("Temporal namespace"))
    billing_task_queue: str = field(default="billing", metadata=doc("task queue of the handoff workflows"))
    handoff_interval: int = field(
        default=2, metadata=doc("seconds between outbox passes (an ended transaction kicks one)")
    )
    firmware_task_queue: str = field(
        default=task_queues.FIRMWARE, metadata=doc("task queue of the FirmwareCampaign workflows")
    )
    campaign_poll_seconds: int = field(
        default=30, metadata=doc("seconds a campaign's workflow waits between looks at its progress")
    )

    def __post_init__(self) -> None:
        # `load` hands the list over as its comma-separated items (a `_FILE` secret as one string).
        object.__setattr__(self, "stations", parse_stations(self.stations))
        for name in ("lease_seconds", "call_timeout", "pricing_timeout", "campaign_poll_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{env_name(PREFIX, name)} must be positive, got {getattr(self, name)}")
        for name in ("close_spread_seconds", "cost_update_interval", "pricing_backoff"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{env_name(PREFIX, name)} must not be negative")
        if self.cost_display_stations:
            try:
                re.compile(self.cost_display_stations)
            except re.error as exc:
                raise SettingsError(f"{env_name(PREFIX, 'cost_display_stations')}: {exc}") from None


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> CsmsSettings:
    """Settings from `environ` (default: the process environment); `overrides` win."""
    return core_settings.load(CsmsSettings, PREFIX, environ, **overrides)
