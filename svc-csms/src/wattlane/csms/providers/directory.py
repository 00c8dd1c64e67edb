"""Tenant paths from identity, for audit reads with a `parent` (`tenants/{id}`): the CSMS keeps
path copies on its rows but not the tree, so it asks identity's `ResolveOwner`
(`identity.directory`, with the CSMS's service token), as assets does."""

from __future__ import annotations

import time

import grpc

from wattlane.api.identity.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.client import TokenProvider, channel
from wattlane.core.errors import NotFound, Unavailable
from wattlane.core.names import parse_name


class IdentityDirectory:
    """`TenantPathResolver` of core's AuditService over identity (paths cached: they never
    change while moves of nodes owning data elsewhere are refused)."""

    def __init__(self, target: str, token: TokenProvider, *, ttl: float = 60.0) -> None:
        self._channel = channel(target, token=token, timeout=5.0, max_attempts=3)
        self._stub = internal_pb2_grpc.IdentityInternalServiceStub(self._channel)
        self._ttl = ttl
        self._paths: dict[str, tuple[float, str]] = {}

    async def path_of(self, tenant_name: str) -> str:
        """The path of `tenants/{id}` if the caller can see it (NOT_FOUND otherwise)."""
        parse_name(tenant_name, "tenants", "parent")
        scope = await current_caller().scope()
        path = await self._path(tenant_name)
        if not scope.visible(path):
            raise NotFound(tenant_name)
        return path

    async def _path(self, tenant_name: str) -> str:
        now = time.monotonic()
        cached = self._paths.get(tenant_name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reply = await self._stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=tenant_name))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(tenant_name) from None
            raise Unavailable(
                f"identity did not answer: {error.code().name}", reason="IDENTITY_UNAVAILABLE"
            ) from None
        if len(self._paths) > 100_000:
            self._paths.clear()
        self._paths[tenant_name] = (now + self._ttl, reply.tenant_path)
        return reply.tenant_path

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)
