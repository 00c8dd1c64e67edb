"""Who owns a `tenants/{id}` or `users/{id}` name, asked of identity's internal `ResolveOwner`
with the asking service's token and cached: the one directory every service uses for the tenant
path copies on its rows and for scope checks of a `parent`.

Paths never change while moves of nodes owning data elsewhere are refused (until the move
workflow exists), so a cached owner stays right for its lifetime; a deleted owner is seen within
`ttl`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import grpc

from wattlane.api.identity.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import TokenProvider, channel
from wattlane.core.errors import NotFound, Unavailable

# Bounds memory: a directory of more names than this starts over (they are re-resolved on use).
MAX_CACHED = 100_000


@dataclass(frozen=True)
class Owner:
    """The tenant owning a tenant or user name."""

    name: str
    tenant_id: str
    path: str
    kind: str
    display_name: str
    home_of: str = ""  # `users/{id}` when the tenant is that employee's home sub-organization

    @property
    def customer_path(self) -> str:
        """The path of the customer this tenant belongs to (itself when above customers)."""
        ids = [i for i in self.path.split("/") if i]
        return "/" + "/".join(ids[:3]) + "/"


class Directory(Protocol):
    async def owner(self, name: str) -> Owner:
        """The owner of `tenants/{id}` or `users/{id}`; NotFound when absent or deleted."""


class IdentityDirectory:
    """`Directory` over identity's internal API, owners cached for `ttl` seconds. Identity's
    NOT_FOUND comes back as ours (naming the asked name); any other failure as UNAVAILABLE."""

    def __init__(self, target: str, token: TokenProvider, *, ttl: float = 60.0, timeout: float = 5.0) -> None:
        self.channel = channel(target, token=token, timeout=timeout, max_attempts=3)
        self.stub = internal_pb2_grpc.IdentityInternalServiceStub(self.channel)
        self._ttl = ttl
        self._owners: dict[str, tuple[float, Owner]] = {}

    async def owner(self, name: str) -> Owner:
        """The owner of `tenants/{id}` or `users/{id}` (cached); NotFound when absent or deleted."""
        now = time.monotonic()
        cached = self._owners.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reply = await self.stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=name))
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
        if len(self._owners) >= MAX_CACHED:
            self._owners.clear()
        self._owners[name] = (now + self._ttl, owner)
        return owner

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)
