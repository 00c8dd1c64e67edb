"""The tenant tree: where each kind of node may sit, creation with id-based paths, updates,
deletion rules. Every function works inside the caller's transaction and scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
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
from wattlane.identity.models import Tenant, User

# Which parent kinds each kind may be created under.
ALLOWED_PARENTS: dict[str, frozenset[str]] = {
    "PARTNER": frozenset({"OPERATOR"}),
    "CUSTOMER": frozenset({"PARTNER"}),
    "ORGANIZATION": frozenset({"CUSTOMER", "ORGANIZATION"}),
}
CUSTOMER_TYPES = frozenset({"COMPANY", "PRIVATE_USER"})


def tenant_name(tenant_id: str) -> str:
    return f"tenants/{tenant_id}"


@dataclass(frozen=True)
class Brand:
    name: str = ""
    logo_url: str = ""
    primary_color: str = ""
    secondary_color: str = ""
    mail_domain: str = ""

    def validated(self, field: str) -> Brand:
        return Brand(
            name=validation.text(self.name, f"{field}.name", required=False),
            logo_url=validation.https_url(self.logo_url, f"{field}.logo_url") if self.logo_url else "",
            primary_color=validation.color(self.primary_color, f"{field}.primary_color")
            if self.primary_color
            else "",
            secondary_color=(
                validation.color(self.secondary_color, f"{field}.secondary_color")
                if self.secondary_color
                else ""
            ),
            mail_domain=validation.hostname(self.mail_domain, f"{field}.mail_domain")
            if self.mail_domain
            else "",
        )

    def is_empty(self) -> bool:
        return not any((self.name, self.logo_url, self.primary_color, self.secondary_color, self.mail_domain))


@dataclass(frozen=True)
class NewTenant:
    kind: str
    display_name: str
    customer_type: str = ""
    brand: Brand | None = None
    time_zone: str = ""
    locale: str = ""
    country: str = ""


async def load(session: AsyncSession, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
    """A live tenant by id, or None."""
    query = select(Tenant).where(Tenant.id == tenant_id, Tenant.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, tenant_id: str, permission: str, *, for_update: bool = False
) -> Tenant:
    """The tenant if the caller holds `permission` on it; NOT_FOUND if invisible, else DENIED."""
    tenant = await load(session, tenant_id, for_update=for_update)
    name = tenant_name(tenant_id)
    if tenant is None:
        raise NotFound(name)
    scope.require(permission, tenant.path, name)
    return tenant


def _apply_brand(tenant: Tenant, brand: Brand) -> None:
    tenant.brand_name = brand.name or None
    tenant.brand_logo_url = brand.logo_url or None
    tenant.brand_primary_color = brand.primary_color or None
    tenant.brand_secondary_color = brand.secondary_color or None
    tenant.brand_mail_domain = brand.mail_domain or None


async def _check_unique_name(
    session: AsyncSession, parent_id: str | None, display_name: str, exclude: str = ""
) -> None:
    clash = await session.scalar(
        select(
            exists().where(
                Tenant.parent_id == parent_id,
                Tenant.display_name == display_name,
                Tenant.delete_time.is_(None),
                Tenant.id != exclude,
            )
        )
    )
    if clash:
        raise AlreadyExists(f"a tenant named {display_name!r} already exists under this parent")


async def create(session: AsyncSession, scope: EffectiveScope, parent_id: str, new: NewTenant) -> Tenant:
    """Create a partner, customer or organization under `parent_id`."""
    parent = await get_in_scope(session, scope, parent_id, "tenants.manage")
    if new.kind not in ALLOWED_PARENTS:
        raise InvalidArgument.field("tenant.kind", "must be PARTNER, CUSTOMER or ORGANIZATION")
    if parent.kind not in ALLOWED_PARENTS[new.kind]:
        allowed = " or ".join(sorted(ALLOWED_PARENTS[new.kind]))
        raise FailedPrecondition(
            f"a {new.kind.lower()} can only be created under a {allowed.lower()}, "
            f"not under a {parent.kind.lower()}",
            reason="INVALID_TREE_POSITION",
        )
    display_name = validation.text(new.display_name, "tenant.display_name")
    if new.kind == "CUSTOMER":
        if new.customer_type not in CUSTOMER_TYPES:
            raise InvalidArgument.field(
                "tenant.customer_type", "is required for customers: COMPANY or PRIVATE_USER"
            )
    elif new.customer_type:
        raise InvalidArgument.field("tenant.customer_type", "only applies to customers")
    brand = new.brand.validated("tenant.brand") if new.brand and not new.brand.is_empty() else None
    if brand is not None and new.kind != "PARTNER":
        raise InvalidArgument.field("tenant.brand", "only partners carry a brand")
    tz = validation.time_zone(new.time_zone, "tenant.time_zone") if new.time_zone else parent.time_zone
    locale = validation.locale(new.locale, "tenant.locale") if new.locale else parent.locale
    country = validation.country(new.country, "tenant.country") if new.country else parent.country
    tenant_id = new_id()
    path = f"{parent.path}{tenant_id}/"
    if not scope.can("tenants.manage", path):
        raise PermissionDenied("tenants.manage", tenant_name(parent.id))
    await _check_unique_name(session, parent.id, display_name)
    tenant = Tenant(
        id=tenant_id,
        parent_id=parent.id,
        kind=new.kind,
        customer_type=new.customer_type or None,
        display_name=display_name,
        path=path,
        depth=parent.depth + 1,
        time_zone=tz,
        locale=locale,
        country=country,
        version=1,
    )
    if brand is not None:
        _apply_brand(tenant, brand)
    session.add(tenant)
    await session.flush()
    return tenant


async def create_child_unchecked(
    session: AsyncSession, parent: Tenant, kind: str, display_name: str, owner_user_id: str | None = None
) -> Tenant:
    """Create a node after the caller's checks were done elsewhere (bootstrap, employees)."""
    await _check_unique_name(session, parent.id, display_name)
    tenant_id = new_id()
    tenant = Tenant(
        id=tenant_id,
        parent_id=parent.id,
        kind=kind,
        display_name=display_name,
        path=f"{parent.path}{tenant_id}/",
        depth=parent.depth + 1,
        time_zone=parent.time_zone,
        locale=parent.locale,
        country=parent.country,
        owner_user_id=owner_user_id,
        version=1,
    )
    session.add(tenant)
    await session.flush()
    return tenant


