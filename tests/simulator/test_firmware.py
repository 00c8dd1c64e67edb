"""Simulated stations run the real firmware lifecycle against a real CSMS: every status reported
(and accepted by the CSMS's schema checks), the reboot, the boot with the new version — and each
failure mode ends as a real station's would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from wattlane.csms.protocol.errors import CallError, CallTimeout
from wattlane.csms.providers.interfaces import NoticeKind
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.firmware import FirmwareAgent, FirmwareBehaviour, FirmwareFailure, attach_firmware
from wattlane.simulator.station import SimStation, default_handlers

LOCATION = "https://firmware.example/sim-2.1.0.bin"
FAST = FirmwareBehaviour(download_seconds=0.05, install_seconds=0.05, reboot_seconds=0.05)


@pytest.fixture
async def csms() -> AsyncIterator[RunningCsms]:
    async with running_csms(stations={"FW-1": DEFAULT_PASSWORD}) as running:
        yield running


async def station_with_firmware(
    csms: RunningCsms, protocol: str, behaviour: FirmwareBehaviour = FAST
) -> tuple[SimStation, FirmwareAgent]:
    station = SimStation(
        "FW-1", csms.url, protocol=protocol, password=DEFAULT_PASSWORD, handlers=default_handlers(protocol)
    )
    agent = attach_firmware(station, behaviour)
    await station.connect()
    await station.boot()
    return station, agent


def reported(csms: RunningCsms) -> list[tuple[str, int | None]]:
    """The firmware statuses the CSMS recorded, with their request ids."""
    return [
        (n.value, n.request_id) for n in csms.memory.events.notices if n.kind is NoticeKind.FIRMWARE_STATUS
    ]


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def update_201(request_id: int, *, signed: bool = False, **firmware: str) -> dict[str, object]:
    body: dict[str, object] = {"location": LOCATION, "retrieveDateTime": now(), **firmware}
    if signed:
        body |= {"signingCertificate": "-----BEGIN CERTIFICATE-----", "signature": "c2lnbmF0dXJl"}
    return {"requestId": request_id, "firmware": body}


async def test_a_16_station_downloads_installs_and_boots_with_the_new_version(csms: RunningCsms) -> None:
    station, agent = await station_with_firmware(csms, messages.V16)
    answer = await csms.csms.registry.call(
        "FW-1", "UpdateFirmware", {"location": LOCATION, "retrieveDate": now()}
    )
    assert answer == {}
    await eventually(lambda: csms.memory.events.boots["FW-1"].firmware_version == "2.1.0", what="reboot")
    assert reported(csms) == [
        ("Downloading", None),
        ("Downloaded", None),
        ("Installing", None),
        ("Installed", None),
    ]
    assert station.boots == 2 and station.firmware_version == "2.1.0"
    await agent.jobs[0].done.wait()
    await station.close()


async def test_a_201_station_reports_with_the_request_id_and_installed_after_the_reboot(
    csms: RunningCsms,
) -> None:
    station, _ = await station_with_firmware(csms, messages.V201)
    answer = await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(7, signed=True))
    assert answer == {"status": "Accepted"}
    await eventually(lambda: ("Installed", 7) in reported(csms), what="installed")
    assert [s for s, _ in reported(csms)] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallRebooting",
        "Installed",
    ]
    assert {r for _, r in reported(csms)} == {7}
    boot = csms.memory.events.boots["FW-1"]
    assert (boot.firmware_version, boot.reason) == ("2.1.0", "FirmwareUpdate")
    await station.close()


async def test_the_16_security_extension_signed_update(csms: RunningCsms) -> None:
    station, _ = await station_with_firmware(csms, messages.V16)
    # The security extension's firmware object is 2.0.1's (signing certificate and signature required).
    answer = await csms.csms.registry.call("FW-1", "SignedUpdateFirmware", update_201(3, signed=True))
    assert answer == {"status": "Accepted"}
    await eventually(lambda: csms.memory.events.boots["FW-1"].firmware_version == "2.1.0", what="reboot")
    await eventually(lambda: ("Installed", 3) in reported(csms), what="installed")
    assert "SignatureVerified" in [s for s, _ in reported(csms)]
    await station.close()


async def test_a_secured_16_station_refuses_the_unsigned_update(csms: RunningCsms) -> None:
    station, _ = await station_with_firmware(csms, messages.V16, FirmwareBehaviour(signed_only=True))
    with pytest.raises(CallError, match="NotSupported"):
        await csms.csms.registry.call("FW-1", "UpdateFirmware", {"location": LOCATION, "retrieveDate": now()})
    await station.close()


async def test_download_failures_are_retried_as_asked_then_reported(csms: RunningCsms) -> None:
    behaviour = FirmwareBehaviour(download_seconds=0.02, failure=FirmwareFailure.DOWNLOAD)
    station, agent = await station_with_firmware(csms, messages.V16, behaviour)
    await csms.csms.registry.call(
        "FW-1",
        "UpdateFirmware",
        {"location": LOCATION, "retrieveDate": now(), "retries": 2, "retryInterval": 0},
    )
    await eventually(lambda: ("DownloadFailed", None) in reported(csms), what="download failed")
    assert agent.jobs[0].attempts == 3
    assert [s for s, _ in reported(csms)] == ["Downloading"] * 3 + ["DownloadFailed"]
    assert station.boots == 1 and station.firmware_version == "1.0.0"
    await station.close()


@pytest.mark.parametrize(
    ("protocol", "failure", "last"),
    [
        (messages.V16, FirmwareFailure.INSTALL, "InstallationFailed"),
        (messages.V201, FirmwareFailure.INSTALL, "InstallationFailed"),
        (messages.V201, FirmwareFailure.SIGNATURE, "InvalidSignature"),
    ],
)
async def test_failed_installs_keep_the_old_version(
    csms: RunningCsms, protocol: str, failure: FirmwareFailure, last: str
) -> None:
    station, agent = await station_with_firmware(
        csms, protocol, FirmwareBehaviour(0.02, 0.02, failure=failure)
    )
    if protocol == messages.V16:
        await csms.csms.registry.call("FW-1", "UpdateFirmware", {"location": LOCATION, "retrieveDate": now()})
    else:
        await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(1, signed=True))
    await eventually(lambda: bool(reported(csms)) and reported(csms)[-1][0] == last, what=last)
    await agent.jobs[0].done.wait()
    assert station.boots == 1 and station.firmware_version == "1.0.0"
    await station.close()


async def test_an_invalid_certificate_is_refused_in_the_answer(csms: RunningCsms) -> None:
    station, agent = await station_with_firmware(
        csms, messages.V201, FirmwareBehaviour(failure=FirmwareFailure.CERTIFICATE)
    )
    answer = await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(1, signed=True))
    assert answer == {"status": "InvalidCertificate"}
    assert agent.jobs == []
    await station.close()


async def test_a_silent_station_never_answers(csms: RunningCsms) -> None:
    station, agent = await station_with_firmware(
        csms, messages.V201, FirmwareBehaviour(failure=FirmwareFailure.SILENT)
    )
    with pytest.raises(CallTimeout):
        await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(1), timeout=0.3)
    assert agent.jobs == [] and reported(csms) == []
    await station.close()


async def test_a_station_going_offline_mid_install_comes_back_on_the_old_version(csms: RunningCsms) -> None:
    behaviour = FirmwareBehaviour(0.02, 0.2, failure=FirmwareFailure.OFFLINE, offline_seconds=0.3)
    station, agent = await station_with_firmware(csms, messages.V201, behaviour)
    await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(5))
    await eventually(lambda: csms.memory.events.online.get("FW-1") is False, what="offline")
    assert reported(csms)[-1] == ("Installing", 5)
    await agent.jobs[0].done.wait()
    assert csms.memory.events.online["FW-1"] is True
    assert station.boots == 2 and csms.memory.events.boots["FW-1"].firmware_version == "1.0.0"
    await station.close()


async def test_scheduled_downloads_wait_for_the_retrieve_time(csms: RunningCsms) -> None:
    station, _ = await station_with_firmware(csms, messages.V201)
    later = (datetime.now(UTC) + timedelta(seconds=0.4)).isoformat().replace("+00:00", "Z")
    await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(2, retrieveDateTime=later))
    await eventually(lambda: bool(reported(csms)), what="a status")
    assert reported(csms) == [("DownloadScheduled", 2)]
    await eventually(lambda: ("Installed", 2) in reported(csms), what="installed")
    await station.close()


async def test_a_station_installs_after_its_transaction_ended(csms: RunningCsms) -> None:
    station, agent = await station_with_firmware(csms, messages.V201)
    await station.transaction_event("Started", "tx-1", evse_id=1, trigger="CablePluggedIn")
    await csms.csms.registry.call("FW-1", "UpdateFirmware", update_201(4))
    await eventually(lambda: ("InstallScheduled", 4) in reported(csms), what="install scheduled")
    assert "Installing" not in agent.jobs[0].statuses
    await station.transaction_event(
        "Ended", "tx-1", trigger="EVCommunicationLost", stopped_reason="EVDisconnected"
    )
    await eventually(lambda: ("Installed", 4) in reported(csms), what="installed")
    await station.close()
