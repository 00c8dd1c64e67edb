"""gRPC refusals as Temporal business failures, for every activity that calls a service.

A refusal that retrying cannot change (a failed precondition, a bad argument, a missing
resource, a denied permission) ends the activity as a non-retryable `ApplicationError` whose
type is the service's ErrorInfo reason; anything else (a service restarting) is raised as is
and retried by the activity's retry policy."""

from __future__ import annotations

import grpc
from temporalio.exceptions import ApplicationError

from wattlane.core.errors import error_info

FINAL_CODES = frozenset(
    {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)


def business_error(error: grpc.aio.AioRpcError) -> ApplicationError | None:
    """A non-retryable ApplicationError for a final refusal; None for transient errors."""
    if error.code() not in FINAL_CODES:
        return None
    info = error_info(error)
    return ApplicationError(
        error.details() or error.code().name,
        type=info.reason if info else error.code().name,
        non_retryable=True,
    )
