"""The one catalog of Prometheus metrics every Wattlane process may export.

Every metric is defined here, once, with its labels; processes import the objects they update.
Labels are bounded by construction: no station, tenant, user or transaction id ever becomes a
label value (a test walks the catalog and checks each label against `BOUNDED_LABELS`). Values
that come from outside (an OCPP action a station sends) pass through a normalizer that maps
anything unknown to "other".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# Every label name the catalog may use, with what bounds its values.
BOUNDED_LABELS: dict[str, str] = {
    "service": "the process kind: identity, assets, billing, csms, worker",
    "grpc_service": "a service of our protos",
    "grpc_method": "a method of our protos",
    "grpc_code": "one of the 17 gRPC status codes",
    "outbox": "an outbox declared in code",
    "writer": "a write-behind writer declared in code",
    "version": "ocpp1.6 or ocpp2.0.1",
    "action": "an OCPP action of the official schemas, or 'other'",
    "direction": "in (station to CSMS) or out (CSMS to station)",
    "result": "ok, callerror, timeout, invalid (answer breaks its schema) or closed (socket closed first); "
    "for cost prices: priced, unpriced, failed or skipped",
    "code": "an OCPP-J error code, or 'other'",
    "reason": "a handshake rejection reason declared in code",
    "workflow": "a workflow type declared in contracts",
    "outcome": "a workflow outcome declared in code",
    "certificate": "a certificate role declared in code (CERTIFICATES)",
}

# --- every process -------------------------------------------------------------------------

RPC_HANDLED = Counter(
    "wattlane_grpc_server_handled",
    "RPCs completed by the server, by method and status code.",
    ["service", "grpc_service", "grpc_method", "grpc_code"],
)
RPC_SECONDS = Histogram(
    "wattlane_grpc_server_handling_seconds",
    "Time from receiving an RPC to sending its status.",
    ["service", "grpc_service", "grpc_method"],
    buckets=_LATENCY_BUCKETS,
)
RPC_IN_FLIGHT = Gauge(
    "wattlane_grpc_server_in_flight",
    "RPCs being handled right now.",
    ["service"],
)
READY = Gauge(
    "wattlane_process_ready",
    "1 while the process takes traffic; 0 while starting and from SIGTERM on (draining).",
    ["service"],
)
EVENT_LOOP_LAG = Histogram(
    "wattlane_event_loop_lag_seconds",
    "How late the event loop ran a timer: time spent blocked by CPU work or blocking calls.",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# --- outboxes (identity's approvals and user mails, the CSMS's handoff, billing's later) -------

OUTBOX_PENDING = Gauge(
    "wattlane_outbox_pending",
    "Rows committed to an outbox and not yet handed on.",
    ["outbox"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "wattlane_outbox_oldest_age_seconds",
    "Age of the oldest row still waiting in an outbox (0 when it is empty).",
    ["outbox"],
)
OUTBOX_RELAYED = Counter(
    "wattlane_outbox_relayed",
    "Outbox rows handed on (their workflow started, or found already started).",
    ["outbox"],
)
OUTBOX_FAILURES = Counter(
    "wattlane_outbox_failures",
    "Relay passes that failed (Temporal or the database unavailable); the rows wait.",
    ["outbox"],
)

# --- write-behind (the CSMS's registry and message log) ------------------------------------------

WRITEBEHIND_WRITTEN = Counter(
    "wattlane_csms_writebehind_written", "Items written by a write-behind writer.", ["writer"]
)
WRITEBEHIND_DROPPED = Counter(
    "wattlane_csms_writebehind_dropped", "Items dropped because the writer fell behind.", ["writer"]
)
WRITEBEHIND_FAILED = Counter(
    "wattlane_csms_writebehind_failed_batches", "Batches given up after their retries.", ["writer"]
)
WRITEBEHIND_PENDING = Gauge("wattlane_csms_writebehind_pending", "Items waiting to be written.", ["writer"])

# --- the CSMS ------------------------------------------------------------------------------------

OCPP_CONNECTED = Gauge(
    "wattlane_ocpp_connected_stations",
    "Stations with an open OCPP-J connection to this process.",
    ["version"],
)
OCPP_CONNECTS = Counter(
    "wattlane_ocpp_connects",
    "Station connections accepted (handshake finished with a sub-protocol).",
    ["version"],
)
OCPP_DISCONNECTS = Counter(
    "wattlane_ocpp_disconnects",
    "Station connections closed, by either side.",
    ["version"],
)
OCPP_HANDSHAKE_REJECTIONS = Counter(
    "wattlane_ocpp_handshake_rejections",
    "WebSocket handshakes refused, by reason.",
    ["reason"],
)
OCPP_MESSAGES = Counter(
    "wattlane_ocpp_messages",
    "OCPP CALLs by version, action, direction (in: station to CSMS) and how they were answered.",
    ["version", "action", "direction", "result"],
)
OCPP_CALL_SECONDS = Histogram(
    "wattlane_ocpp_call_seconds",
    "From a CALL to its reply: our answer to a station's call (in), a station's answer to ours (out).",
    ["action", "direction"],
    buckets=_LATENCY_BUCKETS,
)
OCPP_CALL_ERRORS = Counter(
    "wattlane_ocpp_call_errors",
    "CALLERRORs sent (out) or received (in), by OCPP-J error code.",
    ["version", "code", "direction"],
)
OCPP_COMMAND_TIMEOUTS = Counter(
    "wattlane_ocpp_command_timeouts",
    "Remote actions the station did not answer in time.",
    ["action"],
)

OCPP_COST_PRICES = Counter(
    "wattlane_ocpp_cost_prices",
    "Prices asked for costs shown on stations, by result: priced, unpriced (no tariff, or billing "
    "will not price it), failed (billing down, or no answer within the pricing timeout), "
    "skipped (not asked: paused after a failure).",
    ["result"],
)

# Handshake rejection reasons (the `reason` label of OCPP_HANDSHAKE_REJECTIONS).
HANDSHAKE_REASONS = (
    "unknown_station",  # HTTP 404
    "bad_credentials",  # HTTP 401
    "bad_path",  # not /ocpp/<identity>, or an identity outside the OCPP alphabet
    "no_subprotocol",  # no common sub-protocol: closed after the handshake
    "certificate",  # security profile 3: no or wrong client certificate
    "unavailable",  # the credential provider could not answer
)

# --- workflows -----------------------------------------------------------------------------------

WORKFLOW_OUTCOMES = Counter(
    "wattlane_workflow_outcomes",
    "Business outcomes of workflows (approvals decided, reminders sent, handoffs recorded, ...).",
    ["workflow", "outcome"],
)
ACTIVITY_SECONDS = Histogram(
    "wattlane_activity_seconds",
    "Time our activities take, by workflow and outcome.",
    ["workflow", "outcome"],
    buckets=_SLOW_BUCKETS,
)

# --- billing -------------------------------------------------------------------------------------
# Declared ahead of the settlement workflow, so the alert that watches it (WattlaneSettlementOverdue
# in charts/wattlane/rules) names a metric of this catalog. Nothing sets it yet.

SETTLED_THROUGH = Gauge(
    "wattlane_billing_settled_through_timestamp_seconds",
    "End (Unix time, UTC, exclusive) of the latest billing period whose settlement finished: every "
    "charge record before it is invoiced. Set by billing's settlement when a period is done (a "
    "monthly period settled on 3 December reads 1 December 00:00 UTC); alerts fire when the "
    "previous month is not settled by the end of the 3rd.",
    ["service"],
)

# --- certificates --------------------------------------------------------------------------------
# Declared ahead of the code that loads them (the CSMS's TLS for security profiles 2 and 3), so
# WattlaneCertificateExpiresSoon names a metric of this catalog. Nothing sets it yet.

CERTIFICATE_EXPIRY = Gauge(
    "wattlane_certificate_expiry_timestamp_seconds",
    "notAfter (Unix time) of a certificate the process relies on, by role (CERTIFICATES); a role "
    "that covers many certificates reports the earliest. Set when the certificate is loaded.",
    ["certificate"],
)

# Certificate roles (the `certificate` label of CERTIFICATE_EXPIRY).
CERTIFICATES = (
    "csms_server",  # the chain the CSMS presents to stations (profiles 2, 3)
    "station_client_ca",  # the CA bundle that signs station certificates (profile 3)
    "identity_signing",  # identity's token signing key's certificate, when it has one
)

# --- label value normalizers ---------------------------------------------------------------------

OCPP_VERSIONS = ("ocpp1.6", "ocpp2.0.1")
OTHER = "other"


class LabelSet:
    """A closed vocabulary for one label: known values pass, anything else reads as 'other'."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = frozenset(values)

    def __call__(self, value: str) -> str:
        return value if value in self.values else OTHER


