"""`wattlane firmware campaigns create|list|show|pause` against a real identity and a real CSMS
(without Temporal: the campaign is stored, and decisions are refused naming the setting) with
simulated stations. The campaign run to the end, with `show --watch`, is in tests/e2e."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.test_stations_commands import wl
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, TreeBuilder
from wattlane.simulator.station import SimStation

PASSWORD = "cli-station-password-02"


@pytest.fixture
async def csms(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder
) -> AsyncIterator[CsmsService]:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    service = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmsclifw"),
            identity_address=f"127.0.0.1:{identity.port}",
            demo_pattern=r"CLIFW-\d+",
            demo_password=PASSWORD,
            demo_owner=org.name.removeprefix("tenants/"),
            demo_owner_path=org.path,
        )
    )
    await service.start()
    yield service
    await service.stop()


async def test_create_list_show_and_a_refused_pause(
    csms: CsmsService, identity: IdentityService, tmp_path: Path
) -> None:
    stations = []
    for n in range(1, 5):
        station = SimStation(f"CLIFW-{n}", f"ws://127.0.0.1:{csms.port}/ocpp", password=PASSWORD)
        await station.connect()
        await station.boot()
        stations.append(station)
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_CSMS_ADDRESS": f"127.0.0.1:{csms.grpc_port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    targets = [arg for n in range(1, 5) for arg in ("--station", f"CLIFW-{n}")]
    _, created, _ = await wl(
        env,
        "firmware", "campaigns", "create",
        "--version", "2.1.0",
        "--location", "https://firmware.example/fw-2.1.bin",
        *targets,
        "--canary", "2",
        "--waves", "50",
        "--gate-percent", "100",
        "--json",
    )  # fmt: skip
    campaign = json.loads(created)
    name = campaign["name"]
    assert campaign["targetCount"] == 4 and campaign["state"] == "RUNNING"
    assert [w["total"] for w in campaign["waveProgress"]] == [2, 1, 1]

    _, listed, _ = await wl(env, "firmware", "campaigns", "list", "--filter", "state = RUNNING")
    assert name in listed and "2.1.0" in listed and "RUNNING" in listed

    _, shown, _ = await wl(env, "firmware", "campaigns", "show", name.removeprefix("campaigns/"))
    assert f"{name}: 2.1.0 -> 2.1.0 (RUNNING, wave 0)" in shown  # named after the version
    assert "0 (canary)" in shown and "QUEUED" in shown and "CREATE" in shown

    code, _, err = await wl(env, "firmware", "campaigns", "pause", name, ok=False)
    assert code == 2 and "--reason" in err  # argparse: the reason is required
    code, _, err = await wl(env, "firmware", "campaigns", "pause", name, "--reason", "calls", ok=False)
    assert code == 1 and "FAILED_PRECONDITION" in err and "WATTLANE_CSMS_TEMPORAL_ADDRESS" in err

    code, _, err = await wl(env, "firmware", "campaigns", "create", "--version", "2.1.0", ok=False)
    assert code == 2 and "--location" in err
    for station in stations:
        await station.close()
