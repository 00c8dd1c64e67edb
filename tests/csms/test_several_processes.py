"""Two real CSMS processes (separate OS processes) on one database, a real identity, simulated
stations on both: remote actions reach the process holding the station over internal gRPC; a
SIGKILLed process's stations go offline when its lease expires, its unanswered commands are
resolved as failed, and its stations reconnect to the other process and work; SIGTERM closes
sockets with 1001 and releases the lease."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from tests.support.assets import service_token
from wattlane.api.csms.v1 import commands_pb2 as C
from wattlane.api.csms.v1 import stations_pb2 as S
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import ProcessLease
from wattlane.csms.testing import eventually_async
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client, TreeBuilder
from wattlane.simulator.station import SimStation, default_handlers

PASSWORD = "demo-password-0123456"
LEASE_SECONDS = 3.0  # short for the test; long enough for a busy 2-core machine
State = C.Command.State


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """One `python -m wattlane.csms` with its ports and output file."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    grpc_port: int
    output: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"


@dataclass
class Cluster:
    database_url: str
    env: dict[str, str]
    tmp: Path
    processes: list[Process] = field(default_factory=list)

    async def start(self, name: str) -> Process:
        port, grpc_port = _free_port(), _free_port()
        output = self.tmp / f"{name}.log"
        with output.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "wattlane.csms",
                env={
                    **os.environ,
                    **self.env,
                    "WATTLANE_CSMS_PORT": str(port),
                    "WATTLANE_CSMS_GRPC_PORT": str(grpc_port),
                    "WATTLANE_CSMS_PROCESS_ID": name,
                    # The skeleton's defaults are for production (side port 9161, 5 s drain).
                    "WATTLANE_CSMS_METRICS_PORT": "-1",
                    "WATTLANE_CSMS_DRAIN_SECONDS": "0.2",
                },
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
            )
        started = Process(name, process, port, grpc_port, output)
        self.processes.append(started)
        async with asyncio.timeout(30):
            while b"CSMS listening" not in output.read_bytes():
                assert process.returncode is None, output.read_text()
                await asyncio.sleep(0.05)
        return started


async def _station(url: str, identity: str, protocol: str = "ocpp1.6") -> SimStation:
    station = SimStation(
        identity, url, protocol=protocol, password=PASSWORD, handlers=default_handlers(protocol)
    )
    await station.connect()
    await station.boot()
    return station


async def _held_by(client: CsmsClient, identity: str, process: str) -> None:
    """Wait until the registry says `process` holds `identity` ("" = offline)."""

    async def check() -> bool:
        try:
            row = await client.stations.GetStation(S.GetStationRequest(name=f"stations/{identity}"))
        except grpc.aio.AioRpcError as exc:  # not written yet (the registry writes behind)
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return False
        online = row.connectivity == S.Station.ONLINE
        return row.connected_process == process and online == bool(process)

    await eventually_async(check, timeout=15, what=f"{identity} held by {process or 'nobody'}")


def _create(identity: str, **action: object) -> C.CreateCommandRequest:
    return C.CreateCommandRequest(parent=f"stations/{identity}", command=C.Command(**action))  # type: ignore[arg-type]


@pytest.fixture
async def cluster(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder, admin: Client, tmp_path: Path
) -> AsyncIterator[tuple[Cluster, CsmsClient]]:
    root = await tree.root()
    org = await tree.tenant((await tree.tenant(root.name, "PARTNER")).name, "CUSTOMER")
    client_id, secret, _ = await service_token(admin, ["csms.commands"], "csms")
    database_url = await databases.create("csmsmulti")
    env = {
        "WATTLANE_CSMS_DATABASE_URL": database_url,
        "WATTLANE_CSMS_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_CSMS_CLIENT_ID": client_id,
        "WATTLANE_CSMS_CLIENT_SECRET": secret,
        "WATTLANE_CSMS_DEMO_PATTERN": r"M-\d+",
        "WATTLANE_CSMS_DEMO_PASSWORD": PASSWORD,
        "WATTLANE_CSMS_DEMO_OWNER": org.name.removeprefix("tenants/"),
        "WATTLANE_CSMS_DEMO_OWNER_PATH": org.path,
        "WATTLANE_CSMS_LEASE_SECONDS": str(LEASE_SECONDS),
        "WATTLANE_CSMS_CALL_TIMEOUT": "2",
    }
    member = await tree.member(org.name, [("organization-admin", org.name)])
    running = Cluster(database_url, env, tmp_path)
    clients: list[CsmsClient] = []
    try:
        first = await running.start("csms-a")  # migrates the database before the second starts
        client = CsmsClient(f"127.0.0.1:{first.grpc_port}", member.client.token)
        clients.append(client)
        yield running, client
    finally:
        for c in clients:
            await c.close()
        for p in running.processes:
            if p.process.returncode is None:
                p.process.kill()
                await p.process.wait()


