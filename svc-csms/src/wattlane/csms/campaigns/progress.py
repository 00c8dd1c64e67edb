"""How a station's progress in a campaign moves with what it reports (no I/O).

A station's (Signed)FirmwareStatusNotification moves it along; its BootNotification with the
target version makes it VERIFIED — success is booting the new firmware, not saying "Installed".
Final states never move again: a late or repeated notification cannot undo an outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from wattlane.contracts.firmware_campaign import FailureType, StationState

# OCPP firmware statuses (1.6, the 1.6 security extension, 2.0.1) → the station's state. Statuses
# that say "waiting" (scheduled, paused, Idle) leave the state as it is.
_PROGRESS = {
    "Downloading": StationState.DOWNLOADING,
    "Downloaded": StationState.DOWNLOADED,
    "SignatureVerified": StationState.DOWNLOADED,
    "Installing": StationState.INSTALLING,
    "InstallRebooting": StationState.INSTALLING,
    "Installed": StationState.INSTALLED,
}
_FAILURES = {
    "DownloadFailed": FailureType.DOWNLOAD_FAILED,
    "InvalidSignature": FailureType.INVALID_SIGNATURE,
    "InstallationFailed": FailureType.INSTALLATION_FAILED,
    "InstallVerificationFailed": FailureType.INSTALL_VERIFICATION_FAILED,
}
# Station clocks drift: a notification stamped a little before the request was recorded as sent
# still belongs to it.
CLOCK_SKEW = timedelta(seconds=30)


@dataclass(frozen=True)
class Progress:
    """A station's state in a campaign, the failure that ended it (if any), and the last OCPP
    status it reported."""

    state: StationState
    failure: FailureType | None = None
    ocpp_status: str = ""


def on_status(current: Progress, status: str) -> Progress:
    """The progress after the station reported `status`."""
    if current.state.finished:
        return current
    failure = _FAILURES.get(status)
    if failure is not None:
        return Progress(StationState.FAILED, failure, status)
    state = _PROGRESS.get(status, current.state)
    if current.state is StationState.INSTALLED and state is not StationState.INSTALLED:
        state = StationState.INSTALLED  # after Installed only the boot says more
    return Progress(state, None, status)


def on_boot(current: Progress, firmware_version: str | None, target_version: str) -> Progress:
    """The progress after the station booted reporting `firmware_version`."""
    if current.state.finished or current.state in (StationState.QUEUED, StationState.SENT):
        # Not yet accepted: a boot now is a restart, not the update's.
        if current.state is StationState.SENT and firmware_version == target_version:
            return Progress(StationState.VERIFIED, None, current.ocpp_status)
        return current
    if firmware_version == target_version:
        return Progress(StationState.VERIFIED, None, current.ocpp_status)
    if current.state is StationState.INSTALLED:
        return Progress(StationState.FAILED, FailureType.WRONG_VERSION, current.ocpp_status)
    return current  # rebooted mid-update (2.0.1 InstallRebooting comes before the boot)


def belongs(
    notice_time: datetime,
    notice_request_id: int | None,
    sent_time: datetime | None,
    request_id: int | None,
    window: timedelta,
) -> bool:
    """Whether a notification is about the update sent at `sent_time`: by request id where both
    carry one (2.0.1, the 1.6 security extension), else (1.6 UpdateFirmware has none) by time,
    within `window` after it was sent."""
    if sent_time is None:
        return False
    if request_id is not None and notice_request_id is not None:
        return request_id == notice_request_id
    return sent_time - CLOCK_SKEW <= notice_time <= sent_time + window
