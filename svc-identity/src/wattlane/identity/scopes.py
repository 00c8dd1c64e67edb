"""Effective scope of a user: per permission, the tenant paths (and allow-lists) where it is held.

Also the revocation check: a token of a removed or disabled user, of an older auth epoch, or one
revoked by logout gets no scope (UNAUTHENTICATED), which is how other services learn of a
removal within their scope-cache lifetime.
"""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.db import Database
from wattlane.core.errors import Unauthenticated
from wattlane.core.scope import EffectiveScope, Grant
from wattlane.core.tokens import Principal
from wattlane.identity.models import RevokedToken, Role, RoleBinding, Tenant, User


async def compute_scope(db: Database, principal: Principal, ttl: float) -> EffectiveScope:
    """The scope of a token's user; UNAUTHENTICATED when the token no longer stands."""
    async with db.reader() as session:
        user = await session.get(User, principal.subject)
        if (
            user is None
            or user.delete_time is not None
            or user.state != "ACTIVE"
            or user.auth_epoch != principal.epoch
        ):
            raise Unauthenticated("token has been revoked", reason="TOKEN_REVOKED")
        if await session.get(RevokedToken, principal.token_id) is not None:
            raise Unauthenticated("token has been revoked", reason="TOKEN_REVOKED")
        grants = await _grants(session, user.id)
    return EffectiveScope.build(user.id, grants, expires_at=min(time.time() + ttl, principal.expires_at))


async def scope_of_user(session: AsyncSession, user_id: str) -> EffectiveScope | None:
    """The scope of an active user by id (internal checks, e.g. a raw workflow signal's actor);
    None when the user is removed, disabled or unknown."""
    user = await session.get(User, user_id)
    if user is None or user.delete_time is not None or user.state != "ACTIVE":
        return None
    return EffectiveScope.build(user.id, await _grants(session, user.id))


async def _grants(session: AsyncSession, user_id: str) -> dict[str, list[Grant]]:
    """The user's live role bindings folded into grants per permission."""
    rows = (
        await session.execute(
            select(
                RoleBinding.tenant_path,
                RoleBinding.propagate,
                RoleBinding.allowed_resources,
                Role.permissions,
            )
            .join(Role, Role.id == RoleBinding.role_id)
            .join(Tenant, Tenant.id == RoleBinding.tenant_id)
            .where(RoleBinding.user_id == user_id, Tenant.delete_time.is_(None), Role.delete_time.is_(None))
        )
    ).all()
    grants: dict[str, list[Grant]] = defaultdict(list)
    for path, propagate, allowed, permissions in rows:
        grant = Grant(path, bool(propagate), frozenset(allowed) if allowed else None)
        for permission in permissions:
            grants[permission].append(grant)
    return grants
