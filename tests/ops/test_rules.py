"""The chart's Prometheus rules (charts/wattlane/rules): they load (`promtool check rules`), the
generated SLO file is fresh, every alert carries a summary, a description and a runbook that
exists, and every alert is unit-tested with `promtool test rules` the kubernetes-mixin way:
pending but silent one evaluation before its `for:` elapses, firing right after with the
expected labels and annotations.

Without promtool these tests skip saying so; CI (WATTLANE_REQUIRE_PROMTOOL=1) fails instead."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattlane.core.metrics import catalog
from wattlane.core.testing.promtool import check_rules, run_rule_tests
from wattlane.ops import render, slo

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "charts" / "wattlane" / "rules").glob("*.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts() -> dict[str, list[dict[str, Any]]]:
    """Alert name -> its rules (an SLO alert has a page and a ticket rule)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in rules():
        if "alert" in rule:
            found.setdefault(rule["alert"], []).append(rule)
    return found


def minutes(duration: str) -> int:
    """'90m', '2h', '3d' -> minutes."""
    units = {"m": 1, "h": 60, "d": 1440}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([mhd])", duration))


def duration(total: int) -> str:
    return f"{total}m"


@dataclass
class Case:
    """One unit test: input series, when the alert starts firing, what fires."""

    id: str
    alert: str
    series: dict[str, str]  # series -> promtool values notation
    fires_at: str  # the first evaluation at which the alert fires
    firing: list[dict[str, str]]  # the labels of each firing alert (besides alertname)
    value: dict[str, str] = field(default_factory=dict)  # annotation -> text with $value rendered
    silent_later: list[str] = field(default_factory=list)  # series that never fire: checked at fires_at
    interval: str = "1m"  # of the input samples, and of the rule evaluations


def m(name: str, **labels: str) -> str:
    """A series in promtool's notation: name{label="value",...}."""
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _ok_and_errors(service: str, ok: str, errors: str, code: str = "Unavailable") -> dict[str, str]:
    base = f'service="{service}",grpc_service="wattlane.api.x.v1.XService",grpc_method="GetX"'
    return {
        f'wattlane_grpc_server_handled_total{{{base},grpc_code="OK"}}': ok,
        f'wattlane_grpc_server_handled_total{{{base},grpc_code="{code}"}}': errors,
    }


