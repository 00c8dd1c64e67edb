"""Firmware rollout campaigns as the CSMS and the worker both see them: the states a station
goes through, the failure types abort rules and re-dispatch count by, and the workflow's names.

The CSMS records each station's state from its notifications; the FirmwareCampaign workflow
reads those states to decide on gates and aborts. Both spell them the same way, here."""

from __future__ import annotations

from enum import StrEnum

from wattlane.contracts import task_queues

TASK_QUEUE = task_queues.FIRMWARE
WORKFLOW = "FirmwareCampaign"


def workflow_id(campaign_id: str) -> str:
    """One workflow per campaign: a second start is rejected by Temporal."""
    return f"firmware-campaign-{campaign_id}"


class StationState(StrEnum):
    """Where one station of a campaign is. `VERIFIED` (the station booted with the target
    version) and `FAILED` are final; a success is VERIFIED, never merely INSTALLED."""

    QUEUED = "QUEUED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    INSTALLING = "INSTALLING"
    INSTALLED = "INSTALLED"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        """True for the final states (the station counts towards gates and aborts)."""
        return self in (StationState.VERIFIED, StationState.FAILED)


class FailureType(StrEnum):
    """Why a station failed: the OCPP status that failed it, or what the campaign observed."""

    REJECTED = "REJECTED"  # UpdateFirmware answered Rejected (or a call error)
    INVALID_CERTIFICATE = "INVALID_CERTIFICATE"
    REVOKED_CERTIFICATE = "REVOKED_CERTIFICATE"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    INSTALLATION_FAILED = "INSTALLATION_FAILED"
    INSTALL_VERIFICATION_FAILED = "INSTALL_VERIFICATION_FAILED"
    WRONG_VERSION = "WRONG_VERSION"  # reported Installed, then booted with another version
    TIMED_OUT = "TIMED_OUT"  # in progress longer than the campaign's per-station timeout
    OFFLINE = "OFFLINE"  # offline longer than the campaign allows before it was sent
