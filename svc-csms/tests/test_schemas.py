"""The compiled official schemas and the mapping of their failures to OCPP error kinds."""

from __future__ import annotations

from typing import Any

import pytest

from wattlane.csms.protocol.errors import ErrorKind, OcppError, OcppVersion
from wattlane.csms.protocol.schemas import schema_set


def test_both_versions_know_their_actions() -> None:
    v16 = schema_set(OcppVersion.V16).actions
    v201 = schema_set(OcppVersion.V201).actions
    assert {"BootNotification", "Heartbeat", "StartTransaction", "DiagnosticsStatusNotification"} <= v16
    assert {"BootNotification", "TransactionEvent", "LogStatusNotification", "NotifyReport"} <= v201
    assert "TransactionEvent" not in v16
    assert "StartTransaction" not in v201


def test_every_schema_compiles() -> None:
    for version in OcppVersion:
        schema_set(version).warm()


@pytest.mark.parametrize(
    ("version", "action", "payload", "kind"),
    [
        (OcppVersion.V16, "BootNotification", {"chargePointVendor": "v"}, ErrorKind.OCCURRENCE),
        (
            OcppVersion.V16,
            "BootNotification",
            {"chargePointVendor": 1, "chargePointModel": "m"},
            ErrorKind.TYPE,
        ),
        (
            OcppVersion.V16,
            "BootNotification",
            {"chargePointVendor": "v" * 21, "chargePointModel": "m"},
            ErrorKind.TYPE,
        ),
        (
            OcppVersion.V16,
            "BootNotification",
            {"chargePointVendor": "v", "chargePointModel": "m", "extra": 1},
            ErrorKind.FORMAT,
        ),
        (
            OcppVersion.V16,
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            ErrorKind.PROPERTY,
        ),
        (OcppVersion.V16, "Heartbeat", [], ErrorKind.FORMAT),
        (
            OcppVersion.V201,
            "StatusNotification",
            {"timestamp": "not a time", "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
            ErrorKind.PROPERTY,
        ),
        (OcppVersion.V201, "Authorize", {"idToken": {"idToken": "x"}}, ErrorKind.OCCURRENCE),
        (OcppVersion.V201, "Authorize", {"idToken": {"idToken": "x", "type": "Magic"}}, ErrorKind.PROPERTY),
    ],
)
def test_violations_map_to_the_specified_kind(
    version: OcppVersion, action: str, payload: Any, kind: ErrorKind
) -> None:
    with pytest.raises(OcppError) as caught:
        schema_set(version).validate_request(action, payload)
    assert caught.value.kind is kind
    assert action in caught.value.description


def test_valid_payloads_pass() -> None:
    schema_set(OcppVersion.V16).validate_request("Heartbeat", {})
    schema_set(OcppVersion.V201).validate_response("Heartbeat", {"currentTime": "2026-01-01T00:00:00.000Z"})
