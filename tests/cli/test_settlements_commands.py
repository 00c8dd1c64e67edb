"""`wattlane settlements run|status` against a real billing, a real Temporal dev server and a
worker of the settlement's workflows (the CLI runs as asyncio subprocesses): a month is settled
once, a second `run` makes nothing new, `status` says what the month's run made."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.cli.test_stations_commands import wl
from tests.support.settlement import (
    ZONE,
    World,
    local,
    world_fixture,  # noqa: F401 (a fixture)
)


async def test_settle_a_month_by_hand(
    world: World, temporal_dev: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for payer in world.payers[:3]:
        await world.seal(monkeypatch, local(dt.date(2026, 11, 12), 10), payer)
    (tmp_path / "session.json").write_text(json.dumps({"token": "any", "billing": world.billing.target}))
    queue = f"billing-{secrets.token_hex(4)}"
    env = {
        "PATH": "/usr/bin:/bin",
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_TEMPORAL_ADDRESS": temporal_dev.client.service_client.config.target_host,
    }
    month = ["--issuer", world.issuer, "--month", "2026-11"]
    _, out, _ = await wl(env, "settlements", "status", *month, "--json")
    assert json.loads(out)["status"] == "never run"
    worker = world.worker(temporal_dev.client, queue)
    running = asyncio.create_task(worker.run())
    try:
        run = [*month, "--time-zone", ZONE, "--vat-country", "BE", "--task-queue", queue, "--json"]
        _, out, _ = await wl(env, "settlements", "run", *run)
        first = json.loads(out)
        assert (first["status"], first["created"], first["charge_records"]) == ("completed", 3, 3)
        _, out, _ = await wl(env, "settlements", "run", *run)
        assert (json.loads(out)["created"], json.loads(out)["charge_records"]) == (0, 0)  # idempotent
        _, out, _ = await wl(env, "settlements", "status", *month)
        assert "completed" in out and world.issuer in out
        # An organization issues nothing: billing refuses, the run fails and says why (exit 1).
        not_an_issuer = ["--issuer", world.billing.org.name, "--month", "2026-11", *run[4:]]
        code, _, err = await wl(env, "settlements", "run", *not_an_issuer, ok=False)
        assert code == 1 and "period.issuer" in err and "Traceback" not in err
    finally:
        await worker.shutdown()
        await running
    assert await world.counts("2026-11") == (3, 3, 3)
    code, _, err = await wl(
        env, "settlements", "run", "--issuer", world.issuer, "--month", "2026-13", ok=False
    )
    assert code == 2 and "--month wants YYYY-MM" in err
    code, _, err = await wl(env, "settlements", "run", *month, "--time-zone", "Mars/Olympus", ok=False)
    assert code == 2 and "--time-zone wants an IANA zone" in err
    env["WATTLANE_TEMPORAL_ADDRESS"] = "127.0.0.1:9"
    code, _, err = await wl(env, "settlements", "status", *month, ok=False)
    assert code == 3 and "cannot be reached" in err and "Traceback" not in err
