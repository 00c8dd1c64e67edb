"""Command rows → API messages, and the names of commands."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from wattlane.api.csms.v1 import commands_pb2
from wattlane.core.errors import InvalidArgument
from wattlane.core.ocpp import validate_identity
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.commands.remote_actions import CommandState
from wattlane.csms.commands.runner import command_name
from wattlane.csms.models import Command

STATE = {s.value: commands_pb2.Command.State.Value(s.name) for s in CommandState}


def parse_command_name(name: str, field: str = "name") -> tuple[str, str]:
    """(identity, command id) of `stations/{identity}/commands/{id}`; INVALID_ARGUMENT naming `field`."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "stations" or parts[2] != "commands" or not validate_identity(parts[1]):
        raise InvalidArgument.field(field, "must look like stations/{identity}/commands/{id}")
    if not parts[3] or len(parts[3]) > 32 or not parts[3].isalnum():
        raise InvalidArgument.field(field, "has a malformed command id")
    return parts[1], parts[3]


def _struct(value: object) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if isinstance(value, dict):
        json_format.ParseDict(value, message)
    return message


def command(row: Command) -> commands_pb2.Command:
    """The API view of a command row."""
    message = commands_pb2.Command.FromString(row.spec)
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
