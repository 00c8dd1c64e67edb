"""Remote actions in OCPP terms: an action (`actions.py`) → (OCPP action, payload) for the
station's version (the answer is read in `states.py`).

Pure functions (no I/O): the request is checked here, field by field, so a bad input is an
INVALID_ARGUMENT naming the field before anything is stored or sent; the payload is checked
again against the official schema when it is sent (`StationConnection.call`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wattlane.core.errors import FailedPrecondition, InvalidArgument
from wattlane.csms.commands.actions import (
    Action,
    ChangeAvailability,
    ChangeConfiguration,
    ClearChargingLimit,
    GetConfiguration,
    GetDiagnostics,
    GetVariables,
    LocalListEntry,
    RemoteStart,
    RemoteStop,
    Reset,
    SendLocalList,
    SetChargingLimit,
    SetVariables,
    Target,
    TriggerMessage,
    UnlockConnector,
    UpdateFirmware,
    VariableRef,
)
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import AccessStatus

V16, V201 = OcppVersion.V16, OcppVersion.V201
# One charging profile id per station-level or connector-level limit (1.6 connector / 2.0.1
# EVSE number added), so a new limit on the same target replaces the previous one.
LIMIT_PROFILE_BASE = 9000
MAX_LIMIT_W = 10_000_000
TRIGGERABLE = {
    V16: {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    },
    V201: {
        "BootNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
        "SignChargingStationCertificate",
    },
}


@dataclass(frozen=True, slots=True)
class OcppRequest:
    """What goes to the station."""

    action: str
    payload: dict[str, Any]


def _field(name: str) -> str:
    return f"command.{name}"


def _version(protocol: str) -> OcppVersion:
    try:
        return OcppVersion(protocol)
    except ValueError:
        raise FailedPrecondition(
            "the station has not connected with a known OCPP version", reason="STATION_OFFLINE"
        ) from None


def _only(version: OcppVersion, wanted: OcppVersion, kind: str, instead: str) -> None:
    if version is not wanted:
        raise FailedPrecondition(
            f"{kind} exists in OCPP {wanted.value.removeprefix('ocpp')} only; the station speaks "
            f"{version.value}: use {instead}",
            reason="WRONG_OCPP_VERSION",
        )


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    if required and not value:
        raise InvalidArgument.field(_field(field), "is required")
    if len(value) > limit:
        raise InvalidArgument.field(_field(field), f"must be at most {limit} characters")
    return value


def _url(value: str, field: str) -> str:
    _text(value, field, 512)
    if "://" not in value:
        raise InvalidArgument.field(_field(field), "must be a URL (scheme://...)")
    return value


def _target(
    target: Target, field: str, version: OcppVersion, *, connector_needed: bool = False
) -> tuple[int, int]:
    """(evse, connector) checked: non-negative, and what the version needs."""
    evse, connector = target.evse_id, target.connector_id
    if evse < 0:
        raise InvalidArgument.field(_field(f"{field}.evse_id"), "must not be negative")
    if connector < 0:
        raise InvalidArgument.field(_field(f"{field}.connector_id"), "must not be negative")
    if version is V16 and evse:
        raise InvalidArgument.field(
            _field(f"{field}.evse_id"), "is not used on OCPP 1.6 (address connector_id)"
        )
    if version is V201 and connector and not evse:
        raise InvalidArgument.field(_field(f"{field}.evse_id"), "is required with connector_id on 2.0.1")
    if connector_needed:
        if version is V16 and connector == 0:
            raise InvalidArgument.field(_field(f"{field}.connector_id"), "must be > 0")
        if version is V201 and (evse == 0 or connector == 0):
            name = "evse_id" if evse == 0 else "connector_id"
            raise InvalidArgument.field(_field(f"{field}.{name}"), "must be > 0")
    return evse, connector


def _evse(evse: int, connector: int) -> dict[str, Any]:
    return {"id": evse, "connectorId": connector} if connector else {"id": evse}


def ocpp_request(
    action: Action,
    protocol: str,
    remote_start_id: int,
    local_list: Sequence[LocalListEntry] | None = None,
    list_version: int = 1,
) -> OcppRequest:
    """The OCPP call for `action` on a station speaking `protocol`.

    `remote_start_id` numbers a 2.0.1 RequestStartTransaction (the station echoes it in its
    TransactionEvent) and other requestIds; `local_list` (from assets) and `list_version` (higher
    than any earlier one) make a SendLocalList. Raises InvalidArgument naming the field, or
    FailedPrecondition for an action the station's OCPP version does not have."""
    version = _version(protocol)
    if isinstance(action, SendLocalList):
        if local_list is None:
            raise FailedPrecondition("no local authorization list source (assets) is configured")
        return send_local_list(local_list, version, list_version)
    built: OcppRequest = _BUILDERS[type(action)](action, version, remote_start_id)
    return built


