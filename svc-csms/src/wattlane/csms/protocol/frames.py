"""OCPP-J frames: parse one WebSocket message, encode CALLRESULT / CALLERROR / CALL.

A frame is a JSON array: `[2, id, action, payload]` (CALL), `[3, id, payload]` (CALLRESULT) or
`[4, id, code, description, details]` (CALLERROR). The rules enforced here, and the error kind each
violation raises (see `errors.py` for the per-version spelling):

- not JSON, not an array, fewer than two elements, or a message id that is not a string of
  1-36 characters → the id cannot be trusted, so the answer uses id "-1" (OCPP-J 2.0.1 §4.3) with
  RPC_FRAMEWORK (`RpcFrameworkError` in 2.0.1, `FormationViolation` in 1.6);
- a message type that is not an integer, a CALL with the wrong arity or a non-string action →
  RPC_FRAMEWORK with the frame's own id;
- a message type number other than 2, 3, 4 → MESSAGE_TYPE_NOT_SUPPORTED with the frame's id
  (`MessageTypeNotSupported` in 2.0.1; 1.6 only says to ignore the payload and has no such code,
  so we answer `FormationViolation` rather than leave the station waiting for a reply);
- a CALL payload that is not a JSON object → FORMAT with the frame's id.

Malformed CALLRESULT / CALLERROR frames are reported with `is_response=True`: the CSMS logs them
but never answers a response with an error, which could make two peers bounce errors forever.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import orjson

from wattlane.csms.protocol.errors import ErrorKind, OcppError

CALL: Final = 2
CALLRESULT: Final = 3
CALLERROR: Final = 4
MAX_MESSAGE_ID_LENGTH: Final = 36
UNKNOWN_MESSAGE_ID: Final = "-1"


# NamedTuples: immutable and about three times cheaper to build than frozen dataclasses, which
# matters on a path that runs for every frame.
class Call(NamedTuple):
    """A request: station→CSMS or CSMS→station."""

    message_id: str
    action: str
    payload: dict[str, Any]


class CallResult(NamedTuple):
    """A successful answer to a CALL."""

    message_id: str
    payload: dict[str, Any]


class CallErrorFrame(NamedTuple):
    """An error answer to a CALL."""

    message_id: str
    code: str
    description: str
    details: dict[str, Any]


Frame = Call | CallResult | CallErrorFrame


class FrameError(OcppError):
    """A frame that cannot be processed; `message_id` is what the CALLERROR answer must carry."""

    def __init__(self, kind: ErrorKind, message_id: str, description: str, *, is_response: bool = False):
        super().__init__(kind, description)
        self.message_id = message_id
        self.is_response = is_response


def is_valid_message_id(value: object) -> bool:
    """True for a message id OCPP-J accepts: a non-empty string of at most 36 characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID_LENGTH


def parse_frame(raw: str | bytes) -> Frame:
    """Parse one WebSocket message into a frame, or raise `FrameError` saying how to answer."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, UNKNOWN_MESSAGE_ID, "frame is not valid JSON") from None
    if type(message) is not list or len(message) < 2:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK, UNKNOWN_MESSAGE_ID, "frame must be a JSON array [type, id, ...]"
        )
    message_type, message_id = message[0], message[1]
    if not is_valid_message_id(message_id):
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK,
            UNKNOWN_MESSAGE_ID,
            f"message id must be a string of 1-{MAX_MESSAGE_ID_LENGTH} characters",
        )
    # `type(...) is int` rejects booleans, which JSON decoding gives for true/false.
    if type(message_type) is not int:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, message_id, "message type must be an integer")
    if message_type == CALL:
        if len(message) != 4:
            raise FrameError(ErrorKind.RPC_FRAMEWORK, message_id, "CALL must be [2, id, action, payload]")
        action, payload = message[2], message[3]
        if type(action) is not str or not action:
            raise FrameError(ErrorKind.RPC_FRAMEWORK, message_id, "action must be a non-empty string")
        if type(payload) is not dict:
            raise FrameError(ErrorKind.FORMAT, message_id, "payload must be a JSON object")
        return Call(message_id, action, payload)
    if message_type == CALLRESULT:
        if len(message) != 3 or type(message[2]) is not dict:
            raise FrameError(
                ErrorKind.RPC_FRAMEWORK, message_id, "CALLRESULT must be [3, id, payload]", is_response=True
            )
        return CallResult(message_id, message[2])
    if message_type == CALLERROR:
        if (
            len(message) != 5
            or type(message[2]) is not str
            or type(message[3]) is not str
            or type(message[4]) is not dict
        ):
            raise FrameError(
                ErrorKind.RPC_FRAMEWORK,
                message_id,
                "CALLERROR must be [4, id, code, description, details]",
                is_response=True,
            )
        return CallErrorFrame(message_id, message[2], message[3], message[4])
    raise FrameError(
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, message_id, f"message type {message_type} is not supported"
    )


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    """Encode a CALL as UTF-8 JSON (send it as a text frame)."""
    return orjson.dumps([CALL, message_id, action, payload])


def encode_result(message_id: str, payload: dict[str, Any]) -> bytes:
    """Encode a CALLRESULT as UTF-8 JSON (send it as a text frame)."""
    return orjson.dumps([CALLRESULT, message_id, payload])


def encode_error(
    message_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> bytes:
    """Encode a CALLERROR; the description is cut to 255 characters as OCPP-J recommends."""
    return orjson.dumps([CALLERROR, message_id, code, description[:255], details or {}])
