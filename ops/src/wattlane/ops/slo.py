"""The service level objectives, and the Prometheus rules that watch them (rendered into
charts/wattlane/rules/slo.yaml by `python -m wattlane.ops.render`; a test fails when stale).

Each SLO is an error ratio (bad events / all events) from metrics of core's catalog. One
recording rule per SLO and window, all named `slo:sli_error:ratio_rate<window>` with an `slo`
label (and the SLO's grouping labels), then multi-window, multi-burn-rate alerts as in the Google
SRE workbook (chapter 5, "Alerting on SLOs"), for a 30-day budget:

- page:   14.4x over 1h and 5m (2% of the budget in an hour), or 6x over 6h and 30m (5% in 6h);
- ticket: 3x over 1d and 2h (10% in a day), or 1x over 3d and 6h.

The long window says the budget really burns; the short one makes the alert stop soon after
the burning does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
RECORD = "slo:sli_error:ratio_rate{window}"
OBJECTIVE = "slo:objective:ratio"

# gRPC codes that are the server's fault (OPERATIONS.md): NotFound, InvalidArgument,
# PermissionDenied, ... are answers, not failures.
SERVER_ERRORS = "Unavailable|Internal|Unknown|DataLoss|DeadlineExceeded"
# Server-streaming exports last as long as the export: they are not in the latency SLO.
STREAMS = "Export.*"


@dataclass(frozen=True)
class Burn:
    """One alert rule: the SLI's error ratio above factor x budget over both windows (or the
    second pair's)."""

    severity: str
    windows: tuple[tuple[float, str, str], ...]  # (factor, long, short), OR-ed
    for_: str


BURNS = (
    Burn("page", ((14.4, "1h", "5m"), (6.0, "6h", "30m")), "2m"),
    Burn("ticket", ((3.0, "1d", "2h"), (1.0, "3d", "6h")), "15m"),
)


@dataclass(frozen=True)
class Slo:
    name: str  # the `slo` label
    alert: str  # the alert's name (docs/runbooks/<alert>.md)
    objective: float  # share of good events, e.g. 0.999
    bad: str  # PromQL rate of bad events, `{window}` where the range goes
    total: str  # PromQL rate of all events
    by: tuple[str, ...]  # grouping labels of the SLI (kept on the alert)
    summary: str
    description: str

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 6)

    def ratio(self, window: str) -> str:
        by = f" by ({', '.join(self.by)})" if self.by else ""
        bad = self.bad.replace("{window}", window)
        total = self.total.replace("{window}", window)
        # A group with traffic and no bad event at all has no bad series: `or` fills in its 0.
        return f"(\n  sum{by} ({bad})\nor\n  0 * sum{by} ({total})\n)\n/\nsum{by} ({total})"


SLOS = (
    Slo(
        name="grpc-availability",
        alert="WattlaneGrpcAvailabilityBurn",
        objective=0.999,
        bad=f'rate(wattlane_grpc_server_handled_total{{grpc_code=~"{SERVER_ERRORS}"}}[{{window}}])',
        total="rate(wattlane_grpc_server_handled_total[{window}])",
        by=("service",),
        summary="{{ $labels.service }} fails too many RPCs: its error budget burns",
        description=(
            "More than 0.1% of {{ $labels.service }}'s RPCs end with a server-side error "
            "(Unavailable, Internal, Unknown, DataLoss, DeadlineExceeded) at a rate that spends the "
            "30-day error budget too fast. See the per-service dashboard for the methods and codes."
        ),
    ),
    Slo(
        name="grpc-latency",
        alert="WattlaneGrpcLatencyBurn",
        objective=0.99,
        bad=(
            f'rate(wattlane_grpc_server_handling_seconds_count{{grpc_method!~"{STREAMS}"}}[{{window}}])\n'
            "- ignoring(le) rate(wattlane_grpc_server_handling_seconds_bucket"
            f'{{le="0.5",grpc_method!~"{STREAMS}"}}[{{window}}])'
        ),
        total=f'rate(wattlane_grpc_server_handling_seconds_count{{grpc_method!~"{STREAMS}"}}[{{window}}])',
        by=("service",),
        summary="{{ $labels.service }} answers too slowly: its latency budget burns",
        description=(
            "More than 1% of {{ $labels.service }}'s RPCs (streaming exports aside) take longer "
            "than 500 ms, at a rate that spends the 30-day budget too fast."
        ),
    ),
    Slo(
        name="ocpp-call-success",
        alert="WattlaneOcppCallSuccessBurn",
        objective=0.999,
        bad='rate(wattlane_ocpp_call_errors_total{direction="out",code="InternalError"}[{window}])',
        total='rate(wattlane_ocpp_messages_total{direction="in"}[{window}])',
        by=(),
        summary="Stations' OCPP calls fail on our side: the error budget burns",
        description=(
            "More than 0.1% of the calls stations send are answered with an InternalError CALLERROR "
            "(a dependency of the CSMS is down, or a handler fails), at a rate that spends the "
            "30-day budget too fast. The stations keep transaction messages queued and resend them."
        ),
    ),
)


def runbook(alert: str) -> str:
    """The runbook_url of an alert: the runbook's path in this repository (the chart's rule
    template may prefix it with where the repository is browsed)."""
    return f"docs/runbooks/{alert}.md"


def _alert_expr(slo: Slo, burn: Burn) -> str:
    selector = f'{{slo="{slo.name}"}}'
    branches = []
    for factor, long, short in burn.windows:
        threshold = f"({factor} * {slo.budget})"
        branches.append(
            f"(\n  {RECORD.format(window=long)}{selector} > {threshold}\n"
            f"and\n  {RECORD.format(window=short)}{selector} > {threshold}\n)"
        )
    return "\nor\n".join(branches)


def rules() -> dict[str, Any]:
    """The rule groups of slo.yaml: one group per SLO, its recording rules before its alerts (a
    group evaluates its rules in order, so an alert sees the ratios recorded in the same
    evaluation; across groups the order is not defined)."""
    groups: list[dict[str, Any]] = []
    for slo in SLOS:
        group: list[dict[str, Any]] = [
            {"record": OBJECTIVE, "expr": f"vector({slo.objective})", "labels": {"slo": slo.name}}
        ]
        for window in WINDOWS:
            group.append(
                {
                    "record": RECORD.format(window=window),
                    "expr": slo.ratio(window),
                    "labels": {"slo": slo.name},
                }
            )
        for burn in BURNS:
            group.append(
                {
                    "alert": slo.alert,
                    "expr": _alert_expr(slo, burn),
                    "for": burn.for_,
                    "labels": {"severity": burn.severity},
                    "annotations": {
                        "summary": slo.summary,
                        "description": slo.description,
                        "runbook_url": runbook(slo.alert),
                    },
                }
            )
        groups.append({"name": f"wattlane-slo-{slo.name}", "rules": group})
    return {"groups": groups}
