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
    # Costs on stations (when a pricing provider is configured): a running cost at most every
    # this many seconds per transaction (0 = only in replies and at the end) ...
    cost_update_interval: float = 60.0
    # ... each price waiting at most this long (a reply never waits longer for its cost) ...
    pricing_timeout: float = 1.0
    # ... and after a failed or late price, none is asked for this long (billing is down).
    pricing_backoff: float = 15.0
    # OCPP 1.6 stations shown California pricing messages without asking them (a regex of
    # identities); the others are asked for their `CustomDisplayCostAndPrice` key.
    cost_display_pattern: str = ""
