"""What every dashboard shares: the Prometheus data source variable, panel helpers with a unit
on every panel, and the marks for panels that wait for a product not built yet.

Rates always use `$__rate_interval` (Grafana's window of at least four scrapes), never a fixed
range: a fixed `[1m]` shows nothing under a 30 s scrape and hides spikes under a 5 s one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"

# Panels that wait for a product not built yet: (dashboard uid, panel title) -> why. Their
# queries name metrics of core's catalog that no running process exports yet; the live check
# (tests/e2e/test_dashboards.py) asserts they still return nothing, so the mark goes when the
# product lands and its panel must then show data.
WAITING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def _target(q: Query, ref: str) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(q.expr).ref_id(ref).datasource(DATASOURCE)
    return target.legend_format(q.legend or "__auto")


def graph(
    title: str, unit: str, *queries: Query, description: str = "", width: int = 12, stack: bool = False
) -> timeseries.Panel:
    """A time series panel."""
    panel = (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(8)
        .fill_opacity(10 if not stack else 40)
        .line_width(1)
    )
    if description:
        panel = panel.description(description)
    for index, q in enumerate(queries):
        panel = panel.with_target(_target(q, chr(ord("A") + index)))
    return panel


def single(title: str, unit: str, q: Query, description: str = "", width: int = 6) -> stat.Panel:
    """A single-value panel (the last value)."""
    panel = stat.Panel().title(title).unit(unit).datasource(DATASOURCE).span(width).height(5)
    if description:
        panel = panel.description(description)
    return panel.with_target(_target(q, "A"))


def board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A dashboard with the data source variable, tags and a sensible default range."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["wattlane"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )


def waiting(uid: str, title: str, reason: str) -> str:
    """Mark a panel as waiting for its product (see WAITING); returns the title."""
    WAITING[(uid, title)] = reason
    return title


def to_json(builder: dashboard.Dashboard) -> dict[str, Any]:
    """The dashboard model as Grafana imports it."""
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return model
