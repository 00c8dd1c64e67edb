"""Tenants and users named in requests (parents, owners), resolved through identity and checked
against the caller's scope the way every RPC must: absent or outside the scope is NOT_FOUND
(indistinguishable), visible without the permission is PERMISSION_DENIED."""

from __future__ import annotations

from wattlane.core.clients.directory import Directory, Owner
from wattlane.core.errors import NotFound
from wattlane.core.scope import EffectiveScope


async def parent_in_scope(directory: Directory, scope: EffectiveScope, name: str, permission: str) -> Owner:
    """The parent tenant (or user) of a List call: NOT_FOUND when invisible, PERMISSION_DENIED
    without `permission` there (a user's own name always passes: their own cards)."""
    owner = await directory.owner(name)
    if name == f"users/{scope.subject}":
        return owner
    scope.require(permission, owner.path, name)
    return owner


async def owner_visible(directory: Directory, scope: EffectiveScope, name: str) -> Owner:
    """A tenant or user the caller can see at all (NOT_FOUND otherwise)."""
    owner = await directory.owner(name)
    if not scope.visible(owner.path):
        raise NotFound(name)
    return owner
