"""What assets asks identity (over its internal API, with assets' service token): the tenant
that owns a `tenants/{id}` or `users/{id}` (with its path, for the path copies on our rows),
and datapoint and license allocations. Identity's errors come back as our domain errors with
the same code, so callers see RESOURCE_EXHAUSTED with used / allowed, FAILED_PRECONDITION, ..."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    error_info,
)

# The internal scopes assets' service account needs at identity.


@dataclass(frozen=True)
class Owner:
    """The tenant owning a tenant or user name."""

    name: str
    tenant_id: str
    path: str
    kind: str
    display_name: str

    @property
    def customer_path(self) -> str:
        """The path of the customer this tenant belongs to (itself when above customers)."""
        ids = [i for i in self.path.split("/") if i]
        return "/" + "/".join(ids[:3]) + "/"


class Directory(Protocol):
    async def owner(self, name: str) -> Owner:
        """The owner of `tenants/{id}` or `users/{id}`; NotFound when absent or deleted."""


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


class IdentityUpstream:
    """Directory and Quota over identity's internal API; owners are cached (paths never change:
    moves are refused until the move workflow exists)."""

    def __init__(
        self, target: str, token: Callable[[], Awaitable[str]], *, ttl: float = 60.0, timeout: float = 5.0
    ) -> None:
        self._channel = channel(target, token=token, timeout=timeout, max_attempts=3)
        self._stub = internal_pb2_grpc.IdentityInternalServiceStub(self._channel)
        self._ttl = ttl
        self._owners: dict[str, tuple[float, Owner]] = {}

    async def owner(self, name: str) -> Owner:
        """The owner of `tenants/{id}` or `users/{id}` (cached); NOT_FOUND when absent or deleted."""
        now = time.monotonic()
        cached = self._owners.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reply = await self._stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=name))
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from None
        owner = Owner(
            name, reply.tenant.removeprefix("tenants/"), reply.tenant_path, reply.kind, reply.display_name
        )
        if len(self._owners) > 100_000:
            self._owners.clear()
        self._owners[name] = (now + self._ttl, owner)
        return owner

    async def allocate_datapoint(self, organization_id: str, resource: str) -> None:
        await self._call(
            self._stub.AllocateDatapoint(
                internal_pb2.AllocateDatapointRequest(
                    organization=f"tenants/{organization_id}", resource=resource
                )
            )
        )

    async def release_datapoint(self, resource: str) -> None:
        await self._call(self._stub.ReleaseDatapoint(internal_pb2.ReleaseDatapointRequest(resource=resource)))

    async def allocate_license(self, organization_id: str, license_type: str, resource: str) -> None:
        await self._call(
            self._stub.AllocateLicense(
                internal_pb2.AllocateLicenseRequest(
                    organization=f"tenants/{organization_id}",
                    type=accounts_pb2.LicenseType.Value(license_type),
                    resource=resource,
                )
            )
        )

    async def release_license(self, license_type: str, resource: str) -> None:
        await self._call(
            self._stub.ReleaseLicense(
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

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
