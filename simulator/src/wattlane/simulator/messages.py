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
    protocol: str,
    connector_id: int,
    status: str,
    *,
    evse_id: int | None = None,
    error_code: str = "NoError",
    timestamp: str | None = None,
) -> dict[str, Any]:
    """StatusNotification.req; 1.6 uses `connector_id` (0 = whole station), 2.0.1 evse + connector."""
    if protocol == V16:
        return {
            "connectorId": connector_id,
            "errorCode": error_code,
            "status": status,
            "timestamp": timestamp or now(),
        }
    return {
        "timestamp": timestamp or now(),
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


def sampled_meter_value(
    protocol: str,
    energy_wh: int,
    *,
    power_w: int | None = None,
    soc: int | None = None,
    timestamp: str | None = None,
    context: str = "Sample.Periodic",
) -> dict[str, Any]:
    """One MeterValue: the energy register, and power and state of charge when given."""
    values: list[tuple[str, float, str]] = [("Energy.Active.Import.Register", energy_wh, "Wh")]
    if power_w is not None:
        values.append(("Power.Active.Import", power_w, "W"))
    if soc is not None:
        values.append(("SoC", soc, "Percent"))
    sampled: list[dict[str, Any]]
    if protocol == V16:
        sampled = [{"value": str(v), "measurand": m, "unit": u, "context": context} for m, v, u in values]
    else:
        sampled = [
            {"value": v, "measurand": m, "unitOfMeasure": {"unit": u}, "context": context}
            for m, v, u in values
        ]
    return {"timestamp": timestamp or now(), "sampledValue": sampled}


def start_transaction(
    connector_id: int, id_tag: str, meter_start: int, timestamp: str | None = None
) -> dict[str, Any]:
    """1.6 StartTransaction.req."""
    return {
        "connectorId": connector_id,
        "idTag": id_tag,
        "meterStart": meter_start,
        "timestamp": timestamp or now(),
    }


def stop_transaction(
    transaction_id: int,
    meter_stop: int,
    *,
    id_tag: str | None = None,
    reason: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """1.6 StopTransaction.req."""
    payload: dict[str, Any] = {
        "transactionId": transaction_id,
        "meterStop": meter_stop,
        "timestamp": timestamp or now(),
    }
    if id_tag is not None:
        payload["idTag"] = id_tag
    if reason is not None:
        payload["reason"] = reason
    return payload


def meter_values_16(
    connector_id: int, transaction_id: int | None, values: list[dict[str, Any]]
) -> dict[str, Any]:
    """1.6 MeterValues.req."""
    payload: dict[str, Any] = {"connectorId": connector_id, "meterValue": values}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def transaction_event(
    event_type: str,
    transaction_id: str,
    seq_no: int,
    *,
    trigger: str = "Authorized",
    evse_id: int | None = None,
    id_token: str | None = None,
    meter_values: list[dict[str, Any]] | None = None,
    stopped_reason: str | None = None,
    timestamp: str | None = None,
    charging_state: str | None = None,
    remote_start_id: int | None = None,
) -> dict[str, Any]:
    """2.0.1 TransactionEvent.req (Started / Updated / Ended); `charging_state` is the
    ChargingStateEnumType (`Charging`, `EVConnected`, `SuspendedEV`, `SuspendedEVSE`, `Idle`);
    `remote_start_id` echoes the RequestStartTransaction that started it."""
    info: dict[str, Any] = {"transactionId": transaction_id}
    if remote_start_id is not None:
        info["remoteStartId"] = remote_start_id
    if stopped_reason is not None:
        info["stoppedReason"] = stopped_reason
    if charging_state is not None:
        info["chargingState"] = charging_state
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": timestamp or now(),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
    }
    if evse_id is not None:
        payload["evse"] = {"id": evse_id, "connectorId": 1}
    if id_token is not None:
        payload["idToken"] = {"idToken": id_token, "type": "ISO14443"}
    if meter_values:
        payload["meterValue"] = meter_values
    return payload
