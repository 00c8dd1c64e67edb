"""metrics: one catalog, bounded labels, and an exposition promtool accepts."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY, generate_latest

from wattlane.core import metrics
from wattlane.core.testing.promtool import check_metrics

# What must never become a label: each value would be a new time series.
UNBOUNDED = re.compile(r"(^|_)(id|ids|station|stations|tenant|tenants|user|users|card|transaction|path)($|_)")


def test_every_metric_is_ours_documented_and_labelled_only_with_bounded_names() -> None:
    catalog = metrics.catalog()
    assert len(catalog) >= 20
    for metric in catalog:
        assert metric._name.startswith("wattlane_"), metric._name
        assert metric._documentation.endswith("."), metric._name
        for label in metric._labelnames:
            assert label in metrics.BOUNDED_LABELS, f"{metric._name}: label {label!r} is not in the catalog"
            assert not UNBOUNDED.search(label), f"{metric._name}: {label!r} would be unbounded"


def test_label_sets_map_unknown_values_to_other() -> None:
    actions = metrics.LabelSet(["Heartbeat", "BootNotification"])
    assert actions("Heartbeat") == "Heartbeat"
    assert actions("MadeUpAction-123") == "other"


def test_the_exposition_passes_promtool() -> None:
    # Touch a labelled child of each metric so every family shows samples.
    for metric in metrics.catalog():
        if metric._labelnames:
            child = metric.labels(*["x"] * len(metric._labelnames))
            if hasattr(child, "inc"):
                child.inc(0)
            elif hasattr(child, "observe"):
                child.observe(0)
    check_metrics(generate_latest(REGISTRY))
