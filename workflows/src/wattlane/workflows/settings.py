"""Worker configuration: `WATTLANE_WORKER_<FIELD>` variables with these defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlane.core import settings as core_settings
from wattlane.core.settings import ProcessSettings, doc


@dataclass(frozen=True)
class WorkerSettings(ProcessSettings):
    """Everything the worker reads from the environment, once, in main (the side port, logging,
    tracing and drain settings come from `ProcessSettings`; `grace_seconds` is how long running
    activities get to finish at shutdown before they are cancelled and retried elsewhere)."""

    host: str = field(
        default="127.0.0.1",
        metadata=doc("listen address of the side port (0.0.0.0 in a pod, so the kubelet's probes reach it)"),
    )
    metrics_port: int = field(
        default=9153,
        metadata=doc("HTTP side port: /metrics (ours and the Temporal SDK's), /healthz, /readyz (-1 = off)"),
    )
    temporal_address: str = field(default="127.0.0.1:7233", metadata=doc("Temporal frontend"))
    temporal_namespace: str = field(default="default", metadata=doc("Temporal namespace"))
    accounts_task_queue: str = field(
        default="accounts", metadata=doc("approvals, renewals and user mails run here")
    )
    billing_task_queue: str = field(
        default="billing", metadata=doc("transaction handoffs and monthly settlements run here")
    )
    identity_address: str = field(default="127.0.0.1:50051", metadata=doc("identity gRPC"))
    csms_address: str = field(
        default="127.0.0.1:50061", metadata=doc("CSMS gRPC (handoffs); empty: no billing queue")
    )
    billing_address: str = field(
        default="127.0.0.1:50053",
        metadata=doc("billing gRPC: handoffs seal records, settlements invoice them (empty: no settlements)"),
    )
    settlement_issuers: str = field(
        default="",
        metadata=doc(
            "issuers whose monthly settlement is scheduled (the 1st, 00:30 in their zone), "
            "comma-separated tenants/{id}:Europe/Brussels:BE (zone, VAT country)"
        ),
    )
    client_id: str = field(default="worker", metadata=doc("service account (client id or service name)"))
    client_secret: str = field(default="", metadata=doc("service account secret", secret=True))
    smtp_host: str = field(default="127.0.0.1", metadata=doc("SMTP relay for mail"))
    smtp_port: int = field(default=1025, metadata=doc("SMTP relay port"))
    app_url: str = field(default="http://localhost:8080", metadata=doc("base URL of links in mails"))


def load(**overrides: Any) -> WorkerSettings:
    return core_settings.load(WorkerSettings, "worker", **overrides)
