"""Tenant paths from identity, for reads with a `parent` (`tenants/{id}`): the CSMS keeps path
copies on its rows but not the tree, so it asks core's `IdentityDirectory` (identity's
`ResolveOwner`, with the CSMS's service token, cached), as assets and billing do."""

from __future__ import annotations

from wattlane.core.caller import current_caller
from wattlane.core.clients.directory import IdentityDirectory
from wattlane.core.errors import NotFound
from wattlane.core.names import parse_name


class TenantPaths:
    """`TenantPathResolver` of core's AuditService (and the CSMS's `parent` reads) over core's
    identity directory."""

    def __init__(self, directory: IdentityDirectory) -> None:
        self.directory = directory

    async def path_of(self, tenant_name: str) -> str:
        """The path of `tenants/{id}` if the caller can see it (NOT_FOUND otherwise)."""
        parse_name(tenant_name, "tenants", "parent")
        scope = await current_caller().scope()
        owner = await self.directory.owner(tenant_name)
        if not scope.visible(owner.path):
            raise NotFound(tenant_name)
        return owner.path

    async def close(self) -> None:
        """Close the directory's channel."""
        await self.directory.close()
