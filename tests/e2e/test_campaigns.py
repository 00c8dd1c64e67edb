"""Firmware campaigns end to end on the shared stack of real processes (tests/conftest.py:
`real_stack`): a campaign created through the CSMS's API is started by its outbox relay as a
FirmwareCampaign workflow on the worker, which sends the update wave by wave to simulated
stations (OCPP 1.6 and 2.0.1 mixed) that download, install and reboot with the new version; a
held gate waits for a person, and the resume of an authorized user lets the campaign go on."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from tests.assets.helpers import location, point
from tests.cli.test_stations_commands import WATTLANE, wl
from tests.support.assets import AssetsStack, Org, organization
from tests.support.processes import ADMIN_EMAIL, ADMIN_PASSWORD, RealStack, ws_url
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.csms.v1 import campaigns_pb2 as P
from wattlane.api.identity.v1 import accounts_pb2, auth_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clients.identity import IdentityClient
from wattlane.identity.testing import TreeBuilder
from wattlane.simulator import messages
from wattlane.simulator.firmware import FirmwareAgent, FirmwareBehaviour, attach_firmware
from wattlane.simulator.station import SimStation, default_handlers

TARGET = "2.1.0"
LOCATION = "https://firmware.example/sim-2.1.0.bin"
FAST = FirmwareBehaviour(download_seconds=0.05, install_seconds=0.05, reboot_seconds=0.05)
State = P.Campaign.State


@dataclass
class Fleet:
    """An organization's stations, connected and booted on 1.0.0, and its people's clients."""

    org: str  # tenants/{id}: owns the stations (and the campaigns, by their subtree)
    admin: CsmsClient  # organization-admin: holds stations.firmware
    viewer: CsmsClient  # an employee of the organization: sees it, may not roll out firmware
    stations: list[SimStation]
    agents: list[FirmwareAgent]

    @property
    def names(self) -> list[str]:
        return [f"stations/{s.identity}" for s in self.stations]

    async def close(self) -> None:
        for station in self.stations:
            await station.close()
        await self.admin.close()
        await self.viewer.close()


async def _service_token(admin: IdentityClient, stack: RealStack, client_id: str) -> str:
    request = auth_pb2.IssueServiceTokenRequest(client_id=client_id, client_secret=stack.secrets[client_id])
    return (await admin.auth.IssueServiceToken(request)).access_token


async def make_fleet(real_stack: RealStack, count: int, behaviour: FirmwareBehaviour) -> Fleet:
    """`count` charging points created in assets, every other one on OCPP 2.0.1, each connected
    with the key assets issued and booted on 1.0.0, their firmware run as `behaviour` says."""
    identity, assets, csms = real_stack["identity"], real_stack["assets"], real_stack["csms"]
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    worker = channel(identity.grpc, token=await _service_token(admin, real_stack, "worker"), max_attempts=1)
    stack = AssetsStack(
        None,  # type: ignore[arg-type]
        assets.grpc,
        await _service_token(admin, real_stack, "csms"),
        internal_pb2_grpc.IdentityInternalServiceStub(worker),
    )
    tree = TreeBuilder(admin)
    stations: list[SimStation] = []
    agents: list[FirmwareAgent] = []
    try:
        org: Org = await organization(
            tree, stack, datapoints=max(20, 2 * count), licenses={accounts_pb2.AC_CHARGING: count}
        )
        viewer = await tree.member(org.org.name, [("employee", org.org.name)])
        client = AssetsClient(assets.grpc, org.admin.client.token)
        site = await location(client, org.org.name, display_name="Depot")
        for n in range(count):
            created = await point(client, site.name, charging_enabled=True)
            key = (
                await client.charging_points.RotateAuthorizationKey(
                    cp_pb2.RotateAuthorizationKeyRequest(name=created.name)
                )
            ).authorization_key
            protocol = messages.V201 if n % 2 else messages.V16
            station = SimStation(
                created.ocpp_identity,
                ws_url(csms),
                protocol=protocol,
                password=key,
                handlers=default_handlers(protocol),
            )
            station.firmware_version = "1.0.0"
            agents.append(attach_firmware(station, behaviour))
            await station.connect()
            assert (await station.boot())["status"] == "Accepted"
            stations.append(station)
        await client.close()
        return Fleet(
            org.org.name,
            CsmsClient(csms.grpc, org.admin.client.token),
            CsmsClient(csms.grpc, viewer.client.token),
            stations,
            agents,
        )
    finally:
        await tree.close()
        await worker.close(None)
        await admin.close()


FleetFactory = Callable[..., Awaitable[Fleet]]


@pytest.fixture
async def fleets(real_stack: RealStack) -> AsyncIterator[FleetFactory]:
    """Makes fleets (`await fleets(count, behaviour)`); closes them after the test."""
    made: list[Fleet] = []

    async def make(count: int = 20, behaviour: FirmwareBehaviour = FAST) -> Fleet:
        made.append(await make_fleet(real_stack, count, behaviour))
        return made[-1]

    yield make
    for fleet in made:
        await fleet.close()


def rollout(fleet: Fleet, **changes: object) -> P.Campaign:
    """The fleet's campaign: a canary of 2, then half the rest, then the rest."""
    campaign = P.Campaign(
        display_name="Sim 2.1.0",
        firmware=P.Firmware(location=LOCATION, target_version=TARGET),
        targets=P.TargetSelection(subtree=fleet.org, stations=fleet.names),
        waves=P.Waves(canary_count=2, percentages=[50]),
        gate=P.Gate(min_success_percent=100, min_sample=1),
        station_timeout=duration_pb2.Duration(seconds=120),
    )
    for key, value in changes.items():
        getattr(campaign, key).CopyFrom(value)
    return campaign


