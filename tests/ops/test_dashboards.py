"""The Grafana dashboards (charts/wattlane/dashboards): the committed JSON is what the code in
wattlane.ops.dashboards renders, and every panel is sound on paper — a unit, `$__rate_interval`
wherever it rates, PromQL that parses (`promtool check rules`), only metrics of core's catalog,
the Temporal SDK or the rules. That the queries return data from running processes is checked
live in tests/e2e/test_dashboards.py. Grafana itself cannot run here (no server is obtainable):
the dashboards are imported by hand or by the chart's ConfigMap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattlane.core.metrics import catalog
from wattlane.core.testing.promtool import check_rules
from wattlane.ops import render
from wattlane.ops.dashboards import DASHBOARDS
from wattlane.ops.dashboards.common import WAITING

RATES = re.compile(r"\b(rate|irate|increase|delta|idelta|deriv)\(")
RANGES = re.compile(r"\[([^\]]+)\]")
FOREIGN = re.compile(r"^temporal_")
FUNCTIONS = {"sum", "max", "min", "rate", "histogram_quantile", "topk", "by", "on", "group_left", "le"}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def committed() -> dict[str, dict[str, Any]]:
    return {name: json.loads((render.DASHBOARDS / f"{name}.json").read_text()) for name in DASHBOARDS}


def test_the_committed_json_is_what_the_code_renders() -> None:
    stale = [p.name for p in render.stale() if p.suffix == ".json"]
    assert not stale, f"stale dashboards {stale}: run `python -m wattlane.ops.render`"
    assert {p.stem for p in render.DASHBOARDS.glob("*.json")} == set(DASHBOARDS), "a dashboard without code"


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_every_panel_has_a_unit_and_rates_over_the_rate_interval(name: str) -> None:
    board = committed()[name]
    assert board["uid"].startswith("wattlane-") and board["templating"]["list"][0]["name"] == "datasource"
    for panel in panels(board):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{name}: {panel['title']!r} has no unit"
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            if RATES.search(expr):
                assert RANGES.findall(expr) and set(RANGES.findall(expr)) == {"$__rate_interval"}, (
                    f"{name}: {panel['title']!r} rates over something else than $__rate_interval: {expr}"
                )


def exprs() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) of every target, with Grafana's variables as Prometheus
    would see them."""
    return [
        (name, panel["title"], target["expr"].replace("$__rate_interval", "1m"))
        for name, board in committed().items()
        for panel in panels(board)
        for target in panel["targets"]
    ]


def test_every_query_parses(tmp_path: Path) -> None:
    rules = [{"record": f"panel:{i}", "expr": expr} for i, (_, _, expr) in enumerate(exprs())]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    check_rules(str(path))


def test_every_query_names_known_metrics_only() -> None:
    known = set()
    for metric in catalog():
        name = metric._name
        known |= {name, f"{name}_total", f"{name}_count", f"{name}_sum", f"{name}_bucket"}
    recorded = {
        rule["record"]
        for path in render.RULES.glob("*.yaml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    for board, title, expr in exprs():
        bare = re.sub(r'"[^"]*"', '""', expr)
        bare = re.sub(r"\{[^}]*\}|\[[^]]*\]|\b(by|on|group_left)\s*\([^)]*\)", " ", bare)
        bare = re.sub(r"\b\d+(\.\d+)?\b", " ", bare)
        for name in set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - FUNCTIONS:
            assert name in known or name in recorded or FOREIGN.match(name), (
                f"{board}: {title!r} names {name!r}, which neither the catalog, the Temporal SDK "
                "nor the rules provide"
            )


def test_waiting_panels_exist_and_say_why() -> None:
    for build in DASHBOARDS.values():  # building marks them
        build()
    titles = {(board["uid"], p["title"]) for board in committed().values() for p in panels(board)}
    assert WAITING, "the billing and campaigns dashboards mark what waits for them"
    for key, reason in WAITING.items():
        assert key in titles and reason