def check_etag(version: int, etag: str, name: str) -> None:
    from wattlane.core.errors import Aborted

    if etag and etag != str(version):
        raise Aborted(
            f"{name} was changed by someone else (etag {etag} is stale); read it again",
            reason="ETAG_MISMATCH",
        )


async def update(
    session: AsyncSession, scope: EffectiveScope, tenant_id: str, changes: Mapping[str, Any], etag: str = ""
) -> Tenant:
    """Apply validated `changes` (display_name, brand, time_zone, locale)."""
    tenant = await get_in_scope(session, scope, tenant_id, "tenants.manage", for_update=True)
    check_etag(tenant.version, etag, tenant_name(tenant_id))
    if "display_name" in changes:
        display_name = validation.text(changes["display_name"], "tenant.display_name")
        await _check_unique_name(session, tenant.parent_id, display_name, exclude=tenant.id)
        tenant.display_name = display_name
    if "brand" in changes:
        if tenant.kind != "PARTNER":
            raise InvalidArgument.field("tenant.brand", "only partners carry a brand")
        _apply_brand(tenant, changes["brand"].validated("tenant.brand"))
    if "time_zone" in changes:
        tenant.time_zone = validation.time_zone(changes["time_zone"], "tenant.time_zone")
    if "locale" in changes:
        tenant.locale = validation.locale(changes["locale"], "tenant.locale")
    if "country" in changes:
        tenant.country = validation.country(changes["country"], "tenant.country")
    tenant.version += 1
    tenant.update_time = utcnow()
    await session.flush()
    return tenant


async def delete(session: AsyncSession, scope: EffectiveScope, tenant_id: str, etag: str = "") -> Tenant:
    """Soft-delete a leaf tenant without users."""
    tenant = await get_in_scope(session, scope, tenant_id, "tenants.manage", for_update=True)
    check_etag(tenant.version, etag, tenant_name(tenant_id))
    if tenant.parent_id is None:
        raise FailedPrecondition("the operator (root tenant) cannot be deleted", reason="ROOT_TENANT")
    children = await session.scalar(
        select(func.count())
        .select_from(Tenant)
        .where(Tenant.parent_id == tenant.id, Tenant.delete_time.is_(None))
    )
    if children:
        raise FailedPrecondition(
            f"{tenant_name(tenant_id)} still has {children} child tenant(s); delete or move them first",
            reason="TENANT_HAS_CHILDREN",
        )
    users = await session.scalar(
        select(func.count()).select_from(User).where(User.tenant_id == tenant.id, User.delete_time.is_(None))
    )
    if users:
        raise FailedPrecondition(
            f"{tenant_name(tenant_id)} still has {users} user(s); remove them first",
            reason="TENANT_HAS_USERS",
        )
    tenant.delete_time = utcnow()
    tenant.version += 1
    await session.flush()
    return tenant


async def refuse_move(
    session: AsyncSession, scope: EffectiveScope, tenant_id: str, new_parent_id: str
) -> None:
    """Moves rewrite path copies in every service; until that workflow exists they are refused."""
    await get_in_scope(session, scope, tenant_id, "tenants.manage")
    await get_in_scope(session, scope, new_parent_id, "tenants.manage")
    raise FailedPrecondition(
        "moving a tenant is not supported yet: other services keep copies of its path, and the move "
        "workflow that rewrites them has not been built",
        reason="MOVE_NOT_SUPPORTED",
    )


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_id: str | None,
    recursive: bool,
    where: ColumnElement[bool],
    page: Page,
) -> list[Tenant]:
    """Tenants the caller may read: children (or the subtree) of `parent_id`, or all in scope."""
    query = select(Tenant).where(
        Tenant.delete_time.is_(None), scope.filter("tenants.read", Tenant.path), where
    )
    if parent_id is None and not scope.grants_for("tenants.read"):
        raise PermissionDenied("tenants.read")
    if parent_id is not None:
        parent = await get_in_scope(session, scope, parent_id, "tenants.read")
        if recursive:
            query = query.where(Tenant.path > parent.path, Tenant.path < parent.path + PATH_END)
        else:
            query = query.where(Tenant.parent_id == parent.id)
    return list((await session.execute(page.window(query, [Tenant.id]))).scalars())
