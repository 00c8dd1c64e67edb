"""The benchmarks run end to end at a tiny size (so they cannot rot); no timing is asserted.

PostgreSQL when WATTLANE_TEST_DATABASE_URL points at a server (CI), a SQLite file otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from bench.__main__ import discover
from bench.assets import main as assets_main
from bench.billing import main as billing_main
from bench.csms.transactions import main as transactions_main
from bench.identity import main


def test_every_benchmark_is_found() -> None:
    assert {"identity", "assets", "billing"} <= set(discover())


def test_identity_benchmarks_at_tiny_size(tmp_path: Path) -> None:
    server = os.environ.get("WATTLANE_TEST_DATABASE_URL", "")
    database = (
        ["--server-url", server]
        if server.startswith("postgres")
        else ["--sqlite", "--sqlite-dir", str(tmp_path)]
    )
    tiny = ["--nodes", "200", "--users", "400", "--calls", "8", "--warmup", "2"]
    auth = ["--seconds", "0.3", "--rounds", "1", "--concurrency", "4", "--sequential-calls", "20"]
    targets = main([*database, *tiny, *auth])
    assert [t.name for t in targets] == [
        "identity.list_users",
        "identity.auth_path throughput",
        "identity.auth_path sequential latency p50",
    ]
    assert all(t.ratio > 0 for t in targets)


def test_assets_benchmark_at_tiny_size(tmp_path: Path) -> None:
    server = os.environ.get("WATTLANE_TEST_DATABASE_URL", "")
    database = (
        ["--server-url", server]
        if server.startswith("postgres")
        else ["--sqlite", "--sqlite-dir", str(tmp_path)]
    )
    tiny = ["--points", "60", "--cards", "600", "--seconds", "0.3", "--rounds", "1", "--concurrency", "4"]
    targets = assets_main([*database, *tiny, "--sequential-calls", "20"])
    assert [t.name for t in targets] == [
        "assets.decide_access throughput",
        "assets.decide_access p99 under load",
        "assets.decide_access sequential latency p99",
    ]
    assert all(t.ratio > 0 for t in targets)


def test_billing_pricing_benchmark_at_tiny_size() -> None:
    targets = billing_main(["pricing", "--sessions", "20", "--rounds", "1"])
    assert [t.name for t in targets] == [
        "billing.pricing sessions/s on one core",
        "billing.pricing vs the same arithmetic without periods",
    ]
    assert all(t.ratio > 0 for t in targets)


def test_billing_recording_benchmark_at_tiny_size() -> None:
    """A handful of transactions through the relay, Temporal, the worker and billing, and a few
    more through RecordCharge alone: the count check (one priced record each) must hold."""
    targets = billing_main(["recording", "--transactions", "30", "--relayed", "10", "--concurrency", "4"])
    assert [t.name for t in targets] == [
        "billing.recording count check (0 = every transaction recorded once, priced)",
        "billing.recording RecordCharge vs raw SQL inserts",
        "billing.recording full path vs raw SQL inserts",
    ]
    assert targets[0].ok, targets[0].detail
    assert all(t.ratio > 0 for t in targets[1:])


def test_csms_transactions_benchmark_at_tiny_size() -> None:
    """MeterValues round trips on the stored CSMS and a tiny charging day whose count check
    (stored, completed, outbox, relayed into a real Temporal dev server) must hold."""
    # Two seconds of round trips: the first stored commits can take a while on a loaded machine.
    tiny = ["--rounds", "1", "--seconds", "2", "--stations", "12", "--sessions", "2", "--samples", "2"]
    targets = transactions_main(tiny)
    assert [t.name.split(" ")[0] for t in targets] == [
        "csms.meter_values_round_trips_stored",
        "csms.charging_day_count_check",
    ]
    assert targets[0].ratio > 0
    assert targets[1].ok, targets[1].detail