def _trigger(m: TriggerMessage, v: OcppVersion, _: int) -> OcppRequest:
    if m.message not in TRIGGERABLE[v]:
        choices = ", ".join(sorted(TRIGGERABLE[v]))
        raise InvalidArgument.field(_field("trigger_message.message"), f"must be one of {choices}")
    evse, connector = _target(m.target, "trigger_message.target", v)
    payload: dict[str, Any] = {"requestedMessage": m.message}
    if v is V16:
        if connector:
            payload["connectorId"] = connector
    elif evse:
        payload["evse"] = _evse(evse, connector)
    return OcppRequest("TriggerMessage", payload)


def _availability(m: ChangeAvailability, v: OcppVersion, _: int) -> OcppRequest:
    evse, connector = _target(m.target, "change_availability.target", v)
    if v is V16:
        return OcppRequest(
            "ChangeAvailability",
            {"connectorId": connector, "type": "Operative" if m.operative else "Inoperative"},
        )
    payload: dict[str, Any] = {"operationalStatus": "Operative" if m.operative else "Inoperative"}
    if evse:
        payload["evse"] = _evse(evse, connector)
    return OcppRequest("ChangeAvailability", payload)


def _reset(m: Reset, v: OcppVersion, _: int) -> OcppRequest:
    if v is V16:
        return OcppRequest("Reset", {"type": "Hard" if m.hard else "Soft"})
    return OcppRequest("Reset", {"type": "Immediate" if m.hard else "OnIdle"})


def _remote_start(m: RemoteStart, v: OcppVersion, start_id: int) -> OcppRequest:
    evse, connector = _target(m.target, "remote_start.target", v)
    if v is V16:
        payload: dict[str, Any] = {"idTag": _text(m.id_tag, "remote_start.id_tag", 20)}
        if connector:
            payload["connectorId"] = connector
        return OcppRequest("RemoteStartTransaction", payload)
    payload = {
        "idToken": {"idToken": _text(m.id_tag, "remote_start.id_tag", 36), "type": "ISO14443"},
        "remoteStartId": start_id,
    }
    if evse:
        payload["evseId"] = evse
    return OcppRequest("RequestStartTransaction", payload)


def _remote_stop(m: RemoteStop, v: OcppVersion, _: int) -> OcppRequest:
    if v is V16:
        raw = _text(m.transaction_id, "remote_stop.transaction_id", 10)
        if not raw.isdigit():
            raise InvalidArgument.field(
                _field("remote_stop.transaction_id"), "must be an integer on OCPP 1.6"
            )
        return OcppRequest("RemoteStopTransaction", {"transactionId": int(raw)})
    return OcppRequest(
        "RequestStopTransaction", {"transactionId": _text(m.transaction_id, "remote_stop.transaction_id", 36)}
    )


