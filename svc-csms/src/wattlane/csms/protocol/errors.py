"""OCPP-J error kinds, their exact spelling per protocol version, and the CSMS's exceptions.

OCPP 1.6 and 2.0.1 name the same RPC errors differently (`FormationViolation` vs `FormatViolation`,
`OccurenceConstraintViolation` vs `OccurrenceConstraintViolation`), and 1.6 lacks
`RpcFrameworkError` and `MessageTypeNotSupported`. Code inside the CSMS raises an `ErrorKind`;
only `error_code()` turns it into the wire string for the connection's version.
"""

from __future__ import annotations

import enum
from typing import Any


class OcppVersion(enum.StrEnum):
    """An OCPP-J WebSocket sub-protocol the CSMS speaks."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"


class ErrorKind(enum.Enum):
    """A CALLERROR reason, independent of the version's spelling."""

    RPC_FRAMEWORK = enum.auto()
    MESSAGE_TYPE_NOT_SUPPORTED = enum.auto()
    NOT_IMPLEMENTED = enum.auto()
    NOT_SUPPORTED = enum.auto()
    FORMAT = enum.auto()
    OCCURRENCE = enum.auto()
    TYPE = enum.auto()
    PROPERTY = enum.auto()
    PROTOCOL = enum.auto()
    SECURITY = enum.auto()
    INTERNAL = enum.auto()
    GENERIC = enum.auto()


# OCPP-J 1.6 §4.2.3 and OCPP-J 2.0.1 §4.3 list the valid codes. 1.6 has neither RpcFrameworkError
# nor MessageTypeNotSupported: a broken frame is "not conform the PDU structure", which is the
# definition of FormationViolation, so both map there. 1.6 keeps the spelling of its code table,
# "OccurenceConstraintViolation"; note that OCPP-J 1.6 errata (section 5) respell it with "rr",
# and some implementations (e.g. npm ocpp-rpc) send that spelling on 1.6 — change it here only.
_CODES: dict[OcppVersion, dict[ErrorKind, str]] = {
    OcppVersion.V16: {
        ErrorKind.RPC_FRAMEWORK: "FormationViolation",
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.FORMAT: "FormationViolation",
        ErrorKind.OCCURRENCE: "OccurenceConstraintViolation",
        ErrorKind.TYPE: "TypeConstraintViolation",
        ErrorKind.PROPERTY: "PropertyConstraintViolation",
        ErrorKind.PROTOCOL: "ProtocolError",
        ErrorKind.SECURITY: "SecurityError",
        ErrorKind.INTERNAL: "InternalError",
        ErrorKind.GENERIC: "GenericError",
    },
    OcppVersion.V201: {
        ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.FORMAT: "FormatViolation",
        ErrorKind.OCCURRENCE: "OccurrenceConstraintViolation",
        ErrorKind.TYPE: "TypeConstraintViolation",
        ErrorKind.PROPERTY: "PropertyConstraintViolation",
        ErrorKind.PROTOCOL: "ProtocolError",
        ErrorKind.SECURITY: "SecurityError",
        ErrorKind.INTERNAL: "InternalError",
        ErrorKind.GENERIC: "GenericError",
    },
}

VALID_ERROR_CODES: dict[OcppVersion, frozenset[str]] = {
    version: frozenset(codes.values()) for version, codes in _CODES.items()
}


def error_code(version: OcppVersion, kind: ErrorKind) -> str:
    """Return the exact CALLERROR code string for `kind` in `version`."""
    return _CODES[version][kind]


class OcppError(Exception):
    """An error the CSMS answers with a CALLERROR (raised by the frame layer, schemas, handlers)."""

    def __init__(self, kind: ErrorKind, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description
        self.details: dict[str, Any] = details or {}


class RemoteActionError(Exception):
    """A CSMS→station call did not produce a valid answer (the base the gRPC layer maps)."""


class CallError(RemoteActionError):
    """The station answered a CSMS→station call with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str, details: dict[str, Any]) -> None:
        super().__init__(f"{action}: {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class CallTimeout(RemoteActionError):
    """The station did not answer a CSMS→station call in time."""


class StationNotConnected(RemoteActionError):
    """The station has no open connection on this process."""


class InvalidResponse(RemoteActionError):
    """The station's CALLRESULT does not validate against the action's response schema."""

    def __init__(self, action: str, error: OcppError) -> None:
        super().__init__(f"{action}: {error.description}")
        self.action = action
        self.error = error
