"""Grafana dashboards as code (grafana-foundation-sdk), rendered to charts/wattlane/dashboards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {}