CASES = [
    Case(
        "fast burn pages, per service",
        "WattlaneGrpcAvailabilityBurn",
        {
            **_ok_and_errors("identity", "0+60x200", "0+6x200"),  # 9% server errors
            **_ok_and_errors("assets", "0+60x200", "0+6x200", code="NotFound"),  # answers, not failures
        },
        fires_at="3m",
        firing=[{"service": "identity", "slo": "grpc-availability", "severity": "page"}],
    ),
    Case(
        "slow burn opens a ticket",
        "WattlaneGrpcAvailabilityBurn",
        _ok_and_errors("assets", "0+1000x200", "0+5x200", code="Internal"),  # 0.5%: 5x the budget
        fires_at="16m",
        firing=[{"service": "assets", "slo": "grpc-availability", "severity": "ticket"}],
    ),
    Case(
        "slow RPCs page, exports aside",
        "WattlaneGrpcLatencyBurn",
        {
            m(
                "wattlane_grpc_server_handling_seconds_count",
                service="assets",
                grpc_service="s",
                grpc_method="GetX",
            ): "0+100x60",
            m(
                "wattlane_grpc_server_handling_seconds_bucket",
                service="assets",
                grpc_service="s",
                grpc_method="GetX",
                le="0.5",
            ): "0+80x60",
            # A streaming export lasts long by design: not in the SLO.
            m(
                "wattlane_grpc_server_handling_seconds_count",
                service="csms",
                grpc_service="s",
                grpc_method="ExportTransactions",
            ): "0+100x60",
            m(
                "wattlane_grpc_server_handling_seconds_bucket",
                service="csms",
                grpc_service="s",
                grpc_method="ExportTransactions",
                le="0.5",
            ): "0x60",
            m(
                "wattlane_grpc_server_handling_seconds_count",
                service="csms",
                grpc_service="s",
                grpc_method="GetX",
            ): "0+100x60",
            m(
                "wattlane_grpc_server_handling_seconds_bucket",
                service="csms",
                grpc_service="s",
                grpc_method="GetX",
                le="0.5",
            ): "0+100x60",
        },
        fires_at="3m",
        firing=[{"service": "assets", "slo": "grpc-latency", "severity": "page"}],
    ),
    Case(
        "InternalError answers page; stations' own errors do not count",
        "WattlaneOcppCallSuccessBurn",
        {
            m(
                "wattlane_ocpp_messages_total",
                version="ocpp1.6",
                action="Heartbeat",
                direction="in",
                result="ok",
            ): "0+100x60",
            m(
                "wattlane_ocpp_messages_total",
                version="ocpp1.6",
                action="MeterValues",
                direction="in",
                result="callerror",
            ): "0+55x60",
            m(
                "wattlane_ocpp_call_errors_total", version="ocpp1.6", code="InternalError", direction="out"
            ): "0+5x60",
            m(
                "wattlane_ocpp_call_errors_total",
                version="ocpp1.6",
                code="FormationViolation",
                direction="out",
            ): "0+50x60",
        },
        fires_at="3m",
        firing=[{"slo": "ocpp-call-success", "severity": "page"}],
    ),
    Case(
        "half the fleet gone",
        "WattlaneConnectedStationsDrop",
        {
            m("wattlane_ocpp_connected_stations", version="ocpp1.6", instance="csms-0"): "60x20 30x30",
            m("wattlane_ocpp_connected_stations", version="ocpp2.0.1", instance="csms-0"): "40x20 20x30",
        },
        fires_at="26m",  # 100 -> 50 at 21m, for 5m
        firing=[{"severity": "page"}],
        value={"description": "50"},
    ),
    Case(
        "every CSMS pod gone reads as zero stations",
        "WattlaneConnectedStationsDrop",
        {m("wattlane_ocpp_connected_stations", version="ocpp1.6", instance="csms-0"): "40x20 stale"},
        fires_at="26m",
        firing=[{"severity": "page"}],
        value={"description": "0"},
    ),
    Case(
        "a small fleet's wobble is not a drop",
        "WattlaneConnectedStationsDrop",
        {m("wattlane_ocpp_connected_stations", version="ocpp1.6", instance="csms-0"): "5x20 1x30"},
        fires_at="",
        firing=[],
        silent_later=["40m"],
    ),
    Case(
        "an outbox whose oldest row ages",
        "WattlaneOutboxStuck",
        {
            m("wattlane_outbox_oldest_age_seconds", outbox="approvals", instance="identity-0"): "0+60x30",
            m("wattlane_outbox_oldest_age_seconds", outbox="approvals", instance="identity-1"): "0x30",
            m("wattlane_outbox_oldest_age_seconds", outbox="transactions", instance="csms-0"): "0+1x30",
        },
        fires_at="16m",  # older than 600 s from 11m on, for 5m
        firing=[{"outbox": "approvals", "severity": "ticket"}],
        value={"description": "16m 0s"},
    ),
    Case(
        "failed workflows",
        "WattlaneWorkflowFailures",
        {
            m(
                "temporal_workflow_failed_total",
                namespace="default",
                task_queue="identity",
                workflow_type="ApplicationApproval",
            ): "0 0 1 1 1 1 1 1",
            m(
                "temporal_workflow_failed_total",
                namespace="default",
                task_queue="identity",
                workflow_type="UserMailDelivery",
            ): "0x7",
        },
        fires_at="3m",
        firing=[
            {
                "namespace": "default",
                "task_queue": "identity",
                "workflow_type": "ApplicationApproval",
                "severity": "ticket",
            }
        ],
    ),
    Case(
        "workflow tasks that keep failing",
        "WattlaneWorkflowTasksFailing",
        {
            m(
                "temporal_workflow_task_execution_failed_total",
                namespace="default",
                task_queue="csms-handoff",
                workflow_type="TransactionHandoff",
            ): "0+1x30",
        },
        fires_at="16m",
        firing=[
            {
                "namespace": "default",
                "task_queue": "csms-handoff",
                "workflow_type": "TransactionHandoff",
                "severity": "page",
            }
        ],
    ),
    Case(
        # Unix time 0 is 1 January 1970: settled through 1 December 1969 means December is not.
        "December 1969 still open on 4 January",
        "WattlaneSettlementOverdue",
        {m("wattlane_billing_settled_through_timestamp_seconds", service="billing"): "-2678400x600"},
        fires_at=duration(3 * 1440 + 10),  # 4 January 00:00 UTC, for 10m
        firing=[{"severity": "ticket"}],
        value={"description": "1969-12-01 00:00:00 +0000 UTC"},
        interval="10m",  # four days of it
    ),
    Case(
        "December settled: silent on the 4th",
        "WattlaneSettlementOverdue",
        {m("wattlane_billing_settled_through_timestamp_seconds", service="billing"): "0x600"},
        fires_at="",
        firing=[],
        silent_later=[duration(3 * 1440 + 30)],
        interval="10m",
    ),
    Case(
        "not settled yet on the 3rd: silent",
        "WattlaneSettlementOverdue",
        {m("wattlane_billing_settled_through_timestamp_seconds", service="billing"): "-2678400x600"},
        fires_at="",
        firing=[],
        silent_later=[duration(3 * 1440 - 10)],
        interval="10m",
    ),
    Case(
        "an aborted campaign",
        "WattlaneCampaignAborted",
        {
            m(
                "wattlane_workflow_outcomes_total", workflow="FirmwareCampaign", outcome="aborted"
            ): "0 0 1 1 1 1 1 1",
            m("wattlane_workflow_outcomes_total", workflow="FirmwareCampaign", outcome="completed"): "0+1x7",
        },
        fires_at="3m",
        firing=[{"workflow": "FirmwareCampaign", "severity": "ticket"}],
    ),
    Case(
        "a certificate with 20 days left",
        "WattlaneCertificateExpiresSoon",
        {
            m("wattlane_certificate_expiry_timestamp_seconds", certificate="csms_server"): "1728000x100",
            m(
                "wattlane_certificate_expiry_timestamp_seconds", certificate="station_client_ca"
            ): "5184000x100",
        },
        fires_at="60m",
        firing=[{"certificate": "csms_server", "severity": "ticket"}],
        value={"description": "19d 23h 0m 0s"},
    ),
]


