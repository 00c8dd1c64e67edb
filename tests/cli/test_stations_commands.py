"""`wattlane stations list|show|log` against a real identity and a real CSMS (in this test's
event loop, so the CLI runs as asyncio subprocesses) with a simulated station."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, TreeBuilder
from wattlane.simulator.station import SimStation, default_handlers

PASSWORD = "cli-station-password-01"
WATTLANE = str(Path(sys.executable).parent / "wattlane")


async def wl(env: dict[str, str], *args: str, ok: bool = True) -> tuple[int, str, str]:
    """Run the CLI as a subprocess without blocking the services in this event loop."""
    proc = await asyncio.create_subprocess_exec(
        WATTLANE, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if ok:
        assert proc.returncode == 0, err.decode()
    return proc.returncode or 0, out.decode(), err.decode()


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
            database_url=await databases.create("csmscli"),
            identity_address=f"127.0.0.1:{identity.port}",
            demo_pattern=r"CLI-\d+",
            demo_password=PASSWORD,
            demo_owner=org.name.removeprefix("tenants/"),
            demo_owner_path=org.path,
        )
    )
    await service.start()
    yield service
    await service.stop()


async def test_stations_list_show_and_log(
    csms: CsmsService, identity: IdentityService, tmp_path: Path
) -> None:
    station = SimStation("CLI-1", f"ws://127.0.0.1:{csms.port}/ocpp", password=PASSWORD)
    await station.connect()
    await station.boot(serial_number="SN-CLI")
    await station.status(1, "Charging")
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    await csms.storage.message_log.flush()
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_CSMS_ADDRESS": f"127.0.0.1:{csms.grpc_port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    _, listed, _ = await wl(env, "stations", "list", "--filter", 'identity = "CLI-1"')
    assert "CLI-1" in listed and "online" in listed and "charging" in listed
    _, shown, _ = await wl(env, "stations", "show", "CLI-1")
    assert "CLI-1: online, charging, ocpp1.6" in shown and "serial SN-CLI" in shown
    _, logged, _ = await wl(env, "stations", "log", "CLI-1", "--action", "StatusNotification")
    assert logged.count("StatusNotification") == 2
    assert '{"connectorId":1,' in logged  # as the station sent it, not 1.0
    code, _, missing = await wl(env, "stations", "show", "NOPE-1", ok=False)
    assert code == 1 and "NOT_FOUND" in missing
    _, _, bad = await wl(env, "stations", "log", "--since", "yesterday", ok=False)
    assert "INVALID_ARGUMENT" in bad and "filter" in bad
    await station.close()


async def test_remote_actions_from_the_cli(
    csms: CsmsService, identity: IdentityService, tmp_path: Path
) -> None:
    station = SimStation(
        "CLI-2", f"ws://127.0.0.1:{csms.port}/ocpp", password=PASSWORD, handlers=default_handlers("ocpp1.6")
    )
    await station.connect()
    await station.boot()
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_CSMS_ADDRESS": f"127.0.0.1:{csms.grpc_port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    _, reset, _ = await wl(env, "stations", "reset", "CLI-2", "--hard")
    assert "Reset accepted (Accepted)" in reset
    assert station.received_calls[-1] == ("Reset", {"type": "Hard"})
    _, config, _ = await wl(env, "stations", "config", "CLI-2", "HeartbeatInterval")
    assert "GetConfiguration accepted" in config and '"HeartbeatInterval"' in config
    station.script("UnlockConnector", "Rejected")
    code, unlock, _ = await wl(env, "stations", "unlock", "CLI-2", "--connector", "1", ok=False)
    assert code == 2 and "UnlockConnector rejected (UnlockFailed)" in unlock
    code, _, bad = await wl(env, "stations", "unlock", "CLI-2", ok=False)
    assert code == 1 and "INVALID_ARGUMENT" in bad and "command.unlock_connector.target.connector_id" in bad
    _, listed, _ = await wl(env, "stations", "commands", "CLI-2")
    assert listed.count("CLI-2") == 3 and "rejected" in listed
    await station.close()
    await csms.storage.registry.writer.flush()
    code, _, offline = await wl(env, "stations", "status", "CLI-2", ok=False)
    assert code == 1 and "FAILED_PRECONDITION" in offline
