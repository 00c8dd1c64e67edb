"""Firmware rollout campaigns as the CSMS and the worker both see them: the states a station
goes through, the failure types abort rules and re-dispatch count by, and the workflow's names.

The CSMS records each station's state from its notifications; the FirmwareCampaign workflow
reads those states to decide on gates and aborts. Both spell them the same way, here."""

from __future__ import annotations

from dataclasses import dataclass
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
    OFFLINE_TOO_LONG = "OFFLINE_TOO_LONG"  # offline longer than the campaign allows before it was sent


ANY_FAILURE = "ANY"
"""A rule's failure type that counts every failure."""


@dataclass(frozen=True)
class AbortRuleSpec:
    """Abort once `min_finished` stations finished and more than `threshold_percent` of them
    failed with `failure_type` (a FailureType value, or ANY_FAILURE)."""

    failure_type: str
    threshold_percent: float
    min_finished: int


@dataclass(frozen=True)
class RedispatchSpec:
    """Send the update again to stations failed with `failure_type`, up to `max_sends` in all."""

    failure_type: str
    max_sends: int


@dataclass(frozen=True)
class WindowSpec:
    """A maintenance window: from `start` (local `HH:MM`) for `minutes` on `weekdays`
    (0 = Monday), between the local days `first_day` and `last_day` (ISO dates, '' = open)."""

    time_zone: str
    start: str
    minutes: int
    weekdays: tuple[int, ...]
    first_day: str = ""
    last_day: str = ""


@dataclass(frozen=True)
class CampaignSpec:
    """What a campaign does, validated by the CSMS: the FirmwareCampaign workflow's plan."""

    location: str
    target_version: str
    signing_certificate: str = ""
    signature: str = ""
    canary_stations: tuple[str, ...] = ()
    canary_count: int = 0
    percentages: tuple[float, ...] = ()
    exponential_start: int = 0
    exponential_factor: float = 0.0
    gate_min_success_percent: float = 100.0
    gate_min_sample: int = 1
    gate_manual: bool = False
    abort_rules: tuple[AbortRuleSpec, ...] = ()
    station_timeout_seconds: int = 2 * 3600
    offline_limit_seconds: int = 24 * 3600
    ocpp_retries: int = 0
    ocpp_retry_interval_seconds: int = 0
    redispatch: tuple[RedispatchSpec, ...] = ()
    window: WindowSpec | None = None
    max_concurrent: int = 0
    max_per_minute: int = 0


@dataclass(frozen=True)
class CampaignInput:
    """The workflow's input: `campaigns/{id}`, its plan and how many waves the CSMS split its
    stations into (each station's wave is stored with it). `start_wave` and `poll_seconds`
    carry a run over continue-as-new and let tests poll fast."""

    campaign: str
    spec: CampaignSpec
    wave_count: int
    start_wave: int = 0
    poll_seconds: int = 30


@dataclass(frozen=True)
class CampaignCommand:
    """A person's decision, sent by the CSMS after it checked `stations.firmware`."""

    actor: str  # users/{id}
    reason: str


@dataclass(frozen=True)
class CampaignStatus:
    """The campaign's state (a CampaignState value) and the wave it is on."""

    state: str
    wave: int
    reason: str = ""


PAUSE = "pause"
RESUME = "resume"
CANCEL = "cancel"
STATUS_QUERY = "status"