# --- counting on hot paths ---------------------------------------------------------------------
# A labelled child's inc() or observe() costs about a microsecond (a lock per call): too much on
# a path that runs for every OCPP frame. Such a path counts in plain Python attributes and
# publishes the increments to the metrics above in a hook that runs before every scrape.

_BEFORE_SCRAPE: list[Callable[[], None]] = []
_SCRAPE_LOCK = threading.Lock()
_log = logging.getLogger("wattlane.metrics")


def before_scrape(hook: Callable[[], None]) -> None:
    """Run `hook` (on the scraping thread) before each exposition; it publishes plain counts."""
    if hook not in _BEFORE_SCRAPE:
        _BEFORE_SCRAPE.append(hook)


def publish() -> None:
    """Run every before-scrape hook (the side port calls it; so can tests reading REGISTRY)."""
    with _SCRAPE_LOCK:  # concurrent scrapes must not publish the same increments twice
        for hook in list(_BEFORE_SCRAPE):
            try:
                hook()
            except Exception:
                _log.exception("a metrics hook failed")


def catalog() -> list[MetricWrapperBase]:
    """Every metric defined above (what the catalog test walks)."""
    return [value for value in globals().values() if isinstance(value, MetricWrapperBase)]


def start_metrics_server(host: str, port: int) -> tuple[Any, Any, int]:
    """Serve /metrics alone on (host, port) (processes not yet on the skeleton's side port)."""
    server, thread = start_http_server(port, addr=host)
    return server, thread, int(server.server_port)
