"""Payloads of station-initiated messages for OCPP 1.6 and 2.0.1 (plain dicts, ready for orjson)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"
PROTOCOLS = (V16, V201)


def now() -> str:
    """The current UTC time in OCPP's format."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def boot_notification(
    protocol: str,
    *,
    vendor: str = "Wattlane",
    model: str = "Sim-1",
    serial_number: str | None = None,
    firmware_version: str | None = "1.0.0",
    reason: str = "PowerUp",
) -> dict[str, Any]:
    """BootNotification.req."""
    if protocol == V16:
        payload: dict[str, Any] = {"chargePointVendor": vendor, "chargePointModel": model}
        if serial_number is not None:
            payload["chargePointSerialNumber"] = serial_number
        if firmware_version is not None:
            payload["firmwareVersion"] = firmware_version
        return payload
    station: dict[str, Any] = {"vendorName": vendor, "model": model}
    if serial_number is not None:
        station["serialNumber"] = serial_number
    if firmware_version is not None:
        station["firmwareVersion"] = firmware_version
    return {"reason": reason, "chargingStation": station}


def status_notification(
    protocol: str, connector_id: int, status: str, *, evse_id: int | None = None, error_code: str = "NoError"
) -> dict[str, Any]:
    """StatusNotification.req; 1.6 uses `connector_id` (0 = whole station), 2.0.1 evse + connector."""
    if protocol == V16:
        return {"connectorId": connector_id, "errorCode": error_code, "status": status, "timestamp": now()}
    return {
        "timestamp": now(),
        "connectorStatus": status,
        "evseId": evse_id if evse_id is not None else connector_id,
        "connectorId": connector_id if evse_id is not None else 1,
    }


def authorize(protocol: str, id_token: str, token_type: str = "ISO14443") -> dict[str, Any]:
    """Authorize.req for an RFID card (2.0.1 token type configurable)."""
    if protocol == V16:
        return {"idTag": id_token}
    return {"idToken": {"idToken": id_token, "type": token_type}}


def firmware_status(protocol: str, status: str, request_id: int | None = None) -> dict[str, Any]:
    """FirmwareStatusNotification.req."""
    payload: dict[str, Any] = {"status": status}
    if protocol == V201 and request_id is not None:
        payload["requestId"] = request_id
    return payload


def security_event(event_type: str, tech_info: str | None = None) -> dict[str, Any]:
    """SecurityEventNotification.req (same shape in 1.6's security extension and 2.0.1)."""
    payload: dict[str, Any] = {"type": event_type, "timestamp": now()}
    if tech_info is not None:
        payload["techInfo"] = tech_info
    return payload
