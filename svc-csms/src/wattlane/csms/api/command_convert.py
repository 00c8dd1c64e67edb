"""Commands between the API and the domain: an API `Command`'s action → the domain's action
(`commands/actions.py`), assets' local list → list entries, and command rows → API messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import json_format, struct_pb2

from wattlane.api.assets.v1 import internal_pb2 as assets_internal_pb2
from wattlane.api.csms.v1 import commands_pb2
from wattlane.core.errors import InvalidArgument
from wattlane.core.timestamps import from_timestamp, optional_instant, to_timestamp
from wattlane.csms.commands import actions, remote_actions
from wattlane.csms.commands.states import CommandState
from wattlane.csms.models import Command
from wattlane.csms.names import command_name
from wattlane.csms.providers.interfaces import AccessStatus

C = commands_pb2
STATE = {s.value: C.Command.State.Value(s.name) for s in CommandState}
_LIST_STATUS = {
    assets_internal_pb2.AccessDecision.ACCEPTED: AccessStatus.ACCEPTED,
    assets_internal_pb2.AccessDecision.BLOCKED: AccessStatus.BLOCKED,
    assets_internal_pb2.AccessDecision.EXPIRED: AccessStatus.EXPIRED,
    assets_internal_pb2.AccessDecision.INVALID: AccessStatus.INVALID,
}


def _target(m: commands_pb2.Target) -> actions.Target:
    return actions.Target(m.evse_id, m.connector_id)


def _variable(m: commands_pb2.VariableRef) -> actions.VariableRef:
    return actions.VariableRef(m.component, m.variable, m.evse_id)


_ACTIONS: dict[str, Callable[[Any], actions.Action]] = {
    "trigger_message": lambda m: actions.TriggerMessage(m.message, _target(m.target)),
    "change_availability": lambda m: actions.ChangeAvailability(_target(m.target), m.operative),
    "reset": lambda m: actions.Reset(m.hard),
    "remote_start": lambda m: actions.RemoteStart(m.id_tag, _target(m.target)),
    "remote_stop": lambda m: actions.RemoteStop(m.transaction_id),
    "unlock_connector": lambda m: actions.UnlockConnector(_target(m.target)),
    "get_configuration": lambda m: actions.GetConfiguration(tuple(m.keys)),
    "change_configuration": lambda m: actions.ChangeConfiguration(m.key, m.value),
    "get_variables": lambda m: actions.GetVariables(tuple(_variable(v) for v in m.variables)),
    "set_variables": lambda m: actions.SetVariables(
        tuple(actions.VariableValue(_variable(v.variable), v.value) for v in m.values)
    ),
    "update_firmware": lambda m: actions.UpdateFirmware(
        m.location, optional_instant(m, "retrieve_time", "command.update_firmware.retrieve_time")
    ),
    "get_diagnostics": lambda m: actions.GetDiagnostics(m.location),
    "set_charging_limit": lambda m: actions.SetChargingLimit(_target(m.target), m.limit_w),
    "clear_charging_limit": lambda m: actions.ClearChargingLimit(_target(m.target)),
    "send_local_list": lambda m: actions.SendLocalList(),
}


def action(command: commands_pb2.Command) -> actions.Action:
    """The domain's action of an API command; INVALID_ARGUMENT when it names none."""
    kind = command.WhichOneof("action")
    if kind is None:
        raise InvalidArgument.field("command.action", "one action is required (reset, remote_start...)")
    return _ACTIONS[kind](getattr(command, kind))


def local_list(cards: assets_internal_pb2.LocalAuthorizationList) -> tuple[actions.LocalListEntry, ...]:
    """The cards of assets' local authorization list (an unknown status is Invalid)."""
    return tuple(
        actions.LocalListEntry(
            card.id_token,
            _LIST_STATUS.get(card.status, AccessStatus.INVALID),
            from_timestamp(card.expire_time) if card.HasField("expire_time") else None,
        )
        for card in cards.entries
    )


def ocpp_request(
    command: commands_pb2.Command,
    protocol: str,
    remote_start_id: int,
    cards: assets_internal_pb2.LocalAuthorizationList | None = None,
    list_version: int = 1,
) -> remote_actions.OcppRequest:
    """The OCPP call for an API command on a station speaking `protocol` (see
    `remote_actions.ocpp_request`); `cards` is assets' local list for a SendLocalList."""
    return remote_actions.ocpp_request(
        action(command),
        protocol,
        remote_start_id,
        local_list(cards) if cards is not None else None,
        list_version,
    )


def spec(command: commands_pb2.Command) -> bytes:
    """The command's action alone, serialized: what a command row keeps of the request."""
    kind = command.WhichOneof("action")
    only_action = C.Command()
    if kind is not None:
        getattr(only_action, kind).CopyFrom(getattr(command, kind))
    return only_action.SerializeToString(deterministic=True)


def _struct(value: object) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if isinstance(value, dict):
        json_format.ParseDict(value, message)
    return message


def command(row: Command) -> commands_pb2.Command:
    """The API view of a command row."""
    message = C.Command.FromString(row.spec)
    message.name = command_name(row.identity, row.id)
    message.state = STATE[row.state]
    message.ocpp_action = row.ocpp_action
    message.ocpp_request.CopyFrom(_struct(row.request))
    if row.answer is not None:
        message.station_answer.CopyFrom(_struct(row.answer))
    message.station_status = row.station_status
    message.error = row.error
    message.requested_by = row.requested_by
    message.protocol = row.protocol
    for field in ("create_time", "send_time", "finish_time"):
        if (stamp := to_timestamp(getattr(row, field))) is not None:
            getattr(message, field).CopyFrom(stamp)
    return message
