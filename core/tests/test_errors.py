"""errors: each DomainError carries its code, reason and google.rpc.Status details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from wattlane.core.errors import (
    ERROR_DOMAIN,
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)


def unpack(status: status_pb2.Status) -> list[object]:
    out: list[object] = []
    for detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                out.append(message)
    assert len(out) == len(status.details)
    return out


@pytest.mark.parametrize(
    ("error", "code", "number", "reason"),
    [
        (
            InvalidArgument.field("a", "bad"),
            grpc.StatusCode.INVALID_ARGUMENT,
            code_pb2.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
        ),
        (NotFound("users/u1"), grpc.StatusCode.NOT_FOUND, code_pb2.NOT_FOUND, "NOT_FOUND"),
        (
            AlreadyExists("x exists"),
            grpc.StatusCode.ALREADY_EXISTS,
            code_pb2.ALREADY_EXISTS,
            "ALREADY_EXISTS",
        ),
        (
            PermissionDenied("users.update"),
            grpc.StatusCode.PERMISSION_DENIED,
            code_pb2.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        ),
        (
            Unauthenticated("who?"),
            grpc.StatusCode.UNAUTHENTICATED,
            code_pb2.UNAUTHENTICATED,
            "UNAUTHENTICATED",
        ),
        (
            FailedPrecondition("not yet"),
            grpc.StatusCode.FAILED_PRECONDITION,
            code_pb2.FAILED_PRECONDITION,
            "FAILED_PRECONDITION",
        ),
        (Aborted("etag"), grpc.StatusCode.ABORTED, code_pb2.ABORTED, "ABORTED"),
        (Unavailable("later"), grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE, "UNAVAILABLE"),
        (
            ResourceExhausted("tenants/t1", "stations", 3, 3),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            code_pb2.RESOURCE_EXHAUSTED,
            "QUOTA_EXCEEDED",
        ),
        (DomainError("?"), grpc.StatusCode.UNKNOWN, code_pb2.UNKNOWN, "UNKNOWN"),
    ],
)
def test_every_error_maps_to_its_code_with_error_info(
    error: DomainError, code: grpc.StatusCode, number: int, reason: str
) -> None:
    assert error.code == code
    status = error.to_status()
    assert status.code == number
    assert status.message == error.message == str(error)
    info = unpack(status)[0]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == (reason, ERROR_DOMAIN)


def test_reason_and_metadata_can_be_given() -> None:
    error = FailedPrecondition("node owns data", reason="NODE_HAS_DATA", metadata={"node": "t1"})
    (info,) = unpack(error.to_status())
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "NODE_HAS_DATA"
    assert dict(info.metadata) == {"node": "t1"}


def test_invalid_argument_names_every_field() -> None:
    error = InvalidArgument([FieldViolation("a", "is required"), FieldViolation("b.c", "too long")])
    assert error.message == "invalid argument: a: is required; b.c: too long"
    info, bad = unpack(error.to_status())
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("a", "is required"),
        ("b.c", "too long"),
    ]
    assert InvalidArgument.field("x", "y").violations == [FieldViolation("x", "y")]
    assert (
        InvalidArgument.field(
            "x",
            "y",
        ).reason
        == "INVALID_ARGUMENT"
    )


def test_not_found_and_permission_denied_name_the_resource() -> None:
    missing = NotFound("tenants/t9")
    assert missing.message == "tenants/t9 not found"
    assert missing.metadata == {"resource": "tenants/t9"}
    denied = PermissionDenied("tenants.update", "tenants/t9")
    assert denied.message == "permission 'tenants.update' is required on tenants/t9"
    assert denied.metadata == {"permission": "tenants.update", "resource": "tenants/t9"}
    assert PermissionDenied("x").metadata == {"permission": "x"}


def test_quota_failure_details() -> None:
    error = ResourceExhausted("tenants/t1", "stations", 10, 10)
    assert error.message == "stations quota of tenants/t1 is used up: 10 used of 10 allowed"
    info, quota = unpack(error.to_status())
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert dict(info.metadata) == {
        "subject": "tenants/t1",
        "quota": "stations",
        "used": "10",
        "allowed": "10",
    }
    assert isinstance(quota, error_details_pb2.QuotaFailure)
    assert [(v.subject, v.description) for v in quota.violations] == [("tenants/t1", "10 used of 10 allowed")]
