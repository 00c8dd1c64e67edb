"""An organization's own asset settings (the top of the rate plan chain)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets import rules
from wattlane.assets.locations import check_etag
from wattlane.assets.models import OrganizationSettings
from wattlane.core.clients.directory import Owner
from wattlane.core.errors import FailedPrecondition
from wattlane.core.scope import EffectiveScope

UPDATABLE = ("rate_plan", "rate_plan_override")


def settings_name(tenant_id: str) -> str:
    """`tenants/{id}/assetSettings`."""
    return f"tenants/{tenant_id}/assetSettings"


def _organization(owner: Owner) -> None:
    if owner.kind != "ORGANIZATION":
        raise FailedPrecondition(
            f"asset settings belong to organizations; {owner.name} is a {owner.kind.lower()}",
            reason="NOT_AN_ORGANIZATION",
        )


async def get(session: AsyncSession, scope: EffectiveScope, owner: Owner) -> OrganizationSettings:
    """The organization's settings (defaults when never set) (`locations.read`)."""
    scope.require("locations.read", owner.path, owner.name)
    _organization(owner)
    row = await session.get(OrganizationSettings, owner.tenant_id)
    return row or OrganizationSettings(
        tenant_id=owner.tenant_id, tenant_path=owner.path, rate_plan="", rate_plan_override=False, version=0
    )


async def update(
    session: AsyncSession, scope: EffectiveScope, owner: Owner, changes: Mapping[str, Any], etag: str = ""
) -> OrganizationSettings:
    """Set the rate plan reference or override flag (`locations.manage`)."""
    scope.require("locations.manage", owner.path, owner.name)
    _organization(owner)
    row = await session.get(OrganizationSettings, owner.tenant_id, with_for_update=True)
    if row is None:
        row = OrganizationSettings(
            tenant_id=owner.tenant_id,
            tenant_path=owner.path,
            rate_plan="",
            rate_plan_override=False,
            version=0,
        )
        session.add(row)
    check_etag(row.version, etag, settings_name(owner.tenant_id))
    if "rate_plan" in changes:
        row.rate_plan = rules.rate_plan(changes["rate_plan"], "settings.rate_plan")
    if "rate_plan_override" in changes:
        row.rate_plan_override = bool(changes["rate_plan_override"])
    row.version += 1
    await session.flush()
    return row
