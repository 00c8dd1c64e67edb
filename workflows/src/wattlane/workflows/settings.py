"""Worker configuration: `WATTLANE_WORKER_<FIELD>` variables with these defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlane.core import settings as core_settings


@dataclass(frozen=True)
class WorkerSettings:
    temporal_address: str = field(default="127.0.0.1:7233", metadata={"help": "Temporal frontend"})
    temporal_namespace: str = "default"
    accounts_task_queue: str = field(default="accounts", metadata={"help": "approvals and renewals"})
    billing_task_queue: str = field(default="billing", metadata={"help": "transaction handoffs"})
    identity_address: str = field(default="127.0.0.1:50051", metadata={"help": "identity gRPC"})
    csms_address: str = field(
        default="127.0.0.1:50061", metadata={"help": "CSMS gRPC (handoffs); empty: no billing queue"}
    )
    client_id: str = field(default="worker", metadata={"help": "service account (client id or service name)"})
    client_secret: str = field(default="", metadata={"help": "service account secret", "secret": True})
    smtp_host: str = field(default="127.0.0.1", metadata={"help": "SMTP relay for mail"})
    smtp_port: int = 1025
    app_url: str = field(default="http://localhost:8080", metadata={"help": "base URL of links in mails"})
    log_level: str = "info"
    log_json: bool = True
    otlp_endpoint: str = ""


def load(**overrides: Any) -> WorkerSettings:
    return core_settings.load(WorkerSettings, "worker", **overrides)
