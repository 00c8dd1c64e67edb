"""Feature licenses: an organization's pools, bought in batches and allocated one per resource
(allocation rows, not counters). They belong to the organization, never to a user."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.identity import tenants
from wattlane.identity.models import LicenseAllocation, LicensePurchase, Tenant

TYPES = ("AC_CHARGING", "DC_CHARGING", "LOAD_MANAGEMENT")
MAX_BATCH = 10_000


async def _organization(
    session: AsyncSession, scope: EffectiveScope | None, org_id: str, permission: str
) -> Tenant:
    if scope is None:
        org = await tenants.load(session, org_id)
        if org is None:
            raise NotFound(f"tenants/{org_id}")
    else:
        org = await tenants.get_in_scope(session, scope, org_id, permission)
    if org.kind != "ORGANIZATION":
        raise FailedPrecondition("licenses belong to organizations", reason="NOT_AN_ORGANIZATION")
    return org


async def purchase(
    session: AsyncSession, scope: EffectiveScope, org_id: str, license_type: str, quantity: int
) -> LicensePurchase:
    if license_type not in TYPES:
        raise InvalidArgument.field("type", f"must be one of {', '.join(TYPES)}")
    if not 1 <= quantity <= MAX_BATCH:
        raise InvalidArgument.field("quantity", f"must be between 1 and {MAX_BATCH}")
    org = await _organization(session, scope, org_id, "licenses.purchase")
    row = LicensePurchase(
        id=new_id(),
        organization_id=org.id,
        organization_path=org.path,
        type=license_type,
        quantity=quantity,
        purchase_time=utcnow(),
        purchased_by=scope.subject,
    )
    session.add(row)
    await session.flush()
    return row


async def pools(session: AsyncSession, org_id: str) -> dict[str, tuple[int, int]]:
    """type -> (purchased, allocated) of one organization."""
    purchased: dict[str, int] = defaultdict(int)
    allocated: dict[str, int] = defaultdict(int)
    for license_type, total in await session.execute(
        select(LicensePurchase.type, func.sum(LicensePurchase.quantity))
        .where(LicensePurchase.organization_id == org_id)
        .group_by(LicensePurchase.type)
    ):
        purchased[license_type] = int(total or 0)
    for license_type, count in await session.execute(
        select(LicenseAllocation.type, func.count())
        .where(LicenseAllocation.organization_id == org_id)
        .group_by(LicenseAllocation.type)
    ):
        allocated[license_type] = int(count)
    return {t: (purchased[t], allocated[t]) for t in TYPES}


async def pools_in_scope(
    session: AsyncSession, scope: EffectiveScope, org_id: str
) -> dict[str, tuple[int, int]]:
    await _organization(session, scope, org_id, "licenses.read")
    return await pools(session, org_id)


async def allocate(session: AsyncSession, org_id: str, license_type: str, resource: str) -> LicenseAllocation:
    """Take one license for `resource` from the organization's pool, or the nearest ancestor
    organization's that has one left. Idempotent by (type, resource)."""
    if license_type not in TYPES:
        raise InvalidArgument.field("type", f"must be one of {', '.join(TYPES)}")
    existing = await session.get(LicenseAllocation, (license_type, resource))
    if existing is not None:
        return existing
    org = await _organization(session, None, org_id, "licenses.use")
    ancestors = [i for i in org.path.strip("/").split("/") if i]
    candidates = (
        (
            await session.execute(
                select(Tenant)
                .where(Tenant.id.in_(ancestors), Tenant.kind == "ORGANIZATION")
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    # Nearest first: the organization itself, then its parents (locks serialize allocations).
    for candidate in sorted(candidates, key=lambda t: -t.depth):
        purchased, allocated = (await pools(session, candidate.id))[license_type]
        if allocated < purchased:
            row = LicenseAllocation(
                type=license_type,
                resource=resource,
                organization_id=candidate.id,
                organization_path=candidate.path,
                create_time=utcnow(),
            )
            session.add(row)
            await session.flush()
            return row
    purchased, allocated = (await pools(session, org.id))[license_type]
    raise FailedPrecondition(
        f"no {license_type} license left for tenants/{org.id} ({allocated} of {purchased} in use); "
        "an administrator can buy more",
        reason="NO_LICENSE_AVAILABLE",
    )


async def release(session: AsyncSession, license_type: str, resource: str) -> bool:
    result = await session.execute(
        delete(LicenseAllocation).where(
            LicenseAllocation.type == license_type, LicenseAllocation.resource == resource
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purchases_in_scope(
    session: AsyncSession, scope: EffectiveScope, org_id: str, page: Page
) -> list[LicensePurchase]:
    """An organization's purchases, oldest first (`licenses.read`)."""
    await _organization(session, scope, org_id, "licenses.read")
    query = select(LicensePurchase).where(LicensePurchase.organization_id == org_id)
    return list((await session.execute(page.window(query, [LicensePurchase.id]))).scalars())


async def allocations_in_scope(
    session: AsyncSession, scope: EffectiveScope, org_id: str, page: Page
) -> list[LicenseAllocation]:
    """Which resources use an organization's licenses (`licenses.read`)."""
    await _organization(session, scope, org_id, "licenses.read")
    key = [LicenseAllocation.type, LicenseAllocation.resource]
    query = select(LicenseAllocation).where(LicenseAllocation.organization_id == org_id)
    return list((await session.execute(page.window(query, key))).scalars())
