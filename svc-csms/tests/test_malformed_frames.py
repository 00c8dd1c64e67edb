"""Malformed frames on a live socket, 1.6 and 2.0.1: the exact CALLERROR, and the socket keeps serving."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms
from wattlane.simulator.station import SimStation

V16, V201 = "ocpp1.6", "ocpp2.0.1"

BOOT: dict[str, dict[str, Any]] = {
    V16: {"chargePointVendor": "Wattlane", "chargePointModel": "Sim-1"},
    V201: {"reason": "PowerUp", "chargingStation": {"vendorName": "Wattlane", "model": "Sim-1"}},
}

# (name, frame, expected message id, expected code in 1.6, expected code in 2.0.1)
CASES: list[tuple[str, Any, str, str, str]] = [
    ("not json", "this is not json", "-1", "FormationViolation", "RpcFrameworkError"),
    ("truncated json", '[2,"m1","Heartbeat",{', "-1", "FormationViolation", "RpcFrameworkError"),
    ("json object", '{"hello": "world"}', "-1", "FormationViolation", "RpcFrameworkError"),
    ("empty array", "[]", "-1", "FormationViolation", "RpcFrameworkError"),
    ("numeric message id", [2, 42, "Heartbeat", {}], "-1", "FormationViolation", "RpcFrameworkError"),
    ("37-char message id", [2, "x" * 37, "Heartbeat", {}], "-1", "FormationViolation", "RpcFrameworkError"),
    ("string message type", ["2", "m1", "Heartbeat", {}], "m1", "FormationViolation", "RpcFrameworkError"),
    ("call without payload", [2, "m1", "Heartbeat"], "m1", "FormationViolation", "RpcFrameworkError"),
    ("numeric action", [2, "m1", 7, {}], "m1", "FormationViolation", "RpcFrameworkError"),
    (
        "unknown message type",
        [7, "m1", "Heartbeat", {}],
        "m1",
        "FormationViolation",
        "MessageTypeNotSupported",
    ),
    ("payload not an object", [2, "m1", "Heartbeat", [1]], "m1", "FormationViolation", "FormatViolation"),
    ("unknown action", [2, "m1", "BrewCoffee", {}], "m1", "NotImplemented", "NotImplemented"),
    (
        "CSMS-side action sent by a station",
        [2, "m1", "Reset", {"type": "Hard"}],
        "m1",
        "NotSupported",
        "NotSupported",
    ),
    (
        "missing required field",
        [2, "m1", "StatusNotification", {"connectorId": 1}],
        "m1",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
    ),
    (
        "wrong type",
        [2, "m1", "Authorize", {"idTag": 12}],
        "m1",
        "TypeConstraintViolation",
        "TypeConstraintViolation",
    ),
    (
        "unknown property",
        [2, "m1", "Heartbeat", {"extra": True}],
        "m1",
        "FormationViolation",
        "FormatViolation",
    ),
]

# 2.0.1 payloads differ for the schema cases; same violations.
V201_PAYLOADS: dict[str, Any] = {
    "missing required field": [2, "m1", "StatusNotification", {"evseId": 1}],
    "wrong type": [2, "m1", "Authorize", {"idToken": {"idToken": 12, "type": "ISO14443"}}],
    "CSMS-side action sent by a station": [2, "m1", "Reset", {"type": "Immediate"}],
}


def _frame(frame: Any) -> str:
    return frame if isinstance(frame, str) else orjson.dumps(frame).decode()


@pytest.mark.parametrize("protocol", [V16, V201])
async def test_every_malformed_frame_gets_the_specified_callerror(csms: RunningCsms, protocol: str) -> None:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    try:
        for name, frame, message_id, code_16, code_201 in CASES:
            sent = V201_PAYLOADS.get(name, frame) if protocol == V201 else frame
            await station.send_raw(_frame(sent))
            answer = await station.next_unmatched()
            expected = code_16 if protocol == V16 else code_201
            assert answer[:3] == [4, message_id, expected], name
            assert isinstance(answer[3], str), name
            assert answer[3], name
            assert isinstance(answer[4], dict), name
            assert "Traceback" not in answer[3], name
            # The socket still serves after each error.
            assert "currentTime" in await station.heartbeat(), name
        assert (await station.call("BootNotification", BOOT[protocol]))["status"] == "Accepted"
    finally:
        await station.close()


@pytest.mark.parametrize("protocol", [V16, V201])
async def test_property_constraint_violation(csms: RunningCsms, protocol: str) -> None:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    payload: dict[str, Any] = (
        {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}
        if protocol == V16
        else {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": "Dancing",
            "evseId": 1,
            "connectorId": 1,
        }
    )
    await station.send_raw(orjson.dumps([2, "p1", "StatusNotification", payload]).decode())
    assert (await station.next_unmatched())[:3] == [4, "p1", "PropertyConstraintViolation"]
    assert "currentTime" in await station.heartbeat()
    await station.close()


@pytest.mark.parametrize("protocol", [V16, V201])
async def test_malformed_and_unknown_responses_are_ignored(csms: RunningCsms, protocol: str) -> None:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    for frame in (
        '[3,"nobody-asked",{}]',
        '[4,"nobody-asked","GenericError","x",{}]',
        '[3,"m1"]',
        '[4,"m1"]',
    ):
        await station.send_raw(frame)
    # Replies keep their order, so an answer to any of them would arrive before this one.
    assert "currentTime" in await station.heartbeat()
    assert station.unmatched.empty()
    await station.close()


async def test_binary_frames_are_parsed_like_text(csms: RunningCsms) -> None:
    station = SimStation("CS001", csms.url, protocol=V16, password=DEFAULT_PASSWORD)
    await station.connect()
    await station.send_raw(b'[2,"b1","Heartbeat",{}]', binary=True)
    answer = await station.next_unmatched()
    assert answer[:2] == [3, "b1"]
    await station.close()


async def test_oversized_frame_closes_cleanly(csms: RunningCsms) -> None:
    station = SimStation("CS001", csms.url, protocol=V16, password=DEFAULT_PASSWORD)
    await station.connect()
    big = orjson.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "y" * (2 * 1024 * 1024)}])
    await station.send_raw(big.decode())
    code, _ = await station.wait_closed()
    assert code == 1009  # message too big: a clean close, not a crash
    await station.close()
