"""Users: membership of a tenant, lifecycle (invited → active ⇄ disabled → removed), one-time
tokens for invitations and password resets, and employees of companies."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Table, delete, exists, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core import validation
from wattlane.core.clock import utcnow
from wattlane.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope
from wattlane.identity import revocations, tenants
from wattlane.identity.models import ActionToken, RoleBinding, Tenant, User
from wattlane.identity.tenant_paths import TenantPaths
from wattlane.identity.tenants import check_etag

STATES = frozenset({"INVITED", "ACTIVE", "DISABLED"})
USERS: Table = User.__table__  # type: ignore[assignment]
# Built once: a plain (Core) statement whose cache key is computed once, not per call.


def user_name(user_id: str) -> str:
    return f"users/{user_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def load(session: AsyncSession, user_id: str, *, for_update: bool = False) -> User | None:
    query = select(User).where(User.id == user_id, User.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    permission: str,
    *,
    for_update: bool = False,
    self_allowed: bool = False,
) -> User:
    """The user if the caller holds `permission` on the user's tenant (or is the user, when
    `self_allowed`); NOT_FOUND when invisible."""
    user = await load(session, user_id, for_update=for_update)
    if user is None:
        raise NotFound(user_name(user_id))
    if self_allowed and user.id == scope.subject:
        return user
    scope.require(permission, user.tenant_path, user_name(user_id))
    return user


async def _check_email_free(session: AsyncSession, email: str) -> None:
    taken = await session.scalar(select(exists().where(User.email == email, User.delete_time.is_(None))))
    if taken:
        raise AlreadyExists(f"a user with e-mail {email} already exists", metadata={"field": "user.email"})


async def create(
    session: AsyncSession,
    scope: EffectiveScope,
    tenant_id: str,
    *,
    email: str,
    display_name: str,
    locale: str = "",
    field: str = "user",
) -> User:
    """A new INVITED user of `tenant_id`."""
    tenant = await tenants.get_in_scope(session, scope, tenant_id, "users.manage")
    return await create_unchecked(
        session, tenant, email=email, display_name=display_name, locale=locale, field=field
    )


async def create_unchecked(
    session: AsyncSession,
    tenant: Tenant,
    *,
    email: str,
    display_name: str,
    locale: str = "",
    field: str = "user",
) -> User:
    """Create a user after permission checks were done (bootstrap, employees)."""
    email = validation.email(email, f"{field}.email")
    display_name = validation.text(display_name, f"{field}.display_name")
    locale = validation.locale(locale, f"{field}.locale") if locale else tenant.locale
    await _check_email_free(session, email)
    user = User(
        id=new_id(),
        tenant_id=tenant.id,
        tenant_path=tenant.path,
        email=email,
        display_name=display_name,
        locale=locale,
        state="INVITED",
        auth_epoch=0,
        version=1,
    )
    session.add(user)
    await session.flush()
    return user


async def update(
    session: AsyncSession, scope: EffectiveScope, user_id: str, changes: Mapping[str, Any], etag: str = ""
) -> User:
    """Change display name / locale (the user or `users.manage`) or state (`users.manage`)."""
    manages = "state" in changes
    user = await get_in_scope(
        session, scope, user_id, "users.manage", for_update=True, self_allowed=not manages
    )
    check_etag(user.version, etag, user_name(user_id))
    if "display_name" in changes:
        user.display_name = validation.text(changes["display_name"], "user.display_name")
    if "locale" in changes:
        user.locale = validation.locale(changes["locale"], "user.locale")
    if "state" in changes:
        state = changes["state"]
        if state not in ("ACTIVE", "DISABLED"):
            raise InvalidArgument.field("user.state", "can only be set to ACTIVE or DISABLED")
        if user.id == scope.subject:
            raise FailedPrecondition("you cannot change your own state", reason="SELF_STATE_CHANGE")
        if user.state == "INVITED" and state == "ACTIVE":
            raise FailedPrecondition(
                "an invited user becomes active by accepting the invitation", reason="USER_NOT_ACCEPTED"
            )
        if state != user.state:
            user.state = state
            revocations.end_sessions(session, user)  # disabling (or re-enabling) ends every session
    user.version += 1
    user.update_time = utcnow()
    await session.flush()
    return user


async def remove(session: AsyncSession, scope: EffectiveScope, user_id: str) -> User:
    """Remove a member: soft delete, end every session, drop role bindings and open tokens.
    Licenses and devices belong to the organization and stay."""
    user = await get_in_scope(session, scope, user_id, "users.manage", for_update=True)
    if user.id == scope.subject:
        raise FailedPrecondition("you cannot remove yourself", reason="SELF_REMOVAL")
    user.delete_time = utcnow()
    revocations.end_sessions(session, user)
    user.version += 1
    await session.execute(delete(RoleBinding).where(RoleBinding.user_id == user.id))
    await session.execute(
        sql_update(ActionToken)
        .where(ActionToken.user_id == user.id, ActionToken.use_time.is_(None))
        .values(use_time=utcnow())
    )
    await session.flush()
    return user


async def invited_in_scope(session: AsyncSession, scope: EffectiveScope, user_id: str) -> User:
    """An INVITED user the caller may manage, locked for the invitation being issued
    (FAILED_PRECONDITION once the user has accepted)."""
    user = await get_in_scope(session, scope, user_id, "users.manage", for_update=True)
    if user.state != "INVITED":
        raise FailedPrecondition(f"users/{user_id} has already accepted", reason="USER_NOT_INVITED")
    return user


async def active_by_email(session: AsyncSession, email: str) -> User | None:
    """The active, not removed user signing in with `email` (lower-cased), if any."""
    return (
        await session.execute(
            select(User).where(User.email == email, User.state == "ACTIVE", User.delete_time.is_(None))
        )
    ).scalar_one_or_none()


async def issue_token(
    session: AsyncSession, user: User, kind: str, ttl_seconds: int
) -> tuple[str, dt.datetime]:
    """A fresh one-time token of `kind` for `user`; earlier open ones of that kind stop working."""
    now = utcnow()
    await session.execute(
        sql_update(ActionToken)
        .where(ActionToken.user_id == user.id, ActionToken.kind == kind, ActionToken.use_time.is_(None))
        .values(use_time=now)
    )
    token = secrets.token_urlsafe(32)
    expire = now + dt.timedelta(seconds=ttl_seconds)
    session.add(
        ActionToken(
            id=new_id(),
            user_id=user.id,
            kind=kind,
            token_hash=token_hash(token),
            expire_time=expire,
            use_time=None,
            create_time=now,
        )
    )
    await session.flush()
    return token, expire


async def redeem_token(session: AsyncSession, token: str, kind: str) -> User:
    """The user a valid, unused, unexpired token of `kind` belongs to; marks it used."""
    row = (
        await session.execute(
            select(ActionToken)
            .where(ActionToken.token_hash == token_hash(token), ActionToken.kind == kind)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.use_time is not None or row.expire_time <= utcnow():
        raise InvalidArgument.field("token", "is invalid, already used or expired")
    user = await load(session, row.user_id, for_update=True)
    if user is None:
        raise InvalidArgument.field("token", "is invalid, already used or expired")
    row.use_time = utcnow()
    return user


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_id: str | None,
    recursive: bool,
    where: ColumnElement[bool],
    page: Page,
    paths: TenantPaths,
) -> Sequence[Row[Any]]:
    """Users the caller may read, in creation order, as plain rows (read-only, so no ORM
    instances: materializing them cost more than the query for a page of users)."""
    grants = scope.grants_for("users.read")
    if parent_id is None and not grants:
        raise PermissionDenied("users.read")
    u = USERS.c
    conditions = [u.delete_time.is_(None), where]
    inside_one_grant = False
    if parent_id is not None:
        path = await paths.get(session, parent_id)
        if path is None:
            raise NotFound(tenants.tenant_name(parent_id))
        scope.require("users.read", path, tenants.tenant_name(parent_id))
        if recursive:
            conditions += [u.tenant_path >= path, u.tenant_path < path + PATH_END]
        else:
            conditions.append(u.tenant_id == parent_id)
        # The parent's range inside one unrestricted grant makes the scope filter redundant.
        inside_one_grant = any(
            g.allowed is None and (g.subtree or not recursive) and g.covers(path) for g in grants
        )
    if not inside_one_grant:
        conditions.append(scope.filter("users.read", u.tenant_path))
    rows: Sequence[Row[Any]] = (
        await session.execute(page.window(select(USERS).where(*conditions), [u.id]))
    ).all()
    return rows


async def company_of(session: AsyncSession, organization: Tenant) -> Tenant:
    """The customer above an organization; FAILED_PRECONDITION unless it is a company."""
    if organization.kind != "ORGANIZATION":
        raise FailedPrecondition(
            "employees belong to an organization of a company", reason="NOT_AN_ORGANIZATION"
        )
    ancestor_ids = list(organization.path.strip("/").split("/"))
    customer = (
        await session.execute(select(Tenant).where(Tenant.id.in_(ancestor_ids), Tenant.kind == "CUSTOMER"))
    ).scalar_one_or_none()
    if customer is None or customer.customer_type != "COMPANY":
        raise FailedPrecondition("only a company's organizations have employees", reason="NOT_A_COMPANY")
    return customer
