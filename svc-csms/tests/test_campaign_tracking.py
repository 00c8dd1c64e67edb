"""Campaign progress in the database, from real stations running the firmware lifecycle: 1.6 by
time window, 2.0.1 by request id, failures by their status — and a station that reboots into
another CSMS process is verified there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from wattlane.contracts.firmware_campaign import StationState
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.campaigns import dispatch, tracking
from wattlane.csms.campaigns.campaigns import CampaignState
from wattlane.csms.commands.peers import Peers
from wattlane.csms.commands.runner import CommandRunner
from wattlane.csms.models import CampaignStation, FirmwareCampaign, Station
from wattlane.csms.providers.interfaces import StationOwner
from wattlane.csms.providers.memory import memory_providers
from wattlane.csms.registry import repository
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually_async, running_csms
from wattlane.simulator import messages
from wattlane.simulator.firmware import FirmwareAgent, FirmwareBehaviour, FirmwareFailure, attach_firmware
from wattlane.simulator.station import SimStation, default_handlers

OWNER = StationOwner("org1", "/op/p1/c1/org1/")
LOCATION = "https://firmware.example/sim-2.1.0.bin"
FAST = FirmwareBehaviour(download_seconds=0.05, install_seconds=0.05, reboot_seconds=0.05)


@contextlib.asynccontextmanager
async def csms_process(db: Database, process: str) -> AsyncIterator[RunningCsms]:
    """One CSMS process on the shared database, with CS16 and CS201 registered."""
    memory = memory_providers()
    storage = Storage.build(
        db,
        memory.stations,
        memory.access,
        process=process,
        log_flush_interval=0.05,
        registry_flush_interval=0.05,
    )
    await storage.start()
    memory.stations.add("CS16", DEFAULT_PASSWORD, owner=OWNER)
    memory.stations.add("CS201", DEFAULT_PASSWORD, owner=OWNER)
    try:
        async with running_csms(memory=memory, storage=storage, stations={}) as running:
            yield running
    finally:
        await storage.close()


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("csms"))
    yield database
    await database.dispose()


@pytest.fixture
async def csms(db: Database) -> AsyncIterator[RunningCsms]:
    async with csms_process(db, "csms-a") as running:
        yield running


async def enrol(db: Database, identity: str, request_id: int | None, *, window: int = 600) -> None:
    """Put the station in campaign C1 and record the update as sent now."""
    now = utcnow()
    async with db.transaction() as session:
        session.add(
            CampaignStation(
                campaign_id="C1",
                identity=identity,
                wave=0,
                state=StationState.QUEUED.value,
                target_version="2.1.0",
                window_seconds=window,
                update_time=now,
            )
        )
    async with db.transaction() as session:
        await tracking.record_sent(session, "C1", identity, request_id, now)


async def row(db: Database, identity: str) -> CampaignStation:
    async with db.reader() as session:
        found = await session.get(CampaignStation, ("C1", identity))
    assert found is not None
    return found


async def reaches(db: Database, identity: str, state: StationState) -> CampaignStation:
    async def there() -> bool:
        return (await row(db, identity)).state == state.value

    await eventually_async(there, what=f"{identity} {state}")
    return await row(db, identity)


async def station(
    csms: RunningCsms, identity: str, protocol: str, behaviour: FirmwareBehaviour = FAST
) -> tuple[SimStation, FirmwareAgent]:
    sim = SimStation(
        identity, csms.url, protocol=protocol, password=DEFAULT_PASSWORD, handlers=default_handlers(protocol)
    )
    agent = attach_firmware(sim, behaviour)
    await sim.connect()
    await sim.boot()
    return sim, agent


def now_text() -> str:
    return utcnow().isoformat().replace("+00:00", "Z")


async def test_a_16_station_is_followed_by_time_and_verified_by_its_boot(
    db: Database, csms: RunningCsms
) -> None:
    sim, _agent = await station(csms, "CS16", messages.V16)
    await enrol(db, "CS16", None)
    await csms.csms.registry.call(
        "CS16", "UpdateFirmware", {"location": LOCATION, "retrieveDate": now_text()}
    )
    verified = await reaches(db, "CS16", StationState.VERIFIED)
    assert (verified.ocpp_status, verified.failure_type, verified.dispatches) == ("Installed", "", 1)
    await sim.close()


async def test_a_201_station_is_followed_by_request_id(db: Database, csms: RunningCsms) -> None:
    sim, _agent = await station(csms, "CS201", messages.V201)
    await enrol(db, "CS201", 41)
    request = {"requestId": 41, "firmware": {"location": LOCATION, "retrieveDateTime": now_text()}}
    await csms.csms.registry.call("CS201", "UpdateFirmware", request)
    await reaches(db, "CS201", StationState.VERIFIED)
    await sim.close()


async def test_notices_of_another_request_are_not_the_campaigns(db: Database, csms: RunningCsms) -> None:
    sim, _agent = await station(csms, "CS201", messages.V201)
    await enrol(db, "CS201", 41)
    request = {"requestId": 99, "firmware": {"location": LOCATION, "retrieveDateTime": now_text()}}
    await csms.csms.registry.call("CS201", "UpdateFirmware", request)
    # The station updates (a hand-sent request) and boots with the target: that still verifies
    # it, but none of the other request's statuses were taken for the campaign's.
    await reaches(db, "CS201", StationState.VERIFIED)
    assert (await row(db, "CS201")).ocpp_status == ""
    await sim.close()


async def test_a_16_notice_outside_the_window_is_not_the_campaigns(db: Database, csms: RunningCsms) -> None:
    sim, agent = await station(
        csms, "CS16", messages.V16, FirmwareBehaviour(0.02, failure=FirmwareFailure.DOWNLOAD)
    )
    await enrol(db, "CS16", None, window=600)
    async with db.transaction() as session:
        found = await session.get(CampaignStation, ("C1", "CS16"))
        assert found is not None
        found.sent_time = utcnow() - timedelta(hours=2)  # sent long ago
    await csms.csms.registry.call(
        "CS16", "UpdateFirmware", {"location": LOCATION, "retrieveDate": now_text()}
    )
    await agent.jobs[0].done.wait()  # it reported Downloading and DownloadFailed
    assert (await row(db, "CS16")).state == StationState.SENT.value
    await sim.close()


@pytest.mark.parametrize(
    ("protocol", "failure", "failure_type"),
    [
        (messages.V16, FirmwareFailure.DOWNLOAD, "DOWNLOAD_FAILED"),
        (messages.V16, FirmwareFailure.INSTALL, "INSTALLATION_FAILED"),
        (messages.V201, FirmwareFailure.SIGNATURE, "INVALID_SIGNATURE"),
    ],
)
async def test_failures_are_recorded_with_their_type(
    db: Database, csms: RunningCsms, protocol: str, failure: FirmwareFailure, failure_type: str
) -> None:
    identity = "CS16" if protocol == messages.V16 else "CS201"
    sim, _agent = await station(csms, identity, protocol, FirmwareBehaviour(0.02, 0.02, failure=failure))
    await enrol(db, identity, None if protocol == messages.V16 else 5)
    if protocol == messages.V16:
        request: dict[str, object] = {"location": LOCATION, "retrieveDate": now_text()}
    else:
        firmware = {
            "location": LOCATION,
            "retrieveDateTime": now_text(),
            "signingCertificate": "c",
            "signature": "s",
        }
        request = {"requestId": 5, "firmware": firmware}
    await csms.csms.registry.call(identity, "UpdateFirmware", request)
    failed = await reaches(db, identity, StationState.FAILED)
    assert failed.failure_type == failure_type
    await sim.close()


async def test_a_station_rebooting_into_another_process_is_verified_there(
    db: Database, csms: RunningCsms
) -> None:
    async with csms_process(db, "csms-b") as other:
        sim, _agent = await station(csms, "CS201", messages.V201, FirmwareBehaviour(0.05, 0.3, 0.05))
        await enrol(db, "CS201", 8)
        request = {"requestId": 8, "firmware": {"location": LOCATION, "retrieveDateTime": now_text()}}
        await csms.csms.registry.call("CS201", "UpdateFirmware", request)
        await reaches(db, "CS201", StationState.INSTALLING)
        sim.url = other.url + "/CS201"  # the load balancer sends the reconnect elsewhere
        await reaches(db, "CS201", StationState.VERIFIED)
        assert other.storage is not None
        await other.storage.registry.writer.flush()
        async with db.reader() as session:
            assert (await repository.get_station(session, "CS201")).connected_process == "csms-b"  # type: ignore[union-attr]
        await sim.close()


# -- dispatch: the workflow's activities at the CSMS --------------------------------------------


async def campaign_of(db: Database, *identities: str, state: str = "RUNNING") -> None:
    """Campaign C1 with `identities` QUEUED in wave 0."""
    now = utcnow()
    async with db.transaction() as session:
        session.add(
            FirmwareCampaign(
                id="C1",
                owner_id="org1",
                owner_path=OWNER.owner_path,
                display_name="test",
                spec=b"",
                target_version="2.1.0",
                state=state,
                target_count=len(identities),
                decisions=[],
                creator="users/test",
                create_time=now,
                update_time=now,
            )
        )
        for identity in identities:
            session.add(
                CampaignStation(
                    campaign_id="C1",
                    identity=identity,
                    wave=0,
                    state=StationState.QUEUED.value,
                    target_version="2.1.0",
                    window_seconds=600,
                    update_time=now,
                )
            )


def runner_of(db: Database, csms: RunningCsms) -> CommandRunner:
    return CommandRunner(db, "csms-a", csms.csms.registry, Peers(None, timeout=5))


async def test_a_wave_is_sent_once_and_its_stations_verified(db: Database, csms: RunningCsms) -> None:
    sim16, _ = await station(csms, "CS16", messages.V16)
    sim201, _ = await station(csms, "CS201", messages.V201)
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    await campaign_of(db, "CS16", "CS201")
    runner = runner_of(db, csms)
    sent = await dispatch.dispatch_wave(db, runner, "C1", 0, dispatch.Firmware(LOCATION))
    assert (sent.sent, sent.offline, sent.failed) == (2, 0, 0)
    again = await dispatch.dispatch_wave(db, runner, "C1", 0, dispatch.Firmware(LOCATION))
    assert again.sent == 0, "a repeated dispatch sends no station twice"
    await reaches(db, "CS16", StationState.VERIFIED)
    await reaches(db, "CS201", StationState.VERIFIED)
    async with db.reader() as session:
        assert await tracking.counts(session, "C1") == {(0, "VERIFIED", ""): 2}
    assert [a for a, _ in sim16.received_calls].count("UpdateFirmware") == 1
    assert [a for a, _ in sim201.received_calls].count("UpdateFirmware") == 1
    await sim16.close()
    await sim201.close()


async def test_a_signed_update_goes_to_a_16_station_as_signed_update_firmware(
    db: Database, csms: RunningCsms
) -> None:
    sim, agent = await station(csms, "CS16", messages.V16)
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    await campaign_of(db, "CS16")
    firmware = dispatch.Firmware(
        LOCATION, signing_certificate="-----BEGIN CERTIFICATE-----", signature="c2ln"
    )
    await dispatch.dispatch_wave(db, runner_of(db, csms), "C1", 0, firmware)
    await reaches(db, "CS16", StationState.VERIFIED)
    assert agent.jobs[0].action == "SignedUpdateFirmware"
    await sim.close()


async def test_a_refused_certificate_fails_the_station_at_once(db: Database, csms: RunningCsms) -> None:
    sim, _ = await station(
        csms, "CS201", messages.V201, FirmwareBehaviour(failure=FirmwareFailure.CERTIFICATE)
    )
    assert csms.storage is not None
    await csms.storage.registry.writer.flush()
    await campaign_of(db, "CS201")
    firmware = dispatch.Firmware(
        LOCATION, signing_certificate="-----BEGIN CERTIFICATE-----", signature="c2ln"
    )
    result = await dispatch.dispatch_wave(db, runner_of(db, csms), "C1", 0, firmware)
    assert result.failed == 1
    assert (await row(db, "CS201")).failure_type == "INVALID_CERTIFICATE"
    await sim.close()


async def test_offline_stations_wait_then_fail_and_stuck_ones_time_out(
    db: Database, csms: RunningCsms
) -> None:
    await campaign_of(db, "CS16", "CS201")
    now = utcnow()
    async with db.transaction() as session:  # both known to the registry, neither online
        for identity in ("CS16", "CS201"):
            session.add(
                Station(identity=identity, owner_path=OWNER.owner_path, online=False, create_time=now)
            )
    runner = runner_of(db, csms)
    waiting = await dispatch.dispatch_wave(db, runner, "C1", 0, dispatch.Firmware(LOCATION), wave_started=now)
    assert (waiting.sent, waiting.offline) == (0, 2)
    late = now - timedelta(days=2)
    gone = await dispatch.dispatch_wave(db, runner, "C1", 0, dispatch.Firmware(LOCATION), wave_started=late)
    assert gone.failed == 2
    assert (await row(db, "CS16")).failure_type == "OFFLINE_TOO_LONG"
    # A station sent long ago and never finished times out.
    async with db.transaction() as session:
        stuck = await session.get(CampaignStation, ("C1", "CS201"))
        assert stuck is not None
        stuck.state, stuck.failure_type, stuck.sent_time = StationState.DOWNLOADING.value, "", late
    assert await dispatch.expire(db, "C1", 3600) == 1
    assert (await row(db, "CS201")).failure_type == "TIMED_OUT"


async def test_nothing_is_sent_unless_the_campaign_runs_and_decisions_are_stored_once(
    db: Database, csms: RunningCsms
) -> None:
    sim, _ = await station(csms, "CS16", messages.V16)
    await campaign_of(db, "CS16", state="PAUSED")
    assert (
        await dispatch.dispatch_wave(db, runner_of(db, csms), "C1", 0, dispatch.Firmware(LOCATION))
    ).sent == 0
    for _ in range(2):  # a retried activity
        await dispatch.record_decision(
            db, "C1", CampaignState.ABORTED, 0, "campaign", "ABORT", "2 of 5 failed"
        )
    async with db.reader() as session:
        campaign = await session.get(FirmwareCampaign, "C1")
    assert campaign is not None and campaign.state == "ABORTED"
    assert [d["action"] for d in campaign.decisions] == ["ABORT"]
    await sim.close()
