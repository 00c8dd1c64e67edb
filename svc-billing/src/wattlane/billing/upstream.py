"""What billing asks identity (over its internal API, with billing's service token): the tenant
that owns a `tenants/{id}` or `users/{id}` name, with its path (for the path copies on our rows
and for scope checks). Identity's NOT_FOUND comes back as ours; anything else as UNAVAILABLE."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from wattlane.api.identity.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import NotFound, Unavailable


@dataclass(frozen=True)
class Owner:
    """The tenant owning a tenant or user name."""

    name: str
    tenant_id: str
    path: str
    kind: str
    display_name: str
    home_of: str = ""  # `users/{id}` when the tenant is that employee's home sub-organization


class Directory(Protocol):
    async def owner(self, name: str) -> Owner:
        """The owner of `tenants/{id}` or `users/{id}`; NotFound when absent or deleted."""


class IdentityDirectory:
    """`Directory` over identity's internal API; owners are cached (paths never change: moves
    are refused until the move workflow exists)."""

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
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(name) from None
            raise Unavailable(
                f"identity did not answer: {error.code().name}", reason="IDENTITY_UNAVAILABLE"
            ) from None
        owner = Owner(
            name,
            reply.tenant.removeprefix("tenants/"),
            reply.tenant_path,
            reply.kind,
            reply.display_name,
            reply.home_of,
        )
        if len(self._owners) > 100_000:
            self._owners.clear()
        self._owners[name] = (now + self._ttl, owner)
        return owner

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
