"""Who is mailed about an account or application: the requester, the customer's account
admins, the partner's admins, Customer Success — and under which brand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.identity.models import Role, RoleBinding, Tenant, User
from wattlane.identity.settings import IdentitySettings


@dataclass(frozen=True)
class Recipient:
    email: str
    display_name: str
    locale: str
    role: str  # requester | account_admin | partner | approver


@dataclass(frozen=True)
class MailBrand:
    """The brand a mail goes out under: the partner's, or the operator's defaults."""

    name: str
    mail_domain: str
    primary_color: str
    logo_url: str


async def partner_of(session: AsyncSession, tenant: Tenant) -> Tenant | None:
    """The partner a tenant belongs to (itself when it is one): whose brand its mails carry."""
    if tenant.kind == "PARTNER":
        return tenant
    ids = [p for p in tenant.path.split("/") if p]
    if len(ids) < 2:
        return None  # the operator
    partner = await session.get(Tenant, ids[1])
    return partner if partner is not None and partner.kind == "PARTNER" else None


async def brand_of(
    session: AsyncSession, tenant: Tenant, settings: IdentitySettings, mail_domain: str = ""
) -> MailBrand:
    """The brand for mails about `tenant`; `mail_domain` (an account's own) wins over the
    partner's, and the operator's settings fill what no partner sets."""
    partner = await partner_of(session, tenant)
    return MailBrand(
        name=(partner.brand_name if partner else None) or settings.operator_name,
        mail_domain=mail_domain
        or (partner.brand_mail_domain if partner else None)
        or settings.default_mail_domain,
        primary_color=(partner.brand_primary_color if partner else None) or "",
        logo_url=(partner.brand_logo_url if partner else None) or "",
    )


async def holders(session: AsyncSession, permission: str, tenant: Tenant) -> list[User]:
    """Active users holding `permission` exactly at `tenant`, or propagated onto it from above."""
    ancestors = [i for i in tenant.path.strip("/").split("/") if i]
    rows = (
        await session.execute(
            select(User, RoleBinding.tenant_id, RoleBinding.propagate, Role.permissions)
            .join(RoleBinding, RoleBinding.user_id == User.id)
            .join(Role, Role.id == RoleBinding.role_id)
            .where(
                RoleBinding.tenant_id.in_(ancestors),
                User.delete_time.is_(None),
                User.state == "ACTIVE",
                Role.delete_time.is_(None),
            )
            .order_by(User.id)
        )
    ).all()
    seen: dict[str, User] = {}
    for user, at, propagate, permissions in rows:
        if permission in permissions and (at == tenant.id or propagate):
            seen.setdefault(user.id, user)
    return list(seen.values())


async def account_admins(session: AsyncSession, customer: Tenant) -> list[Recipient]:
    """The customer's own administrators (users of the customer's branch holding `accounts.apply`
    over the customer), then the partner's administrators."""
    out: list[Recipient] = []
    for user in await holders(session, "accounts.apply", customer):
        if user.tenant_path.startswith(customer.path):
            out.append(Recipient(user.email, user.display_name, user.locale, "account_admin"))
    partner = await session.get(Tenant, customer.parent_id) if customer.parent_id else None
    if partner is not None:
        for user in await holders(session, "accounts.apply", partner):
            if user.tenant_path.startswith(partner.path) and not user.tenant_path.startswith(customer.path):
                out.append(Recipient(user.email, user.display_name, user.locale, "partner"))
    return out


async def approvers(session: AsyncSession, root: Tenant) -> list[Recipient]:
    """Customer Success: users holding `accounts.approve` at the operator."""
    return [
        Recipient(u.email, u.display_name, u.locale, "approver")
        for u in await holders(session, "accounts.approve", root)
        if u.tenant_path == root.path
    ]
