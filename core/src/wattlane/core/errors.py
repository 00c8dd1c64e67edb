"""Domain errors and their one mapping to gRPC status codes with machine-readable details.

Every service raises these from domain code; the server interceptor turns them into a status
(`google.rpc.Status` with `ErrorInfo`, and `BadRequest` field violations or `QuotaFailure` where
they apply). Nothing else in a service sets status codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "wattlane.org"

# A status travels in trailing metadata (`grpc-message` percent-encoded, the details base64'd in
# `grpc-status-details-bin`), and a gRPC client accepts 8 KiB of metadata by default: a larger
# one reaches the caller as RESOURCE_EXHAUSTED "Stream removed". Messages and details echo
# requests (a 100k-character name, every violation of a large message), so they are bounded.
MAX_MESSAGE_BYTES = 1024  # of the percent-encoded message
MAX_TEXT_BYTES = 160  # of one field path, description or metadata value (UTF-8)
MAX_VIOLATIONS = 8  # in the details and the message; the rest counted


def bounded(text: str, limit: int = MAX_MESSAGE_BYTES, *, encoded: bool = True) -> str:
    """`text` cut to `limit` bytes (percent-encoded as `grpc-message` carries it, or plain UTF-8
    when not `encoded`), an ellipsis marking the cut."""
    sizes = [_size(char, encoded) for char in text]
    if sum(sizes) <= limit:
        return text
    budget, cost = limit - _size("…", encoded), 0
    for i, size in enumerate(sizes):
        if cost + size > budget:
            return text[:i] + "…"
        cost += size
    return text


def _size(char: str, encoded: bool) -> int:
    """Bytes of one character in a gRPC message: printable ASCII as is, the rest (and `%`)
    percent-encoded byte by byte."""
    size = len(char.encode("utf-8", "replace"))
    return size * 3 if encoded and not (" " <= char <= "~" and char != "%") else size


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: `field` is the request path (e.g. `tenant.display_name`)."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every expected failure; carries the gRPC code and a stable reason."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason = "UNKNOWN"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        message = bounded(message)
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = {k: bounded(v, MAX_TEXT_BYTES, encoded=False) for k, v in (metadata or {}).items()}

    def details(self) -> list[any_pb2.Any]:
        """Status details beyond ErrorInfo; subclasses add their own."""
        return []

    def to_status(self) -> status_pb2.Status:
        """The `google.rpc.Status` sent to the caller."""
        info = any_pb2.Any()
        info.Pack(
            error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        )
        status = status_pb2.Status(code=_CODE_NUMBERS[self.code], message=self.message)
        status.details.append(info)
        status.details.extend(self.details())
        return status


class InvalidArgument(DomainError):
    """A request field is malformed; the message and the details name the field."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Sequence[FieldViolation], *, reason: str | None = None):
        self.violations = [
            FieldViolation(
                bounded(v.field, MAX_TEXT_BYTES, encoded=False),
                bounded(v.description, MAX_TEXT_BYTES, encoded=False),
            )
            for v in violations
        ]
        shown = self.violations[:MAX_VIOLATIONS]
        text = "; ".join(f"{v.field}: {v.description}" for v in shown)
        if len(self.violations) > len(shown):
            text += f" (and {len(self.violations) - len(shown)} more)"
        super().__init__(f"invalid argument: {text}", reason=reason)

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        """Shortcut for a single field violation."""
        return cls([FieldViolation(field, description)])

    def details(self) -> list[any_pb2.Any]:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in self.violations[:MAX_VIOLATIONS]
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        return [packed]


class NotFound(DomainError):
    """The resource does not exist or lies outside the caller's scope (indistinguishable)."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"

    def __init__(self, resource: str):
        super().__init__(f"{resource} not found", metadata={"resource": resource})


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    """The caller can see the resource but lacks the permission for this action."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"

    def __init__(self, permission: str, resource: str = ""):
        where = f" on {resource}" if resource else ""
        super().__init__(
            f"permission {permission!r} is required{where}",
            metadata={"permission": permission, **({"resource": resource} if resource else {})},
        )


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrent change won (etag mismatch); the caller may re-read and retry."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class ResourceExhausted(DomainError):
    """A quota is used up; the details say which, how much is used and how much is allowed."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "QUOTA_EXCEEDED"

    def __init__(self, subject: str, quota: str, used: int, allowed: int):
        self.subject, self.quota, self.used, self.allowed = subject, quota, used, allowed
        super().__init__(
            f"{quota} quota of {subject} is used up: {used} used of {allowed} allowed",
            metadata={"subject": subject, "quota": quota, "used": str(used), "allowed": str(allowed)},
        )

    def details(self) -> list[any_pb2.Any]:
        failure = error_details_pb2.QuotaFailure(
            violations=[
                error_details_pb2.QuotaFailure.Violation(
                    subject=self.subject, description=f"{self.used} used of {self.allowed} allowed"
                )
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(failure)
        return [packed]


class RateLimited(DomainError):
    """Too many attempts; `retry_after` seconds tell the caller when to try again (RetryInfo)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float, *, reason: str | None = None):
        self.retry_after = max(0.0, retry_after)
        super().__init__(message, reason=reason, metadata={"retry_after_seconds": str(int(self.retry_after))})

    def details(self) -> list[any_pb2.Any]:
        seconds = int(self.retry_after)
        info = error_details_pb2.RetryInfo()
        info.retry_delay.seconds = seconds
        info.retry_delay.nanos = int((self.retry_after - seconds) * 1e9)
        packed = any_pb2.Any()
        packed.Pack(info)
        return [packed]


_CODE_NUMBERS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: code_pb2.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    grpc.StatusCode.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED: code_pb2.ABORTED,
    grpc.StatusCode.UNAVAILABLE: code_pb2.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNKNOWN: code_pb2.UNKNOWN,
    grpc.StatusCode.INTERNAL: code_pb2.INTERNAL,
}


def decode_status(error: grpc.aio.AioRpcError | grpc.RpcError) -> status_pb2.Status | None:
    """The rich status a server attached to an RPC error, if any (for clients and tests)."""
    from grpc_status import rpc_status

    return rpc_status.from_call(error)  # type: ignore[arg-type]


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """The BadRequest field violations carried by an INVALID_ARGUMENT error."""
    status = decode_status(error)
    out: list[FieldViolation] = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
    return out


def error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo (reason, domain, metadata) carried by an error, if any."""
    status = decode_status(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None