async def create(fleet: Fleet, campaign: P.Campaign, timeout: float = 30.0) -> P.Campaign:
    """Create the campaign once the CSMS registered every station's boot (registration is
    written behind: until then the listed stations read as not found)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await fleet.admin.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign))
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def wait_state(fleet: Fleet, name: str, *states: int, timeout: float = 120.0) -> P.Campaign:
    deadline = time.monotonic() + timeout
    while True:
        campaign = await fleet.admin.campaigns.GetCampaign(P.GetCampaignRequest(name=name))
        if campaign.state in states:
            return campaign
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} stayed {State.Name(campaign.state)}: {campaign}")
        await asyncio.sleep(0.5)


def verified(campaign: P.Campaign) -> int:
    return sum(w.states.get("VERIFIED", 0) for w in campaign.wave_progress)


async def watch(real_stack: RealStack, home: Path, name: str) -> asyncio.subprocess.Process:
    """`wattlane firmware campaigns show NAME --watch` as the platform admin, running."""
    env = {
        **os.environ,
        "WATTLANE_HOME": str(home),
        "WATTLANE_IDENTITY_ADDRESS": real_stack["identity"].grpc,
        "WATTLANE_CSMS_ADDRESS": real_stack["csms"].grpc,
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    return await asyncio.create_subprocess_exec(
        WATTLANE,
        *("firmware", "campaigns", "show", name, "--watch", "--interval", "0.5"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_campaign_updates_a_mixed_fleet_wave_by_wave_to_verified(
    real_stack: RealStack, fleets: FleetFactory, tmp_path: Path
) -> None:
    fleet = await fleets(20)
    created = await create(fleet, rollout(fleet))
    assert created.state == State.RUNNING and created.target_count == 20
    assert [(w.wave, w.total) for w in created.wave_progress] == [(0, 2), (1, 9), (2, 9)]
    watching = await watch(real_stack, tmp_path, created.name)
    done = await wait_state(fleet, created.name, State.SUCCEEDED, State.ABORTED, State.CANCELLED)
    # The CLI's live view ends by itself once the campaign has finished.
    out, err = await asyncio.wait_for(watching.communicate(), 30)
    assert watching.returncode == 0, err.decode()
    frames = out.decode().split("\033[2J\033[H")
    assert len(frames) > 2 and "RUNNING" in frames[1]
    assert f"{created.name}: Sim 2.1.0 -> 2.1.0 (SUCCEEDED, wave 2)" in frames[-1]
    waves = [line for line in frames[-1].splitlines() if line.startswith(("0 (canary)", "1 ", "2 "))]
    assert [line.split()[-1] for line in waves] == ["2", "9", "9"]  # the last column: VERIFIED
    assert done.state == State.SUCCEEDED, done.state_reason
    assert verified(done) == 20 and not done.failures
    assert [d.action for d in done.decisions] == ["CREATE", "GATE_PASSED", "GATE_PASSED", "FINISH"]
    for station, agent in zip(fleet.stations, fleet.agents, strict=True):
        # Updated once: one job, one reboot, booted with the target version.
        assert (len(agent.jobs), station.boots, station.firmware_version) == (1, 2, TARGET), station.identity


async def test_a_held_gate_waits_for_a_person_and_an_authorized_resume_continues(
    fleets: FleetFactory,
) -> None:
    fleet = await fleets(4)  # waves: a canary of 2, then 1 and 1
    created = await create(fleet, rollout(fleet, gate=P.Gate(manual=True)))
    held = await wait_state(fleet, created.name, State.PAUSED)
    assert held.decisions[-1].action == "GATE_HELD" and verified(held) == 2
    assert sum(len(a.jobs) for a in fleet.agents) == 2  # only the canary was sent the update
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await fleet.viewer.campaigns.ResumeCampaign(
            P.ResumeCampaignRequest(name=created.name, reason="looks fine to me")
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    resumed = await fleet.admin.campaigns.ResumeCampaign(
        P.ResumeCampaignRequest(name=created.name, reason="canary checked on site")
    )
    assert resumed.state == State.RUNNING
    last = resumed.decisions[-1]
    assert (last.action, last.reason) == ("RESUME", "canary checked on site") and last.actor.startswith(
        "users/"
    )
    # The manual gate holds after every wave: each resume lets the next one go.
    now = resumed
    for _ in range(3):
        now = await wait_state(fleet, created.name, State.PAUSED, State.SUCCEEDED)
        if now.state == State.SUCCEEDED:
            break
        await fleet.admin.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=created.name, reason="next"))
    assert now.state == State.SUCCEEDED and verified(now) == 4


async def test_pause_resume_and_cancel_go_to_the_workflow_with_who_and_why(fleets: FleetFactory) -> None:
    # Slow downloads: the canary is still in progress while people decide.
    fleet = await fleets(4, FirmwareBehaviour(download_seconds=5, install_seconds=0.05, reboot_seconds=0.05))
    created = await create(fleet, rollout(fleet))
    paused = await fleet.admin.campaigns.PauseCampaign(
        P.PauseCampaignRequest(name=created.name, reason="support call")
    )
    assert paused.state == State.PAUSED and paused.state_reason == "support call"
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await fleet.admin.campaigns.PauseCampaign(P.PauseCampaignRequest(name=created.name, reason="again"))
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    resumed = await fleet.admin.campaigns.ResumeCampaign(
        P.ResumeCampaignRequest(name=created.name, reason="go")
    )
    assert resumed.state == State.RUNNING
    cancelled = await fleet.admin.campaigns.CancelCampaign(
        P.CancelCampaignRequest(name=created.name, reason="wrong image")
    )
    assert cancelled.state == State.CANCELLED and cancelled.state_reason == "wrong image"
    assert [(d.action, d.reason) for d in cancelled.decisions] == [
        ("CREATE", "4 stations in 3 waves"),
        ("PAUSE", "support call"),
        ("RESUME", "go"),
        ("CANCEL", "wrong image"),
    ]
    assert len({d.actor for d in cancelled.decisions}) == 1
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await fleet.admin.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=created.name, reason="oops"))
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Cancelled stations are free again: the stations never sent the update are targeted anew.
    again = await create(
        fleet, rollout(fleet, targets=P.TargetSelection(subtree=fleet.org, stations=fleet.names[2:]))
    )
    assert again.target_count == 2
    await fleet.admin.campaigns.CancelCampaign(P.CancelCampaignRequest(name=again.name, reason="test over"))


async def test_a_paused_campaign_sends_nothing_until_an_authorized_resume_then_finishes(
    fleets: FleetFactory,
) -> None:
    # Downloads of 2 s: the pause lands while the canary is still downloading.
    fleet = await fleets(4, FirmwareBehaviour(download_seconds=2, install_seconds=0.05, reboot_seconds=0.05))
    created = await create(fleet, rollout(fleet))
    await fleet.admin.campaigns.PauseCampaign(
        P.PauseCampaignRequest(name=created.name, reason="support call")
    )
    # The canary finishes (waited for, not timed: a loaded machine is slower), then several polls
    # pass with the campaign paused.
    deadline = time.monotonic() + 60
    while verified(await fleet.admin.campaigns.GetCampaign(P.GetCampaignRequest(name=created.name))) < 2:
        assert time.monotonic() < deadline, "the canary did not finish"
        await asyncio.sleep(0.5)
    await asyncio.sleep(4)
    paused = await fleet.admin.campaigns.GetCampaign(P.GetCampaignRequest(name=created.name))
    assert paused.state == State.PAUSED and verified(paused) == 2
    assert sum(len(a.jobs) for a in fleet.agents) == 2, "paused: wave 1 is not sent"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await fleet.viewer.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=created.name, reason="mine"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await fleet.admin.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=created.name, reason="all clear"))
    done = await wait_state(fleet, created.name, State.SUCCEEDED, State.ABORTED, State.CANCELLED)
    assert done.state == State.SUCCEEDED and verified(done) == 4
    assert [d.action for d in done.decisions] == [
        "CREATE",
        "PAUSE",
        "RESUME",
        "GATE_PASSED",
        "GATE_PASSED",
        "FINISH",
    ]
    assert [len(a.jobs) for a in fleet.agents] == [1, 1, 1, 1]
