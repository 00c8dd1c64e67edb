"""Reading one tenant-owned row the way every RPC must: absent or outside the caller's scope is
NOT_FOUND (indistinguishable), visible without the permission is PERMISSION_DENIED."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets.upstream import Directory, Owner
from wattlane.core.errors import NotFound
from wattlane.core.scope import EffectiveScope

R = TypeVar("R")


async def load_live(
    session: AsyncSession, model: type[R], row_id: str, *, for_update: bool = False
) -> R | None:
    """A row that is not soft-deleted (and, for charging points, ACTIVE), or None."""
    m: Any = model
    query = select(model).where(m.id == row_id)
    if hasattr(m, "delete_time"):
        query = query.where(m.delete_time.is_(None))
    if hasattr(m, "state"):
        query = query.where(m.state == "ACTIVE")
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def require(scope: EffectiveScope, permission: str, row: Any, name: str, related: Iterable[str] = ()) -> None:
    """`scope.require` on a row with an `owner_path`."""
    scope.require(permission, row.owner_path, name, related)


async def tenant_in_scope(directory: Directory, scope: EffectiveScope, name: str, permission: str) -> Owner:
    """A `tenants/{id}` the caller holds `permission` on (NOT_FOUND when invisible)."""
    owner = await directory.owner(name)
    scope.require(permission, owner.path, name)
    return owner


async def owner_visible(directory: Directory, scope: EffectiveScope, name: str) -> Owner:
    """A tenant or user the caller can see at all (NOT_FOUND otherwise)."""
    owner = await directory.owner(name)
    if not scope.visible(owner.path):
        raise NotFound(name)
    return owner
