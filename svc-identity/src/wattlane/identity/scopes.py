"""Effective scope of a user: per permission, the tenant paths (and allow-lists) where it is held.

Also the revocation check: a token of a removed or disabled user, of an older auth epoch, or one
revoked by logout gets no scope (UNAUTHENTICATED), which is how other services learn of a
removal within their scope-cache lifetime.
"""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import select

from wattlane.core.db import Database
from wattlane.core.errors import Unauthenticated
from wattlane.core.scope import EffectiveScope, Grant
from wattlane.core.tokens import Principal
from wattlane.identity.models import RevokedToken, Role, RoleBinding, Tenant, User


async def compute_scope(db: Database, principal: Principal, ttl: float) -> EffectiveScope:
    """Read the user's live role bindings and fold them into grants."""
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
                .where(
                    RoleBinding.user_id == user.id, Tenant.delete_time.is_(None), Role.delete_time.is_(None)
                )
            )
        ).all()
    grants: dict[str, list[Grant]] = defaultdict(list)
    for path, propagate, allowed, permissions in rows:
        grant = Grant(path, bool(propagate), frozenset(allowed) if allowed else None)
        for permission in permissions:
            grants[permission].append(grant)
    return EffectiveScope.build(user.id, grants, expires_at=min(time.time() + ttl, principal.expires_at))
