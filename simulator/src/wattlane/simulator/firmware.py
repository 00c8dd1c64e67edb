"""The firmware lifecycle of a simulated station: UpdateFirmware (1.6, 2.0.1) and the 1.6
security extension's SignedUpdateFirmware answered as a real station does — download (taking
time, with OCPP's retries), verify the signature, install once no transaction runs, reboot, boot
with the new version — each step reported with (Signed)FirmwareStatusNotification.

Failure modes are chosen per station (`FirmwareBehaviour.failure`) so campaign tests and the demo
can show gates and aborts: the download fails, the installation fails, the signature is invalid,
the certificate is refused, the station never answers, or it goes offline mid-install."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed

from wattlane.simulator import messages
from wattlane.simulator.station import SimCallError, SimStation

log = logging.getLogger(__name__)


class FirmwareFailure(enum.StrEnum):
    """How a station's update goes wrong (NONE: it succeeds)."""

    NONE = "none"
    DOWNLOAD = "download"  # every attempt fails: DownloadFailed
    INSTALL = "install"  # InstallationFailed, keeps the old version
    SIGNATURE = "signature"  # InvalidSignature (signed updates; 1.6 plain: InstallationFailed)
    CERTIFICATE = "certificate"  # answers InvalidCertificate (signed updates; 1.6 plain: ignored)
    SILENT = "silent"  # never answers UpdateFirmware: the CSMS's call times out
    OFFLINE = "offline"  # drops off mid-install; back after `offline_seconds` on the old version


@dataclass
class FirmwareBehaviour:
    """How long each step takes (seconds) and how the update ends."""

    download_seconds: float = 0.2
    install_seconds: float = 0.2
    reboot_seconds: float = 0.1
    failure: FirmwareFailure = FirmwareFailure.NONE
    offline_seconds: float | None = None  # OFFLINE: None = stays offline
    # 1.6 stations with the security extension refuse the unsigned UpdateFirmware (NotSupported).
    signed_only: bool = False


@dataclass
class FirmwareJob:
    """One update the station received, as the station saw it (for tests)."""

    action: str
    location: str
    request_id: int | None
    attempts: int = 0
    statuses: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


def attach_firmware(station: SimStation, behaviour: FirmwareBehaviour | None = None) -> FirmwareAgent:
    """Give `station` a firmware manager: its UpdateFirmware (and, on 1.6, SignedUpdateFirmware)
    requests then run the whole lifecycle. Each station gets its own copy of `behaviour`."""
    agent = FirmwareAgent(station, dataclasses.replace(behaviour) if behaviour else None)
    station.handlers["UpdateFirmware"] = agent.update_firmware
    if station.protocol == messages.V16:
        station.handlers["SignedUpdateFirmware"] = agent.signed_update_firmware
    return agent


