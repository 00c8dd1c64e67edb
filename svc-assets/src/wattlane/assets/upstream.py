"""What assets asks identity besides owners (over its internal API, with assets' service
token): datapoint and license allocations. Owners come from core's `IdentityDirectory`, whose
channel this shares. Identity's errors come back as our domain errors with the same code, so
callers see RESOURCE_EXHAUSTED with used / allowed, FAILED_PRECONDITION, ..."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

import grpc

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.core.clients.directory import IdentityDirectory
from wattlane.core.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    error_info,
)


class Quota(Protocol):
    """Identity's allocations, each idempotent by resource."""

    async def allocate_datapoint(self, organization_id: str, resource: str) -> None: ...
    async def release_datapoint(self, resource: str) -> None: ...
    async def allocate_license(self, organization_id: str, license_type: str, resource: str) -> None: ...
    async def release_license(self, license_type: str, resource: str) -> None: ...


def _domain_error(error: grpc.aio.AioRpcError) -> DomainError:
    """Identity's answer as a domain error with the same code (unknown codes: UNAVAILABLE)."""
    code, message = error.code(), error.details() or ""
    info = error_info(error)
    reason = info.reason if info else None
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and info is not None:
        meta = info.metadata
        return ResourceExhausted(
            meta.get("subject", ""),
            meta.get("quota", ""),
            int(meta.get("used", 0)),
            int(meta.get("allowed", 0)),
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(message, reason=reason)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(info.metadata.get("resource", "resource") if info else "resource")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument.field("resource", message)
    return Unavailable(f"identity did not answer: {code.name}", reason="IDENTITY_UNAVAILABLE")


class IdentityUpstream(IdentityDirectory):
    """Directory (core's, cached) and Quota over identity's internal API."""

    async def allocate_datapoint(self, organization_id: str, resource: str) -> None:
        await self._call(
            self.stub.AllocateDatapoint(
                internal_pb2.AllocateDatapointRequest(
                    organization=f"tenants/{organization_id}", resource=resource
                )
            )
        )

    async def release_datapoint(self, resource: str) -> None:
        await self._call(self.stub.ReleaseDatapoint(internal_pb2.ReleaseDatapointRequest(resource=resource)))

    async def allocate_license(self, organization_id: str, license_type: str, resource: str) -> None:
        await self._call(
            self.stub.AllocateLicense(
                internal_pb2.AllocateLicenseRequest(
                    organization=f"tenants/{organization_id}",
                    type=accounts_pb2.LicenseType.Value(license_type),
                    resource=resource,
                )
            )
        )

    async def release_license(self, license_type: str, resource: str) -> None:
        await self._call(
            self.stub.ReleaseLicense(
                internal_pb2.ReleaseLicenseRequest(
                    type=accounts_pb2.LicenseType.Value(license_type), resource=resource
                )
            )
        )

    @staticmethod
    async def _call(call: Awaitable[object]) -> None:
        try:
            await call
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from None
