"""Tunables of the protocol layer (read from the environment in the CSMS's `settings.py`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CsmsOptions:
    """How the CSMS answers and watches stations."""

    heartbeat_interval: int = 300  # seconds, sent in BootNotification.conf for accepted stations
    pending_interval: int = 60  # seconds a Pending (unclaimed) station waits before booting again
    call_timeout: float = 30.0  # seconds a CSMS→station call waits for its answer
    # A station silent for this many heartbeat intervals is closed (and so marked offline).
    silence_factor: float = 2.5
    # Validate every reply against the response schema before sending it (tests, debugging).
    validate_responses: bool = False
