"""Inputs and outputs of the FirmwareCampaign workflow's activities (its own input, updates and
names are in `wattlane.contracts.firmware_campaign`, which the CSMS shares)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DispatchInput:
    """Send the update to the wave's stations still QUEUED (and, per the re-dispatch rules,
    those failed in a re-sendable way), at most `limit` of them (0: all) and only to stations
    that are online; a station offline longer than `offline_limit_seconds` since the wave
    started fails OFFLINE_TOO_LONG."""

    campaign: str
    wave: int
    limit: int = 0
    wave_started: str = ""  # ISO time the wave started (the offline limit counts from it)
    location: str = ""
    signing_certificate: str = ""
    signature: str = ""
    ocpp_retries: int = 0
    ocpp_retry_interval_seconds: int = 0
    offline_limit_seconds: int = 24 * 3600


@dataclass
class DispatchResult:
    """How many stations were sent the update, are waiting offline, or failed at once."""

    sent: int = 0
    offline: int = 0
    failed: int = 0


@dataclass
class SyncInput:
    """Read the campaign's progress; stations in progress since longer than
    `station_timeout_seconds` fail TIMED_OUT first."""

    campaign: str
    station_timeout_seconds: int


@dataclass
class WaveTally:
    """One wave's stations by outcome."""

    wave: int
    total: int
    succeeded: int = 0
    failed: int = 0


@dataclass
class Progress:
    """The campaign's waves and its failures by type (FailureType values)."""

    waves: list[WaveTally] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def wave(self, number: int) -> WaveTally:
        """The tally of one wave (empty when the wave has no station)."""
        return next((w for w in self.waves if w.wave == number), WaveTally(number, 0))

    @property
    def finished(self) -> int:
        """Stations that succeeded or failed, in every wave."""
        return sum(w.succeeded + w.failed for w in self.waves)


@dataclass
class DecisionInput:
    """Record a decision on the campaign at the CSMS: its new state, who, what and why."""

    campaign: str
    state: str
    wave: int
    actor: str
    action: str
    reason: str


@dataclass
class DecisionRecorded:
    """The decision is stored (a repeat of the same decision is stored once)."""

    recorded: bool = True


@dataclass
class NotifyInput:
    """Mail the campaign's creator: a gate paused it, or it aborted."""

    campaign: str
    event: str  # GATE_HELD | ABORT
    reason: str


@dataclass
class Notified:
    """The mail went out (or was already sent)."""

    sent: bool = True