def _unlock(m: UnlockConnector, v: OcppVersion, _: int) -> OcppRequest:
    evse, connector = _target(m.target, "unlock_connector.target", v, connector_needed=True)
    if v is V16:
        return OcppRequest("UnlockConnector", {"connectorId": connector})
    return OcppRequest("UnlockConnector", {"evseId": evse, "connectorId": connector})


def _get_configuration(m: GetConfiguration, v: OcppVersion, _: int) -> OcppRequest:
    _only(v, V16, "get_configuration", "get_variables")
    for i, key in enumerate(m.keys):
        _text(key, f"get_configuration.keys[{i}]", 50)
    return OcppRequest("GetConfiguration", {"key": list(m.keys)} if m.keys else {})


def _change_configuration(m: ChangeConfiguration, v: OcppVersion, _: int) -> OcppRequest:
    _only(v, V16, "change_configuration", "set_variables")
    key = _text(m.key, "change_configuration.key", 50)
    value = _text(m.value, "change_configuration.value", 500, required=False)
    return OcppRequest("ChangeConfiguration", {"key": key, "value": value})


def _variable(ref: VariableRef, field: str) -> dict[str, Any]:
    component: dict[str, Any] = {"name": _text(ref.component, f"{field}.component", 50)}
    if ref.evse_id < 0:
        raise InvalidArgument.field(_field(f"{field}.evse_id"), "must not be negative")
    if ref.evse_id:
        component["evse"] = {"id": ref.evse_id}
    return {"component": component, "variable": {"name": _text(ref.variable, f"{field}.variable", 50)}}


def _get_variables(m: GetVariables, v: OcppVersion, _: int) -> OcppRequest:
    _only(v, V201, "get_variables", "get_configuration")
    if not m.variables:
        raise InvalidArgument.field(_field("get_variables.variables"), "at least one is required")
    data = [_variable(ref, f"get_variables.variables[{i}]") for i, ref in enumerate(m.variables)]
    return OcppRequest("GetVariables", {"getVariableData": data})


def _set_variables(m: SetVariables, v: OcppVersion, _: int) -> OcppRequest:
    _only(v, V201, "set_variables", "change_configuration")
    if not m.values:
        raise InvalidArgument.field(_field("set_variables.values"), "at least one is required")
    data = []
    for i, item in enumerate(m.values):
        field = f"set_variables.values[{i}]"
        entry = _variable(item.variable, f"{field}.variable")
        entry["attributeValue"] = _text(item.value, f"{field}.value", 1000, required=False)
        data.append(entry)
    return OcppRequest("SetVariables", {"setVariableData": data})


def _update_firmware(m: UpdateFirmware, v: OcppVersion, request_id: int) -> OcppRequest:
    location = _url(m.location, "update_firmware.location")
    at = m.retrieve_time if m.retrieve_time is not None else dt.datetime.now(dt.UTC)
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if v is V16:
        return OcppRequest("UpdateFirmware", {"location": location, "retrieveDate": when})
    return OcppRequest(
        "UpdateFirmware",
        {"requestId": request_id, "firmware": {"location": location, "retrieveDateTime": when}},
    )


def _get_diagnostics(m: GetDiagnostics, v: OcppVersion, request_id: int) -> OcppRequest:
    location = _url(m.location, "get_diagnostics.location")
    if v is V16:
        return OcppRequest("GetDiagnostics", {"location": location})
    return OcppRequest(
        "GetLog", {"logType": "DiagnosticsLog", "requestId": request_id, "log": {"remoteLocation": location}}
    )


def limit_profile_id(evse: int, connector: int) -> int:
    """The charging profile id of the limit on a target (1.6: connector; 2.0.1: EVSE)."""
    return LIMIT_PROFILE_BASE + (connector or evse)


