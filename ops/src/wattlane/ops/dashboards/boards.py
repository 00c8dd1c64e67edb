"""The six dashboards: Overview, CSMS, Services (RED), Workflows and outboxes, Billing,
Campaigns. Every query names metrics of core's catalog (core/src/wattlane/core/metrics.py), the
Temporal SDK's (on the worker's side port) or the rules' recorded series (charts/wattlane/rules)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard

from wattlane.ops.dashboards.common import RATE, Query, board, graph, single, to_json, waiting
from wattlane.ops.slo import SERVER_ERRORS

R = f"[{RATE}]"


def _quantile(q: float, metric: str, by: str, selector: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{selector}{R})))"


def overview() -> dict[str, Any]:
    b = board(
        "wattlane-overview",
        "Wattlane / Overview",
        "Stations online, OCPP traffic, errors and what is left of each SLO's error budget.",
    )
    b = (
        b.with_panel(single("Stations online", "short", Query("sum(wattlane_ocpp_connected_stations)")))
        .with_panel(
            single(
                "OCPP messages/s",
                "reqps",
                Query(f"sum(rate(wattlane_ocpp_messages_total{R}))"),
                description="Calls both ways (stations' and ours), answered or not.",
            )
        )
        .with_panel(single("RPCs/s", "reqps", Query(f"sum(rate(wattlane_grpc_server_handled_total{R}))")))
        .with_panel(single("Processes ready", "short", Query("sum(wattlane_process_ready)")))
    )
    b = b.with_row(dashboard.Row("Service level objectives"))
    b = b.with_panel(
        graph(
            "Error budget left (at the last 3 days' rate)",
            "percentunit",
            Query(
                "1 - slo:sli_error:ratio_rate3d / on(slo) group_left() (1 - slo:objective:ratio)",
                "{{slo}} {{service}}",
            ),
            description=(
                "1 - (error ratio over 3 days / error budget): below 0 the objective is missed at "
                "this pace. The rules in charts/wattlane/rules record the ratios."
            ),
        )
    ).with_panel(
        graph(
            "Burn rate (1h)",
            "short",
            Query(
                "slo:sli_error:ratio_rate1h / on(slo) group_left() (1 - slo:objective:ratio)",
                "{{slo}} {{service}}",
            ),
            description="1 = spending the 30-day budget exactly in 30 days; the page fires above 14.4.",
        )
    )
    b = b.with_row(dashboard.Row("Traffic and errors"))
    b = b.with_panel(
        graph(
            "OCPP messages/s by direction and result",
            "reqps",
            Query(
                f"sum by (direction, result) (rate(wattlane_ocpp_messages_total{R}))",
                "{{direction}} {{result}}",
            ),
        )
    ).with_panel(
        graph(
            "Server-side RPC error ratio by service",
            "percentunit",
            Query('slo:sli_error:ratio_rate5m{slo="grpc-availability"}', "{{service}}"),
        )
    )
    return to_json(b)


def csms() -> dict[str, Any]:
    uid = "wattlane-csms"
    b = board(uid, "Wattlane / CSMS", "Charging stations on OCPP-J: connections, messages, latency, errors.")
    b = (
        b.with_panel(
            graph(
                "Connected stations by version",
                "short",
                Query("sum by (version) (wattlane_ocpp_connected_stations)", "{{version}}"),
            )
        )
        .with_panel(
            graph(
                "Connected stations per pod",
                "short",
                Query("sum by (instance) (wattlane_ocpp_connected_stations)", "{{instance}}"),
                description="The HPA scales on this (connected stations per pod).",
            )
        )
        .with_panel(
            graph(
                "Connects and disconnects/s",
                "ops",
                Query(f"sum(rate(wattlane_ocpp_connects_total{R}))", "connects"),
                Query(f"sum(rate(wattlane_ocpp_disconnects_total{R}))", "disconnects"),
            )
        )
        .with_panel(
            graph(
                "Handshake rejections/s by reason",
                "ops",
                Query(f"sum by (reason) (rate(wattlane_ocpp_handshake_rejections_total{R}))", "{{reason}}"),
            )
        )
    )
    b = b.with_row(dashboard.Row("Messages"))
    b = (
        b.with_panel(
            graph(
                "Station calls/s by action",
                "reqps",
                Query(
                    f'sum by (action, result) (rate(wattlane_ocpp_messages_total{{direction="in"}}{R}))',
                    "{{action}} {{result}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Our answer's latency p99 by action",
                "s",
                Query(
                    _quantile(0.99, "wattlane_ocpp_call_seconds", "action", '{direction="in"}'), "{{action}}"
                ),
            )
        )
        .with_panel(
            graph(
                "CALLERRORs/s by code",
                "ops",
                Query(
                    f"sum by (code, direction) (rate(wattlane_ocpp_call_errors_total{R}))",
                    "{{direction}} {{code}}",
                ),
                description="out: we answered a station's call with it; in: a station answered ours.",
            )
        )
        .with_panel(
            graph(
                "OCPP call success SLI (error ratio)",
                "percentunit",
                Query('slo:sli_error:ratio_rate5m{slo="ocpp-call-success"}', "5m"),
                Query('slo:sli_error:ratio_rate1h{slo="ocpp-call-success"}', "1h"),
            )
        )
    )
    b = b.with_row(dashboard.Row("Commands and storage"))
    b = (
        b.with_panel(
            graph(
                "Commands to stations/s by action and result",
                "reqps",
                Query(
                    f'sum by (action, result) (rate(wattlane_ocpp_messages_total{{direction="out"}}{R}))',
                    "{{action}} {{result}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Write-behind pending",
                "short",
                Query("sum by (writer) (wattlane_csms_writebehind_pending)", "{{writer}}"),
                description="Registry updates and message-log rows waiting to be written.",
            )
        )
        .with_panel(
            graph(
                "Write-behind written/s",
                "ops",
                Query(f"sum by (writer) (rate(wattlane_csms_writebehind_written_total{R}))", "{{writer}}"),
            )
        )
        .with_panel(
            graph(
                "Event loop lag p99",
                "s",
                Query(
                    _quantile(0.99, "wattlane_event_loop_lag_seconds", "instance", '{service="csms"}'),
                    "{{instance}}",
                ),
            )
        )
    )
    return to_json(b)


def services() -> dict[str, Any]:
    b = board(
        "wattlane-services",
        "Wattlane / Services",
        "Rate, errors and duration of every gRPC service (identity, assets, billing, the CSMS).",
    )
    b = (
        b.with_panel(
            graph(
                "Requests/s by service",
                "reqps",
                Query(f"sum by (service) (rate(wattlane_grpc_server_handled_total{R}))", "{{service}}"),
            )
        )
        .with_panel(
            graph(
                "Server-side error ratio by service",
                "percentunit",
                Query('slo:sli_error:ratio_rate5m{slo="grpc-availability"}', "{{service}}"),
                description=f"Codes {SERVER_ERRORS.replace('|', ', ')}; client mistakes are not errors.",
            )
        )
        .with_panel(
            graph(
                "Responses/s by code",
                "reqps",
                Query(
                    f"sum by (service, grpc_code) (rate(wattlane_grpc_server_handled_total{R}))",
                    "{{service}} {{grpc_code}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Latency by service (p50, p99)",
                "s",
                Query(_quantile(0.5, "wattlane_grpc_server_handling_seconds", "service"), "{{service}} p50"),
                Query(_quantile(0.99, "wattlane_grpc_server_handling_seconds", "service"), "{{service}} p99"),
            )
        )
        .with_panel(
            graph(
                "Slowest methods (p99)",
                "s",
                Query(
                    "topk(10, "
                    + _quantile(0.99, "wattlane_grpc_server_handling_seconds", "service, grpc_method")
                    + ")",
                    "{{service}} {{grpc_method}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Latency SLI: share slower than 500 ms",
                "percentunit",
                Query('slo:sli_error:ratio_rate5m{slo="grpc-latency"}', "{{service}}"),
            )
        )
    )
    b = b.with_row(dashboard.Row("Processes"))
    b = (
        b.with_panel(
            graph(
                "RPCs in flight",
                "short",
                Query("sum by (service) (wattlane_grpc_server_in_flight)", "{{service}}"),
            )
        )
        .with_panel(
            graph(
                "Ready processes", "short", Query("sum by (service) (wattlane_process_ready)", "{{service}}")
            )
        )
        .with_panel(
            graph(
                "Event loop lag p99",
                "s",
                Query(_quantile(0.99, "wattlane_event_loop_lag_seconds", "service"), "{{service}}"),
                description="How late the event loop ran a timer: CPU-bound work or blocking calls.",
            )
        )
    )
    return to_json(b)


def workflows() -> dict[str, Any]:
    b = board(
        "wattlane-workflows",
        "Wattlane / Workflows and outboxes",
        "Outboxes handing work to Temporal, our workflows' outcomes and the Temporal SDK's view of "
        "the worker.",
    )
    b = (
        b.with_panel(
            graph(
                "Outbox pending rows",
                "short",
                Query("sum by (outbox) (wattlane_outbox_pending)", "{{outbox}}"),
            )
        )
        .with_panel(
            graph(
                "Outbox oldest row age",
                "s",
                Query("max by (outbox) (wattlane_outbox_oldest_age_seconds)", "{{outbox}}"),
                description="WattlaneOutboxStuck fires above 10 minutes.",
            )
        )
        .with_panel(
            graph(
                "Outbox rows relayed/s",
                "ops",
                Query(f"sum by (outbox) (rate(wattlane_outbox_relayed_total{R}))", "{{outbox}}"),
            )
        )
        .with_panel(
            graph(
                "Outbox relay failures/s",
                "ops",
                Query(f"sum by (outbox) (rate(wattlane_outbox_failures_total{R}))", "{{outbox}}"),
            )
        )
    )
    b = b.with_row(dashboard.Row("Workflows"))
    b = (
        b.with_panel(
            graph(
                "Outcomes/s",
                "ops",
                Query(
                    f"sum by (workflow, outcome) (rate(wattlane_workflow_outcomes_total{R}))",
                    "{{workflow}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Activity duration p95",
                "s",
                Query(_quantile(0.95, "wattlane_activity_seconds", "workflow"), "{{workflow}}"),
            )
        )
        .with_panel(
            graph(
                "Workflows completed/s",
                "ops",
                Query(
                    f"sum by (workflow_type) (rate(temporal_workflow_completed_total{R}))",
                    "{{workflow_type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Workflow task schedule-to-start p95",
                "s",
                Query(
                    _quantile(0.95, "temporal_workflow_task_schedule_to_start_latency_seconds", "task_queue"),
                    "{{task_queue}}",
                ),
                description="Time tasks wait for a worker: grows when workers are too few or stuck.",
            )
        )
        .with_panel(
            graph(
                "Task slots available",
                "short",
                Query("sum by (worker_type) (temporal_worker_task_slots_available)", "{{worker_type}}"),
            )
        )
        .with_panel(
            graph(
                "Pollers",
                "short",
                Query("sum by (poller_type) (temporal_num_pollers)", "{{poller_type}}"),
            )
        )
    )
    return to_json(b)


def billing() -> dict[str, Any]:
    uid = "wattlane-billing"
    b = board(
        uid,
        "Wattlane / Billing",
        "Completed transactions handed to billing, billing's RPCs and the monthly settlement "
        "(the settlement panel waits for billing's settlement workflow).",
    )
    b = (
        b.with_panel(
            graph(
                "Transactions waiting to be handed on",
                "short",
                Query('sum(wattlane_outbox_pending{outbox="transactions"})', "pending"),
            )
        )
        .with_panel(
            graph(
                "Handoffs/s",
                "ops",
                Query(
                    "sum by (outcome) (rate(wattlane_workflow_outcomes_total"
                    f'{{workflow="TransactionHandoff"}}{R}))',
                    "{{outcome}}",
                ),
                description="recorded: handed on for the first time; redelivered: again after a lost answer.",
            )
        )
        .with_panel(
            graph(
                "Billing requests/s by method",
                "reqps",
                Query(
                    "sum by (grpc_method) (rate(wattlane_grpc_server_handled_total"
                    f'{{service="billing"}}{R}))',
                    "{{grpc_method}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Billing latency p99",
                "s",
                Query(
                    _quantile(
                        0.99, "wattlane_grpc_server_handling_seconds", "grpc_method", '{service="billing"}'
                    ),
                    "{{grpc_method}}",
                ),
            )
        )
        .with_panel(
            single(
                waiting(uid, "Settled through", "billing's settlement workflow does not exist yet"),
                "dateTimeAsIso",
                Query("max(wattlane_billing_settled_through_timestamp_seconds) * 1000"),
                description="End of the latest settled period (WattlaneSettlementOverdue: after the 3rd).",
                width=12,
            )
        )
    )
    return to_json(b)


def campaigns() -> dict[str, Any]:
    uid = "wattlane-campaigns"
    b = board(
        uid,
        "Wattlane / Campaigns",
        "Firmware campaigns: outcomes and the firmware messages they cause. Panels marked waiting "
        "show data once the campaign workflow exists.",
    )
    b = (
        b.with_panel(
            graph(
                "Stations connected by version",
                "short",
                Query("sum by (version) (wattlane_ocpp_connected_stations)", "{{version}}"),
                description="The population a campaign can reach.",
            )
        )
        .with_panel(
            graph(
                waiting(uid, "Campaign outcomes/s", "the campaign workflow does not exist yet"),
                "ops",
                Query(
                    "sum by (workflow, outcome) (rate(wattlane_workflow_outcomes_total"
                    f'{{workflow=~".*Campaign"}}{R}))',
                    "{{workflow}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            graph(
                waiting(uid, "Firmware commands/s by result", "nothing sends UpdateFirmware yet"),
                "reqps",
                Query(
                    "sum by (action, result) (rate(wattlane_ocpp_messages_total"
                    f'{{direction="out",action=~"UpdateFirmware|SignedUpdateFirmware"}}{R}))',
                    "{{action}} {{result}}",
                ),
            )
        )
        .with_panel(
            graph(
                waiting(
                    uid, "Firmware status notifications/s", "stations report firmware only during an update"
                ),
                "reqps",
                Query(
                    "sum by (action) (rate(wattlane_ocpp_messages_total"
                    f'{{direction="in",action=~"FirmwareStatusNotification|SignedFirmwareStatusNotification"}}{R}))',
                    "{{action}}",
                ),
            )
        )
    )
    return to_json(b)
