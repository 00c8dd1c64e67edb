"""Datapoint allocation: one row per resource counted against the account covering its
organization; usage is counted from the rows, so it is always exact."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.errors import FailedPrecondition, NotFound, ResourceExhausted
from wattlane.identity import accounts, tenants
from wattlane.identity.models import Account, DatapointAllocation, Tenant


async def allocate(
    session: AsyncSession, organization_id: str, resource: str
) -> tuple[DatapointAllocation, int, int]:
    """Allocate (or find) the resource's datapoint; returns (allocation, used, allowed)."""
    existing = await session.get(DatapointAllocation, resource)
    if existing is not None:
        if existing.organization_id != organization_id:
            raise FailedPrecondition(
                f"{resource} already counts on accounts/{existing.account_id} for another organization",
                reason="RESOURCE_ALREADY_ALLOCATED",
            )
        account = await session.get(Account, existing.account_id)
        assert account is not None
        return existing, await accounts.usage(session, account.id), account.datapoints
    organization = await tenants.load(session, organization_id)
    if organization is None:
        raise NotFound(f"tenants/{organization_id}")
    account = await accounts.covering(session, organization)
    if account is None:
        raise FailedPrecondition(
            f"tenants/{organization_id} is not covered by an account; apply for one first",
            reason="NO_ACCOUNT",
        )
    # Lock the account row: allocations against one account are serialized, so the count below
    # cannot be raced past the quota.
    account = (
        await session.execute(select(Account).where(Account.id == account.id).with_for_update())
    ).scalar_one()
    customer = await session.get(Tenant, account.customer_id)
    assert customer is not None
    state = accounts.effective_state(account, customer.time_zone)
    if state != "ACTIVE":
        raise FailedPrecondition(f"accounts/{account.id} is {state.lower()}", reason="ACCOUNT_NOT_IN_FORCE")
    used = int(
        await session.scalar(
            select(func.count())
            .select_from(DatapointAllocation)
            .where(DatapointAllocation.account_id == account.id)
        )
        or 0
    )
    if used >= account.datapoints:
        raise ResourceExhausted(f"accounts/{account.id}", "datapoints", used, account.datapoints)
    row = DatapointAllocation(
        resource=resource, account_id=account.id, organization_id=organization_id, create_time=utcnow()
    )
    session.add(row)
    await session.flush()
    return row, used + 1, account.datapoints


async def release(session: AsyncSession, resource: str) -> bool:
    result = await session.execute(
        delete(DatapointAllocation).where(DatapointAllocation.resource == resource)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
