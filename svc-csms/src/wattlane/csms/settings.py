"""Configuration from `WATTLANE_CSMS_*` environment variables (read once in `main.py`).

| variable | default | meaning |
|---|---|---|
| WATTLANE_CSMS_HOST | 127.0.0.1 | listen address |
| WATTLANE_CSMS_PORT | 9000 | listen port |
| WATTLANE_CSMS_SECURITY_PROFILE | 1 | 1 = ws + Basic, 2 = TLS + Basic, 3 = TLS client certificates |
| WATTLANE_CSMS_TLS_CERT / _TLS_KEY | - | server certificate chain and key (profiles 2, 3) |
| WATTLANE_CSMS_TLS_CLIENT_CA | - | CA bundle that signs station certificates (profile 3) |
| WATTLANE_CSMS_ONBOARDING | false | let unknown stations in and answer their boot Pending |
| WATTLANE_CSMS_HEARTBEAT_INTERVAL | 300 | seconds, sent to accepted stations |
| WATTLANE_CSMS_STATIONS | - | in-memory registry: `identity:password,identity:password` |
| WATTLANE_CSMS_DEMO_PATTERN | - | in-memory registry: identities matching this regex are known... |
| WATTLANE_CSMS_DEMO_PASSWORD | - | ...with this password (simulated fleets) |
| WATTLANE_CSMS_REUSE_PORT | false | set SO_REUSEPORT (several processes on one port) |
| WATTLANE_CSMS_VALIDATE_RESPONSES | false | check every reply against its schema before sending |
| WATTLANE_CSMS_LOG_LEVEL | INFO | Python logging level |
| WATTLANE_CSMS_DATABASE_URL | - | registry and message log database (SQLAlchemy URL); empty: in memory |
| WATTLANE_CSMS_MIGRATE_ON_START | true | run the Alembic migrations before serving |
| WATTLANE_CSMS_PROCESS_ID | host name | this process's name in the registry (a pod name) |
| WATTLANE_CSMS_LOG_RETENTION_DAYS | 30 | message log lines older than this are purged |
| WATTLANE_CSMS_COMMAND_RETENTION_DAYS | 90 | finished remote-action commands older than this are purged |
| WATTLANE_CSMS_IDEMPOTENCY_RETENTION_DAYS | 7 | how long a request id replays its first answer |
| WATTLANE_CSMS_HOUSEKEEPING_INTERVAL | 300 | seconds between purges and silent-station sweeps |
| WATTLANE_CSMS_GRPC_PORT | 50061 | gRPC API port (health, reflection, StationService); 0 = any, -1 = off |
| WATTLANE_CSMS_GRPC_ADVERTISE | host:grpc port | address other CSMS processes reach this one's gRPC at |
| WATTLANE_CSMS_LEASE_SECONDS | 30 | process lease: renewed every third; a process silent longer is gone |
| WATTLANE_CSMS_CALL_TIMEOUT | 30 | seconds a remote action waits for the station's answer |
| WATTLANE_CSMS_METRICS_PORT | -1 | Prometheus /metrics port; -1 = off |
| WATTLANE_CSMS_IDENTITY_ADDRESS | - | identity's gRPC address (token keys, callers' scopes, service token) |
| WATTLANE_CSMS_CLIENT_ID / _CLIENT_SECRET | csms / - | this service's account at identity (for assets) |
| WATTLANE_CSMS_ASSETS_ADDRESS | - | assets' gRPC address: station credentials and access decisions |
| WATTLANE_CSMS_DEMO_OWNER / _DEMO_OWNER_PATH | - | owner tenant id and path of static and demo stations |
| WATTLANE_CSMS_TEMPORAL_ADDRESS | - | Temporal for the transaction handoff; empty: the outbox waits |
| WATTLANE_CSMS_TEMPORAL_NAMESPACE | default | Temporal namespace |
| WATTLANE_CSMS_BILLING_TASK_QUEUE | billing | task queue of the handoff workflows |
| WATTLANE_CSMS_HANDOFF_INTERVAL | 2 | seconds between outbox passes (an ended transaction kicks one) |
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from wattlane.csms.protocol.security import SecurityProfile

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class CsmsSettings:
    """The standalone CSMS's settings."""

    host: str = "127.0.0.1"
    port: int = 9000
    security_profile: SecurityProfile = SecurityProfile.BASIC
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    onboarding: bool = False
    heartbeat_interval: int = 300
    stations: tuple[tuple[str, str], ...] = ()
    demo_pattern: str | None = None
    demo_password: str | None = None
    reuse_port: bool = False
    validate_responses: bool = False
    log_level: str = "INFO"
    database_url: str = ""
    migrate_on_start: bool = True
    process_id: str = field(default_factory=socket.gethostname)
    log_retention_days: int = 30
    command_retention_days: int = 90
    idempotency_retention_days: int = 7
    housekeeping_interval: int = 300
    grpc_port: int = 50061
    grpc_advertise: str = ""
    lease_seconds: float = 30.0
    call_timeout: float = 30.0
    metrics_port: int = -1
    identity_address: str = ""
    client_id: str = "csms"
    client_secret: str = ""
    assets_address: str = ""
    demo_owner: str = ""
    demo_owner_path: str = ""
    temporal_address: str = ""
    temporal_namespace: str = "default"
    billing_task_queue: str = "billing"
    handoff_interval: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CsmsSettings:
        """Read the settings; raise ValueError naming the variable that is wrong."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"WATTLANE_CSMS_{name}")
            return value if value not in (None, "") else None

        def integer(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"WATTLANE_CSMS_{name} must be an integer, not {raw!r}") from None

        def number(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"WATTLANE_CSMS_{name} must be a number, not {raw!r}") from None
            if value <= 0:
                raise ValueError(f"WATTLANE_CSMS_{name} must be positive")
            return value

        def flag(name: str, default: bool = False) -> bool:
            raw = get(name)
            return default if raw is None else raw.lower() in _TRUE

        stations: list[tuple[str, str]] = []
        for item in (get("STATIONS") or "").split(","):
            if item.strip():
                identity, colon, password = item.strip().partition(":")
                if not colon:
                    raise ValueError("WATTLANE_CSMS_STATIONS entries are identity:password")
                stations.append((identity, password))
        try:
            profile = SecurityProfile(integer("SECURITY_PROFILE", 1))
        except ValueError:
            raise ValueError("WATTLANE_CSMS_SECURITY_PROFILE must be 1, 2 or 3") from None
        return cls(
            host=get("HOST") or cls.host,
            port=integer("PORT", cls.port),
            security_profile=profile,
            tls_cert=get("TLS_CERT"),
            tls_key=get("TLS_KEY"),
            tls_client_ca=get("TLS_CLIENT_CA"),
            onboarding=flag("ONBOARDING"),
            heartbeat_interval=integer("HEARTBEAT_INTERVAL", cls.heartbeat_interval),
            stations=tuple(stations),
            demo_pattern=get("DEMO_PATTERN"),
            demo_password=get("DEMO_PASSWORD"),
            reuse_port=flag("REUSE_PORT"),
            validate_responses=flag("VALIDATE_RESPONSES"),
            log_level=get("LOG_LEVEL") or cls.log_level,
            database_url=get("DATABASE_URL") or "",
            migrate_on_start=flag("MIGRATE_ON_START", True),
            process_id=get("PROCESS_ID") or socket.gethostname(),
            log_retention_days=integer("LOG_RETENTION_DAYS", cls.log_retention_days),
            command_retention_days=integer("COMMAND_RETENTION_DAYS", cls.command_retention_days),
            idempotency_retention_days=integer("IDEMPOTENCY_RETENTION_DAYS", cls.idempotency_retention_days),
            housekeeping_interval=integer("HOUSEKEEPING_INTERVAL", cls.housekeeping_interval),
            grpc_port=integer("GRPC_PORT", cls.grpc_port),
            grpc_advertise=get("GRPC_ADVERTISE") or "",
            lease_seconds=number("LEASE_SECONDS", cls.lease_seconds),
            call_timeout=number("CALL_TIMEOUT", cls.call_timeout),
            metrics_port=integer("METRICS_PORT", cls.metrics_port),
            identity_address=get("IDENTITY_ADDRESS") or "",
            client_id=get("CLIENT_ID") or cls.client_id,
            client_secret=get("CLIENT_SECRET") or "",
            assets_address=get("ASSETS_ADDRESS") or "",
            demo_owner=get("DEMO_OWNER") or "",
            demo_owner_path=get("DEMO_OWNER_PATH") or "",
            temporal_address=get("TEMPORAL_ADDRESS") or "",
            temporal_namespace=get("TEMPORAL_NAMESPACE") or cls.temporal_namespace,
            billing_task_queue=get("BILLING_TASK_QUEUE") or cls.billing_task_queue,
            handoff_interval=integer("HANDOFF_INTERVAL", cls.handoff_interval),
        )