async def _leases(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        async with db.reader() as session:
            return sorted(await session.scalars(select(ProcessLease.process)))
    finally:
        await db.dispose()


async def test_remote_actions_reach_the_owning_process_and_survive_a_killed_one(
    cluster: tuple[Cluster, CsmsClient],
) -> None:
    running, via_a = cluster
    a = running.processes[0]
    b = await running.start("csms-b")
    on_a = await _station(a.url, "M-1")
    on_b = await _station(b.url, "M-2", "ocpp2.0.1")
    stations = [on_a, on_b]
    try:
        await _held_by(via_a, "M-1", "csms-a")
        await _held_by(via_a, "M-2", "csms-b")
        assert await _leases(running.database_url) == ["csms-a", "csms-b"]

        # Sent to A, carried out by B (which holds M-2's socket), answered in 2.0.1 terms.
        reset = await via_a.commands.CreateCommand(_create("M-2", reset=C.Reset(hard=True)))
        assert (reset.state, reset.protocol) == (State.ACCEPTED, "ocpp2.0.1")
        assert on_b.received_calls[-1] == ("Reset", {"type": "Immediate"})
        on_b.script("TriggerMessage", "Rejected")
        refused = await via_a.commands.CreateCommand(
            _create("M-2", trigger_message=C.TriggerMessage(message="StatusNotification"))
        )
        assert refused.state == State.REJECTED
        local = await via_a.commands.CreateCommand(_create("M-1", reset=C.Reset()))
        assert local.state == State.ACCEPTED and on_a.received_calls[-1] == ("Reset", {"type": "Soft"})

        # B never answers this one, and dies while A waits for it.
        on_b.script("ChangeAvailability", None)
        pending = asyncio.ensure_future(
            via_a.commands.CreateCommand(_create("M-2", change_availability=C.ChangeAvailability()))
        )
        await asyncio.sleep(0.5)
        b.process.send_signal(signal.SIGKILL)
        await b.process.wait()
        with pytest.raises(grpc.aio.AioRpcError) as lost:
            await pending
        assert lost.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # After B's lease expires its station is offline, and actions on it fail at once.
        await _held_by(via_a, "M-2", "")
        assert await _leases(running.database_url) == ["csms-a"]
        with pytest.raises(grpc.aio.AioRpcError) as offline:
            await via_a.commands.CreateCommand(_create("M-2", reset=C.Reset()))
        assert offline.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # The command in flight when B died is resolved, with the reason, not left "sent".
        listed = await via_a.commands.ListCommands(
            C.ListCommandsRequest(parent="stations/M-2", filter='ocpp_action = "ChangeAvailability"')
        )
        assert [(c.state, "stopped" in c.error) for c in listed.commands] == [(State.FAILED, True)]

        # M-2 reconnects to A and works again.
        await on_b.close()
        on_b = await _station(a.url, "M-2", "ocpp2.0.1")
        stations.append(on_b)
        await _held_by(via_a, "M-2", "csms-a")
        back = await via_a.commands.CreateCommand(_create("M-2", reset=C.Reset()))
        assert back.state == State.ACCEPTED

        # SIGTERM: sockets close with 1001 and the lease is released.
        a.process.send_signal(signal.SIGTERM)
        code, _ = await on_a.wait_closed(timeout=10)
        assert code == 1001
        async with asyncio.timeout(15):
            assert await a.process.wait() == 0
        assert await _leases(running.database_url) == []
    finally:
        for station in stations:
            await station.close()


async def test_a_station_that_moves_evicts_its_stale_entry(cluster: tuple[Cluster, CsmsClient]) -> None:
    running, via_a = cluster
    a = running.processes[0]
    b = await running.start("csms-b")
    first = await _station(b.url, "M-7")
    await _held_by(via_a, "M-7", "csms-b")
    # The station opens a new connection to A while B still holds the old one (a flaky link).
    second = await _station(a.url, "M-7")
    try:
        await _held_by(via_a, "M-7", "csms-a")
        await first.close()  # B's late "offline" for the old connection must not win
        await asyncio.sleep(1.0)
        await _held_by(via_a, "M-7", "csms-a")
        done = await via_a.commands.CreateCommand(_create("M-7", reset=C.Reset()))
        assert (done.state, done.error) == (State.ACCEPTED, "")
        assert second.received_calls[-1][0] == "Reset"
        assert all(action != "Reset" for action, _ in first.received_calls)
    finally:
        await first.close()
        await second.close()