def _set_limit(m: SetChargingLimit, v: OcppVersion, _: int) -> OcppRequest:
    evse, connector = _target(m.target, "set_charging_limit.target", v)
    if v is V201 and connector:
        raise InvalidArgument.field(
            _field("set_charging_limit.target.connector_id"), "limits apply per EVSE on 2.0.1"
        )
    if not 0 < m.limit_w <= MAX_LIMIT_W:
        raise InvalidArgument.field(_field("set_charging_limit.limit_w"), f"must be in 1..{MAX_LIMIT_W}")
    station_wide = (connector if v is V16 else evse) == 0
    profile_id = limit_profile_id(evse, connector)
    period = [{"startPeriod": 0, "limit": float(m.limit_w)}]
    if v is V16:
        purpose = "ChargePointMaxProfile" if station_wide else "TxDefaultProfile"
        profile = {
            "chargingProfileId": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": period},
        }
        return OcppRequest("SetChargingProfile", {"connectorId": connector, "csChargingProfiles": profile})
    purpose = "ChargingStationMaxProfile" if station_wide else "TxDefaultProfile"
    profile = {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": profile_id, "chargingRateUnit": "W", "chargingSchedulePeriod": period}],
    }
    return OcppRequest("SetChargingProfile", {"evseId": evse, "chargingProfile": profile})


def _clear_limit(m: ClearChargingLimit, v: OcppVersion, _: int) -> OcppRequest:
    evse, connector = _target(m.target, "clear_charging_limit.target", v)
    profile_id = limit_profile_id(evse, connector)
    if v is V16:
        return OcppRequest("ClearChargingProfile", {"id": profile_id})
    return OcppRequest("ClearChargingProfile", {"chargingProfileId": profile_id})


_LIST_STATUS = {
    AccessStatus.ACCEPTED: "Accepted",
    AccessStatus.BLOCKED: "Blocked",
    AccessStatus.EXPIRED: "Expired",
    AccessStatus.INVALID: "Invalid",
}


def send_local_list(cards: Sequence[LocalListEntry], v: OcppVersion, list_version: int) -> OcppRequest:
    """A full SendLocalList of the cards assets lists for the station (1.6 idTags are at most 20
    characters: longer UIDs cannot be listed there and stay online decisions)."""
    entries: list[dict[str, Any]] = []
    for card in cards:
        status = _LIST_STATUS[card.status]
        expiry = card.expire_time.strftime("%Y-%m-%dT%H:%M:%SZ") if card.expire_time is not None else None
        if v is V16:
            if len(card.id_token) > 20:
                continue
            info: dict[str, Any] = {"status": status}
            if expiry:
                info["expiryDate"] = expiry
            entries.append({"idTag": card.id_token, "idTagInfo": info})
        else:
            info = {"status": status}
            if expiry:
                info["cacheExpiryDateTime"] = expiry
            entries.append({"idToken": {"idToken": card.id_token, "type": "ISO14443"}, "idTokenInfo": info})
    if v is V16:
        return OcppRequest(
            "SendLocalList",
            {"listVersion": list_version, "updateType": "Full", "localAuthorizationList": entries},
        )
    payload: dict[str, Any] = {"versionNumber": list_version, "updateType": "Full"}
    if entries:  # 2.0.1 wants at least one item when the list is given; none = an empty list
        payload["localAuthorizationList"] = entries
    return OcppRequest("SendLocalList", payload)


_BUILDERS: dict[type[Action], Callable[[Any, OcppVersion, int], OcppRequest]] = {
    TriggerMessage: _trigger,
    ChangeAvailability: _availability,
    Reset: _reset,
    RemoteStart: _remote_start,
    RemoteStop: _remote_stop,
    UnlockConnector: _unlock,
    GetConfiguration: _get_configuration,
    ChangeConfiguration: _change_configuration,
    GetVariables: _get_variables,
    SetVariables: _set_variables,
    UpdateFirmware: _update_firmware,
    GetDiagnostics: _get_diagnostics,
    SetChargingLimit: _set_limit,
    ClearChargingLimit: _clear_limit,
}
