"""Remote actions as the CSMS asks them of a station, whatever the OCPP version: one value type
per action of the API's `Command.action` (converted from the API in `api/command_convert.py`),
and the local authorization list a SendLocalList carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattlane.csms.providers.interfaces import AccessStatus


@dataclass(frozen=True, slots=True)
class Target:
    """Where on the station: an EVSE and/or a connector (0 = not given: the whole station)."""

    evse_id: int = 0
    connector_id: int = 0


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    """Ask the station to send `message` (StatusNotification, Heartbeat...) now."""

    message: str
    target: Target = Target()


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    """Make the station (or one EVSE / connector) operative or inoperative."""

    target: Target = Target()
    operative: bool = False


@dataclass(frozen=True, slots=True)
class Reset:
    """Reboot the station: hard (at once) or soft (when idle)."""

    hard: bool = False


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """Start a transaction for `id_tag`."""

    id_tag: str
    target: Target = Target()


@dataclass(frozen=True, slots=True)
class RemoteStop:
    """Stop the transaction the station knows as `transaction_id`."""

    transaction_id: str


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    """Release the cable of one connector."""

    target: Target = Target()


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    """Read configuration keys (OCPP 1.6; none = all)."""

    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    """Set one configuration key (OCPP 1.6)."""

    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A device-model variable of a component (OCPP 2.0.1), optionally on one EVSE."""

    component: str
    variable: str
    evse_id: int = 0


@dataclass(frozen=True, slots=True)
class GetVariables:
    """Read device-model variables (OCPP 2.0.1)."""

    variables: tuple[VariableRef, ...] = ()


@dataclass(frozen=True, slots=True)
class VariableValue:
    """A value to set on a variable."""

    variable: VariableRef
    value: str = ""


@dataclass(frozen=True, slots=True)
class SetVariables:
    """Set device-model variables (OCPP 2.0.1)."""

    values: tuple[VariableValue, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    """Install the firmware at `location`, fetched at `retrieve_time` (None: now)."""

    location: str
    retrieve_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class GetDiagnostics:
    """Upload the station's diagnostics to `location`."""

    location: str


@dataclass(frozen=True, slots=True)
class SetChargingLimit:
    """Limit the power of the station (or of one connector / EVSE) to `limit_w`."""

    target: Target = Target()
    limit_w: int = 0


@dataclass(frozen=True, slots=True)
class ClearChargingLimit:
    """Remove the limit `SetChargingLimit` put on the same target."""

    target: Target = Target()


@dataclass(frozen=True, slots=True)
class SendLocalList:
    """Replace the station's local authorization list with the cards assets lists for it."""


Action = (
    TriggerMessage
    | ChangeAvailability
    | Reset
    | RemoteStart
    | RemoteStop
    | UnlockConnector
    | GetConfiguration
    | ChangeConfiguration
    | GetVariables
    | SetVariables
    | UpdateFirmware
    | GetDiagnostics
    | SetChargingLimit
    | ClearChargingLimit
    | SendLocalList
)


@dataclass(frozen=True, slots=True)
class LocalListEntry:
    """One card of a station's local authorization list."""

    id_token: str
    status: AccessStatus
    expire_time: datetime | None = None
