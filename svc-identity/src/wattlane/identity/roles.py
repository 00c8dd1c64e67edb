"""Roles and role bindings. Nobody can hand out more than they hold: creating a role or
assigning one requires holding each of its permissions at that place."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core import validation
from wattlane.core.clock import utcnow
from wattlane.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, RESTRICTABLE_COLLECTIONS, EffectiveScope, Grant
from wattlane.identity import tenants, users
from wattlane.identity.models import Role, RoleBinding
from wattlane.identity.permissions import BUILTIN_ROLE_KINDS, BUILTIN_ROLES, PERMISSIONS
from wattlane.identity.tenants import check_etag

_RESOURCE = re.compile(r"^(locations|chargingPoints)/[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def role_name(role_id: str) -> str:
    return f"roles/{role_id}"


def binding_name(binding_id: str) -> str:
    return f"roleBindings/{binding_id}"


async def sync_builtin_roles(session: AsyncSession) -> None:
    """Make the built-in role rows match the code (run on every start)."""
    existing = {
        r.id: r for r in (await session.execute(select(Role).where(Role.builtin.is_(True)))).scalars()
    }
    for role_id, (display_name, description, permissions) in BUILTIN_ROLES.items():
        row = existing.get(role_id)
        if row is None:
            session.add(
                Role(
                    id=role_id,
                    tenant_id=None,
                    tenant_path=None,
                    display_name=display_name,
                    description=description,
                    permissions=sorted(permissions),
                    builtin=True,
                    version=1,
                )
            )
        elif (row.display_name, row.description, sorted(row.permissions)) != (
            display_name,
            description,
            sorted(permissions),
        ):
            row.display_name, row.description, row.permissions = (
                display_name,
                description,
                sorted(permissions),
            )
            row.version += 1
    await session.flush()


def validate_permissions(permissions: Sequence[str], field: str) -> list[str]:
    if not permissions:
        raise InvalidArgument.field(field, "must name at least one permission")
    bad = [
        FieldViolation(f"{field}[{i}]", f"unknown permission {p!r}")
        for i, p in enumerate(permissions)
        if p not in PERMISSIONS
    ]
    if bad:
        raise InvalidArgument(bad)
    return sorted(set(permissions))


def _require_holds(
    scope: EffectiveScope, permissions: Sequence[str], path: str, subtree: bool, where: str
) -> None:
    """No escalation: the caller must hold every permission, unrestricted, over the target."""
    for permission in permissions:
        held = (
            scope.can_everywhere_below(permission, path)
            if subtree
            else scope.can(permission, path)
            and any(g.allowed is None for g in scope.grants_for(permission) if g.covers(path))
        )
        if not held:
            raise PermissionDenied(permission, where)


def _related(grants: Sequence[Grant], path: str) -> bool:
    """A grant at or below `path` (where a role defined at `path` is usable), or above it."""
    return any(g.path.startswith(path) or (g.subtree and path.startswith(g.path)) for g in grants)


def _check_role_access(
    scope: EffectiveScope, role: Role | None, role_id: str, permission: str | None
) -> Role:
    """Built-in roles are readable by everyone signed in. A custom role is visible to those who
    see its tenant, above or below; `permission` (if given) must be held there too."""
    if role is None:
        raise NotFound(role_name(role_id))
    if role.builtin:
        return role
    assert role.tenant_path is not None
    if not _related(scope.all_grants, role.tenant_path):
        raise NotFound(role_name(role_id))
    if permission is not None and not _related(scope.grants_for(permission), role.tenant_path):
        raise PermissionDenied(permission, role_name(role_id))
    return role


async def load(session: AsyncSession, role_id: str, *, for_update: bool = False) -> Role | None:
    query = select(Role).where(Role.id == role_id, Role.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get(session: AsyncSession, scope: EffectiveScope, role_id: str) -> Role:
    return _check_role_access(scope, await load(session, role_id), role_id, "roles.read")


async def list_usable(session: AsyncSession, scope: EffectiveScope, tenant_id: str, page: Page) -> list[Role]:
    """Built-in roles plus custom roles defined at the tenant or any ancestor."""
    tenant = await tenants.get_in_scope(session, scope, tenant_id, "roles.read")
    ancestors = [i for i in tenant.path.strip("/").split("/") if i]
    query = select(Role).where(
        Role.delete_time.is_(None), or_(Role.builtin.is_(True), Role.tenant_id.in_(ancestors))
    )
    return list((await session.execute(page.window(query, [Role.id]))).scalars())


async def create(
    session: AsyncSession,
    scope: EffectiveScope,
    tenant_id: str,
    *,
    display_name: str,
    description: str,
    permissions: Sequence[str],
) -> Role:
    tenant = await tenants.get_in_scope(session, scope, tenant_id, "roles.manage")
    display_name = validation.text(display_name, "role.display_name")
    description = validation.text(description, "role.description", max_length=2000, required=False)
    perms = validate_permissions(permissions, "role.permissions")
    _require_holds(scope, perms, tenant.path, True, tenants.tenant_name(tenant_id))
    clash = await session.scalar(
        select(
            exists().where(
                Role.tenant_id == tenant.id, Role.display_name == display_name, Role.delete_time.is_(None)
            )
        )
    )
    if clash:
        raise AlreadyExists(f"a role named {display_name!r} already exists at this tenant")
    role = Role(
        id=new_id(),
        tenant_id=tenant.id,
        tenant_path=tenant.path,
        display_name=display_name,
        description=description,
        permissions=perms,
        builtin=False,
        version=1,
    )
    session.add(role)
    await session.flush()
    return role


async def _custom_role_for_change(session: AsyncSession, scope: EffectiveScope, role_id: str) -> Role:
    role = _check_role_access(scope, await load(session, role_id, for_update=True), role_id, None)
    if role.builtin:
        raise FailedPrecondition(
            f"{role_name(role_id)} is built in and cannot be changed", reason="BUILTIN_ROLE"
        )
    assert role.tenant_path is not None
    scope.require("roles.manage", role.tenant_path, role_name(role_id))
    return role


async def update(
    session: AsyncSession, scope: EffectiveScope, role_id: str, changes: Mapping[str, Any], etag: str = ""
) -> Role:
    role = await _custom_role_for_change(session, scope, role_id)
    check_etag(role.version, etag, role_name(role_id))
    if "display_name" in changes:
        role.display_name = validation.text(changes["display_name"], "role.display_name")
    if "description" in changes:
        role.description = validation.text(
            changes["description"], "role.description", max_length=2000, required=False
        )
    if "permissions" in changes:
        perms = validate_permissions(changes["permissions"], "role.permissions")
        assert role.tenant_path is not None
        _require_holds(scope, perms, role.tenant_path, True, role_name(role_id))
        role.permissions = perms
    role.version += 1
    role.update_time = utcnow()
    await session.flush()
    return role


async def delete(session: AsyncSession, scope: EffectiveScope, role_id: str) -> Role:
    role = await _custom_role_for_change(session, scope, role_id)
    in_use = await session.scalar(
        select(func.count()).select_from(RoleBinding).where(RoleBinding.role_id == role.id)
    )
    if in_use:
        raise FailedPrecondition(
            f"{role_name(role_id)} is assigned {in_use} time(s); remove those assignments first",
            reason="ROLE_IN_USE",
        )
    role.delete_time = utcnow()
    role.version += 1
    await session.flush()
    return role


def validate_resources(resources: Sequence[str], field: str) -> list[str]:
    bad = [
        FieldViolation(
            f"{field}[{i}]", f"must be one of {', '.join(c + '/{id}' for c in RESTRICTABLE_COLLECTIONS)}"
        )
        for i, r in enumerate(resources)
        if not _RESOURCE.match(r)
    ]
    if bad:
        raise InvalidArgument(bad)
    return sorted(set(resources))


async def bind(
    session: AsyncSession,
    scope: EffectiveScope | None,
    *,
    user_id: str,
    role_id: str,
    tenant_id: str,
    propagate: bool,
    allowed_resources: Sequence[str],
) -> RoleBinding:
    """Assign a role to a user at a tenant (the user's own tenant or below it). `scope` None is
    a trusted internal call (bootstrap, employees) that skips the caller's checks."""
    if scope is not None:
        tenant = await tenants.get_in_scope(session, scope, tenant_id, "users.manage")
        user = await users.get_in_scope(session, scope, user_id, "users.read")
    else:
        t, u = await tenants.load(session, tenant_id), await users.load(session, user_id)
        if t is None or u is None:
            raise NotFound(tenants.tenant_name(tenant_id) if t is None else users.user_name(user_id))
        tenant, user = t, u
    role = await load(session, role_id)
    if role is None:
        raise NotFound(role_name(role_id))
    if scope is not None:
        _check_role_access(scope, role, role_id, None)
    if not tenant.path.startswith(user.tenant_path):
        raise FailedPrecondition(
            "a role can only be assigned at the user's own tenant or below it",
            reason="BINDING_OUTSIDE_USER_TENANT",
        )
    if role.tenant_path is not None and not tenant.path.startswith(role.tenant_path):
        raise FailedPrecondition(
            f"{role_name(role_id)} is not usable at this tenant", reason="ROLE_NOT_USABLE"
        )
    kinds = BUILTIN_ROLE_KINDS.get(role.id) if role.builtin else None
    if kinds is not None and tenant.kind not in kinds:
        where = " or ".join(sorted(k.lower() for k in kinds))
        raise FailedPrecondition(
            f"{role_name(role_id)} can only be held at a {where}", reason="ROLE_NOT_FOR_TENANT_KIND"
        )
    resources = validate_resources(allowed_resources, "role_binding.allowed_resources")
    if scope is not None:
        _require_holds(scope, role.permissions, tenant.path, propagate, tenants.tenant_name(tenant_id))
    clash = await session.scalar(
        select(
            exists().where(
                RoleBinding.user_id == user.id,
                RoleBinding.role_id == role.id,
                RoleBinding.tenant_id == tenant.id,
            )
        )
    )
    if clash:
        raise AlreadyExists(f"{users.user_name(user_id)} already holds {role_name(role_id)} at this tenant")
    binding = RoleBinding(
        id=new_id(),
        user_id=user.id,
        role_id=role.id,
        tenant_id=tenant.id,
        tenant_path=tenant.path,
        propagate=propagate,
        allowed_resources=resources,
        create_time=utcnow(),
    )
    session.add(binding)
    await session.flush()
    return binding


async def _binding_in_scope(
    session: AsyncSession, scope: EffectiveScope, binding_id: str, permission: str
) -> RoleBinding:
    binding = (
        await session.execute(select(RoleBinding).where(RoleBinding.id == binding_id).with_for_update())
    ).scalar_one_or_none()
    if binding is None:
        raise NotFound(binding_name(binding_id))
    scope.require(permission, binding.tenant_path, binding_name(binding_id))
    return binding


async def update_binding(
    session: AsyncSession, scope: EffectiveScope, binding_id: str, changes: Mapping[str, Any]
) -> RoleBinding:
    binding = await _binding_in_scope(session, scope, binding_id, "users.manage")
    if "allowed_resources" in changes:
        binding.allowed_resources = validate_resources(
            changes["allowed_resources"], "role_binding.allowed_resources"
        )
    if "propagate" in changes:
        binding.propagate = bool(changes["propagate"])
        role = await session.get(Role, binding.role_id)
        assert role is not None
        _require_holds(
            scope, role.permissions, binding.tenant_path, binding.propagate, binding_name(binding_id)
        )
    await session.flush()
    return binding


async def unbind(session: AsyncSession, scope: EffectiveScope, binding_id: str) -> RoleBinding:
    binding = await _binding_in_scope(session, scope, binding_id, "users.manage")
    await session.delete(binding)
    await session.flush()
    return binding


async def list_bindings(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_id: str | None,
    where: ColumnElement[bool],
    page: Page,
) -> list[RoleBinding]:
    query = select(RoleBinding).where(scope.filter("users.read", RoleBinding.tenant_path), where)
    if parent_id is None and not scope.grants_for("users.read"):
        raise PermissionDenied("users.read")
    if parent_id is not None:
        parent = await tenants.get_in_scope(session, scope, parent_id, "users.read")
        query = query.where(
            RoleBinding.tenant_path >= parent.path, RoleBinding.tenant_path < parent.path + PATH_END
        )
    return list((await session.execute(page.window(query, [RoleBinding.id]))).scalars())
