"""OCPP-J frame parsing and the error kind/spelling each violation gets."""

from __future__ import annotations

import orjson
import pytest

from wattlane.csms.protocol.errors import VALID_ERROR_CODES, ErrorKind, OcppVersion, error_code
from wattlane.csms.protocol.frames import (
    Call,
    CallErrorFrame,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)


def test_parses_the_three_message_types() -> None:
    assert parse_frame(b'[2,"a1","Heartbeat",{}]') == Call("a1", "Heartbeat", {})
    assert parse_frame('[3,"a1",{"currentTime":"x"}]') == CallResult("a1", {"currentTime": "x"})
    assert parse_frame(b'[4,"a1","GenericError","boom",{"k":1}]') == CallErrorFrame(
        "a1", "GenericError", "boom", {"k": 1}
    )


def test_encoders_round_trip() -> None:
    assert parse_frame(encode_call("m", "Heartbeat", {})) == Call("m", "Heartbeat", {})
    assert parse_frame(encode_result("m", {"a": 1})) == CallResult("m", {"a": 1})
    assert parse_frame(encode_error("m", "NotImplemented", "x" * 300)) == CallErrorFrame(
        "m", "NotImplemented", "x" * 255, {}
    )


@pytest.mark.parametrize(
    ("raw", "kind", "message_id"),
    [
        (b"not json", ErrorKind.RPC_FRAMEWORK, "-1"),
        (b"", ErrorKind.RPC_FRAMEWORK, "-1"),
        (b'{"a": 1}', ErrorKind.RPC_FRAMEWORK, "-1"),
        (b"[2]", ErrorKind.RPC_FRAMEWORK, "-1"),
        (b"[]", ErrorKind.RPC_FRAMEWORK, "-1"),
        (b'[2, 17, "Heartbeat", {}]', ErrorKind.RPC_FRAMEWORK, "-1"),
        (b'[2, "", "Heartbeat", {}]', ErrorKind.RPC_FRAMEWORK, "-1"),
        (orjson.dumps([2, "x" * 37, "Heartbeat", {}]), ErrorKind.RPC_FRAMEWORK, "-1"),
        (b'["2", "m1", "Heartbeat", {}]', ErrorKind.RPC_FRAMEWORK, "m1"),
        (b'[true, "m1", "Heartbeat", {}]', ErrorKind.RPC_FRAMEWORK, "m1"),
        (b'[2, "m1", "Heartbeat"]', ErrorKind.RPC_FRAMEWORK, "m1"),
        (b'[2, "m1", "Heartbeat", {}, 5]', ErrorKind.RPC_FRAMEWORK, "m1"),
        (b'[2, "m1", 12, {}]', ErrorKind.RPC_FRAMEWORK, "m1"),
        (b'[2, "m1", "Heartbeat", []]', ErrorKind.FORMAT, "m1"),
        (b'[2, "m1", "Heartbeat", "x"]', ErrorKind.FORMAT, "m1"),
        (b'[5, "m1", "Heartbeat", {}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "m1"),
        (b'[0, "m1"]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "m1"),
    ],
)
def test_malformed_call_frames(raw: bytes, kind: ErrorKind, message_id: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.kind is kind
    assert caught.value.message_id == message_id
    assert not caught.value.is_response


def test_a_36_character_id_is_valid() -> None:
    assert parse_frame(orjson.dumps([2, "x" * 36, "Heartbeat", {}])) == Call("x" * 36, "Heartbeat", {})


@pytest.mark.parametrize(
    "raw",
    [
        b'[3, "m1"]',
        b'[3, "m1", []]',
        b'[4, "m1", "GenericError"]',
        b'[4, "m1", 1, "d", {}]',
        b'[4,"m1","E","d",[]]',
    ],
)
def test_malformed_responses_are_flagged_not_answered(raw: bytes) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.is_response


@pytest.mark.parametrize(
    ("kind", "v16", "v201"),
    [
        (ErrorKind.RPC_FRAMEWORK, "FormationViolation", "RpcFrameworkError"),
        (ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "FormationViolation", "MessageTypeNotSupported"),
        (ErrorKind.FORMAT, "FormationViolation", "FormatViolation"),
        (ErrorKind.OCCURRENCE, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (ErrorKind.TYPE, "TypeConstraintViolation", "TypeConstraintViolation"),
        (ErrorKind.PROPERTY, "PropertyConstraintViolation", "PropertyConstraintViolation"),
        (ErrorKind.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
        (ErrorKind.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (ErrorKind.SECURITY, "SecurityError", "SecurityError"),
        (ErrorKind.INTERNAL, "InternalError", "InternalError"),
    ],
)
def test_error_codes_are_spelled_per_version(kind: ErrorKind, v16: str, v201: str) -> None:
    assert error_code(OcppVersion.V16, kind) == v16
    assert error_code(OcppVersion.V201, kind) == v201


def test_every_code_is_in_the_versions_official_list() -> None:
    # OCPP-J 1.6 §4.2.3 and OCPP-J 2.0.1 §4.3.
    assert VALID_ERROR_CODES[OcppVersion.V16] <= {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
    assert VALID_ERROR_CODES[OcppVersion.V201] <= {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