class FirmwareAgent:
    """The station's firmware manager: answers update requests and runs one job at a time."""

    def __init__(self, station: SimStation, behaviour: FirmwareBehaviour | None = None) -> None:
        self.station = station
        self.behaviour = behaviour or FirmwareBehaviour()
        self.jobs: list[FirmwareJob] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._task is not None and not self._task.done()

    # -- requests ---------------------------------------------------------------------------------

    async def update_firmware(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any] | None:
        """UpdateFirmware.req (1.6 or 2.0.1)."""
        if self.behaviour.failure is FirmwareFailure.SILENT:
            return None
        if station.protocol == messages.V16:
            if self.behaviour.signed_only:
                raise SimCallError("NotSupported", "this station installs signed firmware only", {})
            firmware = {"location": payload["location"], "retrieveDateTime": payload["retrieveDate"]}
            self._start("UpdateFirmware", firmware, None, payload)
            return {}  # 1.6's answer has no status
        return self._accept("UpdateFirmware", payload)

    async def signed_update_firmware(
        self, station: SimStation, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The 1.6 security extension's SignedUpdateFirmware.req."""
        if self.behaviour.failure is FirmwareFailure.SILENT:
            return None
        return self._accept("SignedUpdateFirmware", payload)

    def _accept(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if (
            self.behaviour.failure is FirmwareFailure.CERTIFICATE
            and "signingCertificate" in payload["firmware"]
        ):
            return {"status": "InvalidCertificate"}
        cancelled = self.busy
        self._start(action, payload["firmware"], payload["requestId"], payload)
        # A new request replaces a running one (2.0.1 L01.FR.24: AcceptedCanceled).
        return {"status": "AcceptedCanceled" if cancelled else "Accepted"}

    def _start(
        self, action: str, firmware: dict[str, Any], request_id: int | None, payload: dict[str, Any]
    ) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        job = FirmwareJob(action, firmware["location"], request_id)
        self.jobs.append(job)
        self._task = asyncio.get_running_loop().create_task(
            self._run(job, firmware, payload), name=f"sim-fw-{self.station.identity}"
        )

    # -- the lifecycle ----------------------------------------------------------------------------

    async def _run(self, job: FirmwareJob, firmware: dict[str, Any], payload: dict[str, Any]) -> None:
        try:
            await self._lifecycle(job, firmware, payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # a simulated station must not die with an unretrieved task error
            log.exception("%s: firmware job failed", self.station.identity)
        finally:
            job.done.set()

    async def _lifecycle(self, job: FirmwareJob, firmware: dict[str, Any], payload: dict[str, Any]) -> None:
        b = self.behaviour
        signed = "signature" in firmware or job.action == "SignedUpdateFirmware"
        await asyncio.sleep(0.01)  # the answer to the request goes out first
        retrieve = _parse(firmware.get("retrieveDateTime"))
        if retrieve is not None and retrieve > datetime.now(UTC):
            await self._report(job, "DownloadScheduled")
            await asyncio.sleep((retrieve - datetime.now(UTC)).total_seconds())

        retries = int(payload.get("retries") or 0)
        interval = float(payload.get("retryInterval") or 0)
        while True:
            job.attempts += 1
            await self._report(job, "Downloading")
            await asyncio.sleep(b.download_seconds)
            if b.failure is not FirmwareFailure.DOWNLOAD:
                break
            if job.attempts > retries:
                await self._report(job, "DownloadFailed")
                return
            await asyncio.sleep(interval)
        await self._report(job, "Downloaded")

        if signed:
            if b.failure is FirmwareFailure.SIGNATURE:
                await self._report(job, "InvalidSignature")
                return
            await self._report(job, "SignatureVerified")
        install_at = _parse(firmware.get("installDateTime"))
        if install_at is not None and install_at > datetime.now(UTC):
            await self._report(job, "InstallScheduled")
            await asyncio.sleep((install_at - datetime.now(UTC)).total_seconds())
        if self.station.active_transactions:
            # A station installs after its running transactions end.
            await self._report(job, "InstallScheduled")
            while self.station.active_transactions:
                await asyncio.sleep(0.05)

        await self._report(job, "Installing")
        await asyncio.sleep(b.install_seconds)
        if b.failure is FirmwareFailure.OFFLINE:
            await self.station.reboot(offline_seconds=b.offline_seconds, reason="PowerUp")
            return
        if b.failure is FirmwareFailure.INSTALL or (b.failure is FirmwareFailure.SIGNATURE and not signed):
            await self._report(job, "InstallationFailed")
            return

        version = _version_of(firmware["location"])
        if job.action == "UpdateFirmware" and self.station.protocol == messages.V16:
            # 1.6: Installed, then the reboot shows the new version in BootNotification.
            await self._report(job, "Installed")
            self.station.firmware_version = version
            await self.station.reboot(offline_seconds=b.reboot_seconds, reason="FirmwareUpdate")
            return
        await self._report(job, "InstallRebooting")
        self.station.firmware_version = version
        await self.station.reboot(offline_seconds=b.reboot_seconds, reason="FirmwareUpdate")
        await self._report(job, "Installed")

    async def _report(self, job: FirmwareJob, status: str) -> None:
        job.statuses.append(status)
        if job.action == "SignedUpdateFirmware":
            action, payload = (
                "SignedFirmwareStatusNotification",
                {"status": status, "requestId": job.request_id},
            )
        else:
            action, payload = (
                "FirmwareStatusNotification",
                messages.firmware_status(
                    self.station.protocol,
                    _as_16(status) if self.station.protocol == messages.V16 else status,
                    job.request_id,
                ),
            )
        if not self.station.connected:
            return  # a real station would queue it; the campaign learns from the boot instead
        with contextlib.suppress(ConnectionError, TimeoutError, ConnectionClosed):
            await self.station.call(action, payload)


def _as_16(status: str) -> str:
    """1.6 FirmwareStatusNotification knows fewer statuses than the security extension."""
    return {"DownloadScheduled": "Idle", "InstallScheduled": "Idle"}.get(status, status)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _version_of(location: str) -> str:
    """The firmware version a file holds: simulated files are named `<anything>-<version>.bin`
    (e.g. https://fw.example/sim-2.1.0.bin → 2.1.0); otherwise the file name itself."""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if name.endswith((".bin", ".img", ".tar", ".zip")) else name
    return stem.rsplit("-", 1)[-1] if "-" in stem else stem
