"""What the chart ships for Prometheus and Grafana: the rules of charts/wattlane/rules as one
PrometheusRule (the same groups and alerts, runbook links made absolute when a base URL is given),
every dashboard of charts/wattlane/dashboards in a ConfigMap Grafana's sidecar picks up, and a
PodMonitor per component on its side port. The production scenario turns all three on; the
others leave them off (their kinds need the Prometheus Operator's CRDs)."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from tests.charts.tools import CHART, ROOT, documents, render, values_file

Doc = dict[str, Any]
COMPONENTS = ("identity", "assets", "billing", "csms", "worker")
RULE_FILES = sorted((CHART / "rules").glob("*.yaml"))
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def file_groups() -> list[Doc]:
    """Every rule group of rules/*.yaml, in the order helm's Files.Glob gives (sorted paths)."""
    return [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]


def alerts(groups: list[Doc]) -> list[str]:
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def without_base(groups: list[Doc], base: str) -> list[Doc]:
    """The groups with `base/` taken off every runbook_url (what the rule files hold)."""
    groups = copy.deepcopy(groups)
    for group in groups:
        for rule in group["rules"]:
            annotations = rule.get("annotations") or {}
            if "runbook_url" in annotations:
                assert annotations["runbook_url"].startswith(base + "/"), annotations["runbook_url"]
                annotations["runbook_url"] = annotations["runbook_url"].removeprefix(base + "/")
    return groups


def production_monitoring() -> Doc:
    return dict(yaml.safe_load(values_file("production").read_text())["monitoring"])


def test_the_rule_files_and_dashboards_exist() -> None:
    # The checks below compare against these: an empty glob would make them pass vacuously.
    assert RULE_FILES and DASHBOARDS
    assert len(alerts(file_groups())) >= 8


def test_the_prometheus_rule_holds_the_rule_files_groups(rendered: dict[str, list[Doc]]) -> None:
    rules = of_kind(rendered["production"], "PrometheusRule")
    assert len(rules) == 1
    rule = rules[0]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "wattlane"
    monitoring = production_monitoring()
    assert monitoring["rules"]["labels"].items() <= rule["metadata"]["labels"].items()
    groups = rule["spec"]["groups"]
    expected = file_groups()
    assert [g["name"] for g in groups] == [g["name"] for g in expected]
    assert alerts(groups) == alerts(expected)
    # Same expressions, durations, labels and annotations ({{ $labels.x }} left for Prometheus).
    assert without_base(groups, monitoring["rules"]["runbookBaseUrl"]) == expected


def test_every_alert_links_its_runbook_where_the_repository_is_browsed(
    rendered: dict[str, list[Doc]],
) -> None:
    base = production_monitoring()["rules"]["runbookBaseUrl"]
    (rule,) = of_kind(rendered["production"], "PrometheusRule")
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            if "alert" not in item:
                continue
            url = item["annotations"]["runbook_url"]
            assert url == f"{base}/docs/runbooks/{item['alert']}.md", url
            assert (ROOT / url.removeprefix(base + "/")).is_file(), f"{item['alert']}: no runbook"


def test_without_a_base_url_runbooks_stay_repo_relative() -> None:
    docs = documents(render("minimal", "--set", "monitoring.rules.enabled=true"))
    (rule,) = of_kind(docs, "PrometheusRule")
    assert rule["spec"]["groups"] == file_groups()


def test_every_dashboard_is_in_a_configmap_for_grafanas_sidecar(rendered: dict[str, list[Doc]]) -> None:
    monitoring = production_monitoring()
    label = "grafana_dashboard"
    found: dict[str, Doc] = {}
    for cm in of_kind(rendered["production"], "ConfigMap"):
        if (cm["metadata"].get("labels") or {}).get(label) == "1":
            assert cm["metadata"]["annotations"] == monitoring["dashboards"]["annotations"]
            for key, value in cm["data"].items():
                assert key not in found, f"{key} shipped twice"
                found[key] = json.loads(value)
    assert sorted(found) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert found[path.name] == json.loads(path.read_text()), f"{path.name} differs from the file"


def test_the_dashboard_label_is_configurable() -> None:
    docs = documents(
        render(
            "minimal",
            "--set",
            "monitoring.dashboards.enabled=true",
            "--set",
            "monitoring.dashboards.label=wattlane_dashboard",
            "--set-string",
            "monitoring.dashboards.labelValue=yes",
        )
    )
    dashboards = [c for c in of_kind(docs, "ConfigMap") if "wattlane_dashboard" in c["metadata"]["labels"]]
    assert len(dashboards) == len(DASHBOARDS)
    assert {c["metadata"]["labels"]["wattlane_dashboard"] for c in dashboards} == {"yes"}
    assert not [c for c in dashboards if "grafana_dashboard" in c["metadata"]["labels"]]


def test_a_pod_monitor_scrapes_each_components_side_port(rendered: dict[str, list[Doc]]) -> None:
    monitors = {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m
        for m in of_kind(rendered["production"], "PodMonitor")
    }
    assert sorted(monitors) == sorted(COMPONENTS)
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in of_kind(rendered["production"], "Deployment")
    }
    for name, monitor in monitors.items():
        pod = deployments[name]["spec"]["template"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod["metadata"]["labels"].items(), name
        # Selecting one component only: not another component's pods, nor a migration Job's.
        assert selector["app.kubernetes.io/component"] == name
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert endpoint["port"] in ports and endpoint["port"] == "metrics", name
        assert endpoint["path"] == "/metrics"


def test_monitoring_objects_are_off_unless_asked(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        if scenario == "production":
            continue
        assert not of_kind(docs, "PrometheusRule") and not of_kind(docs, "PodMonitor"), scenario
        assert not [c for c in of_kind(docs, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]