def _render(template: str, labels: dict[str, str], value: str | None) -> str:
    """The annotation as Prometheus renders it: `$labels.x` substituted, `{{ $value ... }}`
    replaced by the case's expected rendering of the value."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    if value is not None:
        text = re.sub(r"\{\{ \$value[^}]*\}\}", value, text)
    return text


def _expected(case: Case, labels: dict[str, str]) -> dict[str, Any]:
    rule = next(r for r in alerts()[case.alert] if r["labels"]["severity"] == labels["severity"])
    annotations = {
        name: _render(text, labels, case.value.get(name)) for name, text in rule["annotations"].items()
    }
    return {"exp_labels": labels, "exp_annotations": annotations}


def _for(case: Case, labels: dict[str, str]) -> int:
    rule = next(r for r in alerts()[case.alert] if r["labels"]["severity"] == labels["severity"])
    return minutes(rule["for"])


def unit_test(case: Case) -> dict[str, Any]:
    """The promtool unit-test file for one case."""
    test: dict[str, Any] = {
        "interval": case.interval,
        "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
        "alert_rule_test": [],
        "promql_expr_test": [],
    }
    for at in case.silent_later:
        test["alert_rule_test"].append({"eval_time": at, "alertname": case.alert, "exp_alerts": []})
    if case.firing:
        fires = minutes(case.fires_at)
        before = duration(fires - minutes(case.interval))
        test["alert_rule_test"] += [
            {"eval_time": before, "alertname": case.alert, "exp_alerts": []},
            {
                "eval_time": case.fires_at,
                "alertname": case.alert,
                "exp_alerts": [_expected(case, labels) for labels in case.firing],
            },
        ]
        # Silent before because `for:` has not elapsed: the alert is pending then, and was
        # pending already `for:` earlier (the condition held all along).
        for labels in case.firing:
            pending = {"__name__": "ALERTS", "alertname": case.alert, "alertstate": "pending", **labels}
            selector = "ALERTS{" + ",".join(f'{k}="{v}"' for k, v in pending.items() if k != "__name__") + "}"
            for at in {before, duration(fires - _for(case, labels))}:
                test["promql_expr_test"].append(
                    {"expr": selector, "eval_time": at, "exp_samples": [{"labels": selector, "value": 1}]}
                )
    return {
        # Only the file with the alert: a 4-day case would evaluate every SLO's 3-day rates
        # each minute otherwise.
        "rule_files": [str(p) for p in RULES if f"alert: {case.alert}\n" in p.read_text()],
        "evaluation_interval": case.interval,
        "tests": [test],
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.alert}: {c.id}")
def test_alert(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "test.yaml"
    path.write_text(json.dumps(unit_test(case), indent=1))  # JSON is YAML
    run_rule_tests(str(path))


def test_the_rule_files_load() -> None:
    report = check_rules(*(str(p) for p in RULES))
    assert "SUCCESS" in report and "WARNING" not in report.upper(), report


def test_the_slo_rules_are_rendered_from_the_code() -> None:
    path = render.RULES / "slo.yaml"
    assert path.read_text() == render.rendered()[path], "stale: run `python -m wattlane.ops.render`"


def test_every_alert_has_annotations_a_runbook_and_a_unit_test() -> None:
    tested = {c.alert for c in CASES if c.firing}
    for name, group in alerts().items():
        assert name in tested, f"{name} has no promtool test that sees it fire"
        for rule in group:
            assert rule["labels"]["severity"] in ("page", "ticket"), name
            assert rule.get("for"), f"{name} fires on one evaluation: give it a `for:`"
            annotations = rule["annotations"]
            assert annotations["summary"] and annotations["description"], name
            assert annotations["runbook_url"] == slo.runbook(name)
        text = (RUNBOOKS / f"{name}.md").read_text()
        for heading in ("## What it means", "## What to check", "## How to fix"):
            assert heading in text, f"docs/runbooks/{name}.md lacks {heading!r}"
    assert {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"} == set(alerts()), (
        "a runbook without its alert"
    )


# Metrics the rules may name that are not in core's catalog: the Temporal SDK's (the worker
# serves them on its side port) and what Prometheus itself makes.
FOREIGN = re.compile(r"^(temporal_|ALERTS)")


def test_the_rules_name_only_metrics_of_the_catalog_or_the_temporal_sdk() -> None:
    exported = set()
    for metric in catalog():
        name = metric._name
        exported |= {name, f"{name}_total", f"{name}_count", f"{name}_sum", f"{name}_bucket"}
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    functions = {"sum", "rate", "increase", "max", "min", "or", "and", "vector", "time"}
    functions |= {"day_of_month", "hour", "minute", "max_over_time"}
    for rule in rules():
        expr = re.sub(r'"[^"]*"', '""', rule["expr"])  # label values out
        expr = re.sub(
            r"\{[^}]*\}|\[[^]]*\]|\b(by|on|ignoring)\s*\([^)]*\)", " ", expr
        )  # selectors, ranges, groupings
        expr = re.sub(r"\b\d+(\.\d+)?\b", " ", expr)  # numbers
        for name in set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - functions:
            if name in exported or name in recorded or FOREIGN.match(name):
                continue
            what = rule.get("alert") or rule.get("record")
            raise AssertionError(f"{what} names {name!r}: not in the catalog")
