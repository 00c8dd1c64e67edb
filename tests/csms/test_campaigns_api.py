"""CampaignService over real gRPC with a real identity and real simulated stations: a campaign's
targets and waves, bad input named by field, tenancy (a sibling organization sees nothing, a
member without `stations.firmware` is refused), and people's decisions recorded with who and why."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import duration_pb2
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from wattlane.api.csms.v1 import campaigns_pb2 as P
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.errors import field_violations
from wattlane.core.temporal import LazyClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.campaigns.workflow import CampaignWorkflows
from wattlane.csms.models import CampaignOutbox
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import TreeBuilder
from wattlane.simulator.station import SimStation, default_handlers

PASSWORD = "demo-password-0123456"
LOCATION = "https://firmware.example/sim-2.1.0.bin"
State = P.Campaign.State


@dataclass
class Stack:
    csms: CsmsService
    org_a: tenants_pb2.Tenant
    a: CsmsClient  # organization admin of org A (owns the stations)
    b: CsmsClient  # organization admin of the sibling org B
    viewer: CsmsClient  # an employee of org A: sees the tenant, may not roll out firmware
    stations: list[SimStation]

    async def boot(self, *identities: str, protocol: str = "ocpp1.6", version: str = "1.0.0") -> None:
        for identity in identities:
            station = SimStation(
                identity,
                f"ws://127.0.0.1:{self.csms.port}/ocpp",
                protocol=protocol,
                password=PASSWORD,
                handlers=default_handlers(protocol),
            )
            station.firmware_version = version
            await station.connect()
            await station.boot()
            self.stations.append(station)
        assert self.csms.storage is not None
        await self.csms.storage.registry.writer.flush()


@pytest.fixture
async def stack(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder
) -> AsyncIterator[Stack]:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org_a = await tree.tenant(customer.name, "ORGANIZATION")
    org_b = await tree.tenant(customer.name, "ORGANIZATION")
    csms = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmscampaigns"),
            identity_address=f"127.0.0.1:{identity.port}",
            demo_pattern=r"A-\d+",
            demo_password=PASSWORD,
            demo_owner=org_a.name.removeprefix("tenants/"),
            demo_owner_path=org_a.path,
            process_id="csms-campaigns",
            call_timeout=1.0,
        )
    )
    await csms.start()
    target = f"127.0.0.1:{csms.grpc_port}"
    member_a = await tree.member(org_a.name, [("organization-admin", org_a.name)])
    member_b = await tree.member(org_b.name, [("organization-admin", org_b.name)])
    viewer = await tree.member(org_a.name, [("employee", org_a.name)])
    a, b, v = (CsmsClient(target, m.client.token) for m in (member_a, member_b, viewer))
    result = Stack(csms, org_a, a, b, v, stations=[])
    yield result
    for station in result.stations:
        await station.close()
    for client in (a, b, v):
        await client.close()
    await csms.stop()


def campaign(**changes: object) -> P.Campaign:
    """A valid campaign: canary of 2, then 50% and the rest; overridden by `changes`."""
    base = P.Campaign(
        display_name="Sim 2.1.0",
        firmware=P.Firmware(location=LOCATION, target_version="2.1.0"),
        waves=P.Waves(canary_count=2, percentages=[50]),
        gate=P.Gate(min_success_percent=90, min_sample=2),
        abort_rules=[P.AbortRule(failure_type=P.DOWNLOAD_FAILED, threshold_percent=20, min_finished=5)],
        station_timeout=duration_pb2.Duration(seconds=600),
    )
    for key, value in changes.items():
        field = getattr(base, key)
        if hasattr(field, "CopyFrom"):
            field.CopyFrom(value)
        elif hasattr(field, "extend"):
            del field[:]
            field.extend(value)  # type: ignore[arg-type]
        else:
            setattr(base, key, value)
    return base


async def test_a_campaign_targets_the_stations_not_on_the_version_in_waves(stack: Stack) -> None:
    await stack.boot("A-1", "A-2", "A-3", "A-4", "A-5")
    await stack.boot("A-6", protocol="ocpp2.0.1")
    await stack.boot("A-7", version="2.1.0")  # already there: left out
    created = await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    assert created.state == State.RUNNING and created.name.startswith("campaigns/")
    assert created.target_count == 6 and created.owner == stack.org_a.name
    assert [(w.wave, w.total, dict(w.states)) for w in created.wave_progress] == [
        (0, 2, {"QUEUED": 2}),
        (1, 2, {"QUEUED": 2}),
        (2, 2, {"QUEUED": 2}),
    ]
    assert created.firmware.target_version == "2.1.0" and created.gate.min_success_percent == 90
    assert [(d.action, d.actor.startswith("users/")) for d in created.decisions] == [("CREATE", True)]
    fetched = await stack.a.campaigns.GetCampaign(P.GetCampaignRequest(name=created.name))
    assert fetched == created
    listed = await stack.a.campaigns.ListCampaigns(P.ListCampaignsRequest())
    assert [c.name for c in listed.campaigns] == [created.name]


async def test_explicit_targets_and_an_explicit_canary(stack: Stack) -> None:
    await stack.boot("A-1", "A-2", "A-3")
    created = await stack.a.campaigns.CreateCampaign(
        P.CreateCampaignRequest(
            campaign=campaign(
                targets=P.TargetSelection(stations=["stations/A-1", "stations/A-3"]),
                waves=P.Waves(canary_stations=["stations/A-3"]),
            )
        )
    )
    assert [(w.wave, w.total) for w in created.wave_progress] == [(0, 1), (1, 1)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"targets": P.TargetSelection(vendor="Nobody")}, "campaign.targets"),
        ({"waves": P.Waves(percentages=[60, 50])}, "campaign.waves.percentages"),
        ({"gate": P.Gate(min_success_percent=150)}, "campaign.gate.min_success_percent"),
        (
            {"abort_rules": [P.AbortRule(threshold_percent=-1)]},
            "campaign.abort_rules[0].threshold_percent",
        ),
        (
            {"firmware": P.Firmware(location="not a uri", target_version="2.1.0")},
            "campaign.firmware.location",
        ),
        (
            {
                "maintenance_window": P.MaintenanceWindow(
                    time_zone="Europe/Amsterdam",
                    start_time="02:00",
                    duration_minutes=120,
                    last_day="2020-01-01",
                )
            },
            "campaign.maintenance_window.last_day",
        ),
        (
            {
                "maintenance_window": P.MaintenanceWindow(
                    time_zone="Mars/Olympus", start_time="2am", duration_minutes=0
                )
            },
            "campaign.maintenance_window.time_zone",
        ),
        ({"firmware": P.Firmware(location=LOCATION)}, "campaign.firmware.target_version"),
        # A Duration may hold more seconds than Python's timedelta (the robustness walk found it).
        ({"station_timeout": duration_pb2.Duration(seconds=2**62)}, "campaign.station_timeout"),
        ({"offline_limit": duration_pb2.Duration(seconds=-5)}, "campaign.offline_limit"),
        (
            {"retries": P.Retries(ocpp_retry_interval=duration_pb2.Duration(seconds=10**12))},
            "campaign.retries.ocpp_retry_interval",
        ),
        (
            {"abort_rules": [P.AbortRule(threshold_percent=10, failure_type=2**31 - 1)]},  # type: ignore[arg-type]
            "campaign.abort_rules[0].failure_type",
        ),
        ({"waves": P.Waves(canary_count=10)}, None),  # a canary as big as the targets is one wave
    ],
)
async def test_bad_input_names_the_field(stack: Stack, changes: dict[str, object], field: str | None) -> None:
    await stack.boot("A-1", "A-2")
    request = P.CreateCampaignRequest(campaign=campaign(**changes))
    if field is None:
        assert (await stack.a.campaigns.CreateCampaign(request)).target_count == 2
        return
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stack.a.campaigns.CreateCampaign(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in field_violations(error.value)]
    assert field in (error.value.details() or "")


async def test_every_bad_field_is_named_at_once(stack: Stack) -> None:
    bad = campaign(
        firmware=P.Firmware(location="ftp:/nohost"),
        gate=P.Gate(min_success_percent=101),
        waves=P.Waves(percentages=[0]),
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=bad))
    assert {v.field for v in field_violations(error.value)} == {
        "campaign.firmware.location",
        "campaign.firmware.target_version",
        "campaign.gate.min_success_percent",
        "campaign.waves.percentages",
    }


async def test_a_sibling_sees_nothing_and_a_member_without_the_permission_is_refused(stack: Stack) -> None:
    await stack.boot("A-1", "A-2")
    created = await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    for rpc, request in [
        (stack.b.campaigns.GetCampaign, P.GetCampaignRequest(name=created.name)),
        (stack.b.campaigns.PauseCampaign, P.PauseCampaignRequest(name=created.name, reason="mine now")),
        (stack.b.campaigns.CancelCampaign, P.CancelCampaignRequest(name=created.name, reason="mine now")),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await rpc(request)  # type: ignore[operator]
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    assert list((await stack.b.campaigns.ListCampaigns(P.ListCampaignsRequest())).campaigns) == []
    # The sibling's own campaign finds none of org A's stations.
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await stack.b.campaigns.CreateCampaign(
            P.CreateCampaignRequest(campaign=campaign(targets=P.TargetSelection(stations=["stations/A-1"])))
        )
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for rpc, request in [
        (stack.viewer.campaigns.GetCampaign, P.GetCampaignRequest(name=created.name)),
        (stack.viewer.campaigns.PauseCampaign, P.PauseCampaignRequest(name=created.name, reason="no")),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await rpc(request)  # type: ignore[operator]
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.viewer.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    still = await stack.a.campaigns.GetCampaign(P.GetCampaignRequest(name=created.name))
    assert still.state == State.RUNNING and len(still.decisions) == 1


async def test_create_writes_the_outbox_row_that_starts_the_campaigns_workflow(stack: Stack) -> None:
    await stack.boot("A-1", "A-2")
    created = await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    campaign_id = created.name.removeprefix("campaigns/")
    assert stack.csms.db is not None
    async with stack.csms.db.reader() as session:
        row = await session.get(CampaignOutbox, campaign_id)
    assert row is not None and row.relay_time is None  # no Temporal here: it waits
    assert stack.csms.campaigns is not None
    started = await stack.csms.campaigns.start_for(campaign_id)
    assert started.id == f"firmware-campaign-{campaign_id}" and started.task_queue == "firmware"
    assert started.arg.campaign == created.name
    assert started.arg.wave_count == 1  # both stations are the canary
    assert created.decisions[0].reason == "2 stations in 1 waves"
    assert started.arg.spec.target_version == "2.1.0" and started.arg.spec.canary_count == 2


async def test_decisions_check_permission_then_need_temporal(stack: Stack) -> None:
    """People's decisions go to the campaign's workflow: without Temporal they are refused as
    FAILED_PRECONDITION naming the setting (after the reason, the tenancy and the state were
    checked), not UNAVAILABLE: retrying will not help."""
    await stack.boot("A-1", "A-2")
    created = await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    name = created.name
    with pytest.raises(grpc.aio.AioRpcError) as no_reason:
        await stack.a.campaigns.PauseCampaign(P.PauseCampaignRequest(name=name))
    assert no_reason.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as not_paused:
        await stack.a.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=name, reason="go on"))
    assert not_paused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for call in (
        stack.a.campaigns.PauseCampaign(P.PauseCampaignRequest(name=name, reason="support call")),
        stack.a.campaigns.CancelCampaign(P.CancelCampaignRequest(name=name, reason="wrong image")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "WATTLANE_CSMS_TEMPORAL_ADDRESS" in (refused.value.details() or "")
    still = await stack.a.campaigns.GetCampaign(P.GetCampaignRequest(name=name))
    assert still.state == State.RUNNING and [d.action for d in still.decisions] == ["CREATE"]


async def test_a_station_in_a_running_campaign_is_not_targeted_twice(stack: Stack) -> None:
    await stack.boot("A-1", "A-2")
    await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    with pytest.raises(grpc.aio.AioRpcError) as busy:
        await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_create_is_idempotent_by_request_id(stack: Stack) -> None:
    await stack.boot("A-1", "A-2")
    request = P.CreateCampaignRequest(campaign=campaign(), request_id="rollout-1")
    first = await stack.a.campaigns.CreateCampaign(request)
    again = await stack.a.campaigns.CreateCampaign(request)
    assert again.name == first.name
    assert len((await stack.a.campaigns.ListCampaigns(P.ListCampaignsRequest())).campaigns) == 1


async def test_the_relay_starts_the_workflow_once_and_retries_a_lost_start(
    stack: Stack, temporal_dev: WorkflowEnvironment
) -> None:
    """The outbox row starts `firmware-campaign-{id}`; a relay that crashed after the start and
    before marking the row starts it again on its next pass, which is a no-op (same run)."""
    await stack.boot("A-1", "A-2")
    created = await stack.a.campaigns.CreateCampaign(P.CreateCampaignRequest(campaign=campaign()))
    campaign_id = created.name.removeprefix("campaigns/")
    assert stack.csms.db is not None
    # A queue no worker serves: the workflow is started, never run (this test is about the start).
    queue = f"firmware-{secrets.token_hex(4)}"
    address = temporal_dev.client.service_client.config.target_host
    workflows = CampaignWorkflows(stack.csms.db, LazyClient(address), task_queue=queue)
    assert await workflows.relay.relay_once() == 1
    handle = temporal_dev.client.get_workflow_handle(f"firmware-campaign-{campaign_id}")
    first = await handle.describe()
    assert first.task_queue == queue and first.workflow_type == "FirmwareCampaign"
    assert await workflows.relay.relay_once() == 0  # marked: nothing waits
    async with stack.csms.db.transaction() as session:  # the crash: started, not marked
        await session.execute(update(CampaignOutbox).values(relay_time=None))
    assert await workflows.relay.relay_once() == 1
    assert (await handle.describe()).run_id == first.run_id
    await handle.terminate("test over")
