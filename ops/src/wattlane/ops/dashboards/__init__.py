"""Grafana dashboards as code (grafana-foundation-sdk), rendered to charts/wattlane/dashboards
by `python -m wattlane.ops.render` (a test fails while the committed JSON is stale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wattlane.ops.dashboards import boards

# File name (charts/wattlane/dashboards/<name>.json) -> the function that builds it.
DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "overview": boards.overview,
    "csms": boards.csms,
    "services": boards.services,
    "workflows": boards.workflows,
    "billing": boards.billing,
    "campaigns": boards.campaigns,
}
