"""Station rows (with their connectors), message log lines and unclaimed attempts → API messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf import json_format, struct_pb2

from wattlane.api.csms.v1 import internal_pb2, stations_pb2
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.models import ConnectorStatus, Message, Station, UnclaimedConnection
from wattlane.csms.names import station_name
from wattlane.csms.providers.interfaces import PlatformStatus

STATUS: dict[str, stations_pb2.StationStatus.ValueType] = {
    PlatformStatus.AVAILABLE: stations_pb2.AVAILABLE,
    PlatformStatus.OCCUPIED: stations_pb2.OCCUPIED,
    PlatformStatus.CHARGING: stations_pb2.CHARGING,
    PlatformStatus.FAULTED: stations_pb2.FAULTED,
    PlatformStatus.UNAVAILABLE: stations_pb2.UNAVAILABLE,
    PlatformStatus.OFFLINE: stations_pb2.OFFLINE,
}
# Which connector status speaks for a station without an evse-0 status: the most urgent.
_URGENCY = [
    PlatformStatus.FAULTED,
    PlatformStatus.CHARGING,
    PlatformStatus.OCCUPIED,
    PlatformStatus.UNAVAILABLE,
    PlatformStatus.AVAILABLE,
]


def _timestamps(message: Any, **values: Any) -> None:
    for field, value in values.items():
        if value is not None:
            getattr(message, field).CopyFrom(to_timestamp(value))


def station_status(
    row: Station, connectors: Sequence[ConnectorStatus]
) -> stations_pb2.StationStatus.ValueType:
    """OFFLINE when not connected; else evse 0's status; else the most urgent connector's."""
    if not row.online:
        return stations_pb2.OFFLINE
    for connector in connectors:
        if connector.evse_id == 0:
            return STATUS.get(connector.status, stations_pb2.STATION_STATUS_UNSPECIFIED)
    statuses = {c.status for c in connectors}
    for status in _URGENCY:
        if status in statuses:
            return STATUS[status]
    return stations_pb2.STATION_STATUS_UNSPECIFIED


def station(row: Station, connectors: Sequence[ConnectorStatus]) -> stations_pb2.Station:
    """The API view of a station row and its connectors."""
    message = stations_pb2.Station(
        name=station_name(row.identity),
        identity=row.identity,
        owner=f"tenants/{row.owner_id}" if row.owner_id else "",
        protocol=row.protocol,
        connectivity=(
            stations_pb2.Station.ONLINE
            if row.online
            else stations_pb2.Station.OFFLINE
            if row.connect_time is not None
            else stations_pb2.Station.CONNECTIVITY_UNSPECIFIED
        ),
        status=station_status(row, connectors),
        connected_process=row.connected_process,
        remote_address=row.remote_address,
        disconnect_reason=row.disconnect_reason,
        connectors=[connector(c) for c in connectors],
    )
    _timestamps(
        message,
        connect_time=row.connect_time,
        disconnect_time=row.disconnect_time,
        last_seen_time=row.last_seen_time,
    )
    if row.boot_time is not None:
        message.boot.CopyFrom(
            stations_pb2.BootInfo(
                accepted=bool(row.boot_accepted),
                reason=row.boot_reason or "",
                vendor=row.vendor or "",
                model=row.model or "",
                serial_number=row.serial_number or "",
                firmware_version=row.firmware_version or "",
                iccid=row.iccid or "",
                imsi=row.imsi or "",
            )
        )
        _timestamps(message.boot, boot_time=row.boot_time)
    return message


def connector(row: ConnectorStatus) -> stations_pb2.Connector:
    """The API view of a connector status."""
    message = stations_pb2.Connector(
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=STATUS.get(row.status, stations_pb2.STATION_STATUS_UNSPECIFIED),
        ocpp_status=row.ocpp_status,
        error_code=row.error_code or "",
        info=row.info or "",
    )
    _timestamps(message, update_time=row.status_time)
    return message


def station_message(row: Message) -> stations_pb2.StationMessage:
    """The API view of a log line."""
    payload = struct_pb2.Value()
    json_format.ParseDict(row.payload, payload)
    message = stations_pb2.StationMessage(
        name=f"{station_name(row.identity)}/messages/{row.id}",
        identity=row.identity,
        direction=stations_pb2.StationMessage.IN
        if row.direction == "in"
        else stations_pb2.StationMessage.OUT,
        message_type=row.message_type,
        message_id=row.message_id,
        action=row.action or "",
        payload=payload,
        error=row.error,
        error_code=row.error_code or "",
        error_description=row.error_description or "",
        trace_id=row.trace_id or "",
        # As the frame carried it: `payload` (a Value) would show every integer as a double.
        payload_json=orjson.dumps(row.payload).decode(),
    )
    _timestamps(message, time=row.time)
    return message


def unclaimed(row: UnclaimedConnection) -> stations_pb2.UnclaimedAttempts:
    """The public API view of unclaimed attempts."""
    message = stations_pb2.UnclaimedAttempts(
        identity=row.identity,
        remote_address=row.remote_address,
        attempts=row.attempts,
        protocol=row.protocol,
        listener=row.listener,
    )
    _timestamps(message, first_attempt_time=row.first_attempt_time, last_attempt_time=row.last_attempt_time)
    return message


def unclaimed_internal(row: UnclaimedConnection) -> internal_pb2.UnclaimedConnection:
    """The internal API view of unclaimed attempts (for assets' onboarding)."""
    message = internal_pb2.UnclaimedConnection(
        identity=row.identity, remote_address=row.remote_address, attempts=row.attempts, protocol=row.protocol
    )
    _timestamps(message, first_attempt_time=row.first_attempt_time, last_attempt_time=row.last_attempt_time)
    return message
