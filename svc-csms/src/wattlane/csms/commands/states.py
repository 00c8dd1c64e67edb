"""The states of a stored command, and a station's answer read as its final state."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

# Answers that mean "will do" (Scheduled: after the running transaction; RebootRequired: applied
# at the next reboot; Unlocked: done).
ACCEPTING = {"Accepted", "Scheduled", "RebootRequired", "Unlocked"}


class CommandState(enum.StrEnum):
    """Stored states (the API's `Command.State` names, lower case)."""

    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """Accepted, rejected, timed out or failed."""
        return self not in (CommandState.QUEUED, CommandState.SENT)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A station's answer read as a final state."""

    state: CommandState
    station_status: str


def outcome(action: str, answer: dict[str, Any]) -> Outcome:
    """ACCEPTED or REJECTED from a (schema-valid) CALLRESULT payload.

    Reads answer with data (GetConfiguration, GetVariables) are ACCEPTED; SetVariables is
    ACCEPTED only when every variable was; UpdateFirmware 1.6 has an empty answer (accepted)."""
    if action == "SetVariables":
        statuses = [r.get("attributeStatus", "") for r in answer.get("setVariableResult", [])]
        rejected = [s for s in statuses if s not in ACCEPTING]
        return Outcome(
            CommandState.REJECTED if rejected else CommandState.ACCEPTED,
            rejected[0] if rejected else (statuses[0] if statuses else ""),
        )
    status = answer.get("status")
    if not isinstance(status, str):
        return Outcome(CommandState.ACCEPTED, "")
    return Outcome(CommandState.ACCEPTED if status in ACCEPTING else CommandState.REJECTED, status)
