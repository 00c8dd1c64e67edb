"""Organizations' whitelists: cards, or every card of a user, that may charge where a charging
point's access mode asks for the whitelist."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets import cards
from wattlane.assets.models import WhitelistEntry
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope


def entry_name(entry_id: str) -> str:
    """`whitelistEntries/{id}`."""
    return f"whitelistEntries/{entry_id}"


def require_manage(scope: EffectiveScope, organization: Owner) -> None:
    """`cards.manage` on the organization (before anything about the entry is looked at)."""
    scope.require("cards.manage", organization.path, organization.name)


def _organization(owner: Owner) -> None:
    if owner.kind != "ORGANIZATION":
        raise FailedPrecondition(
            f"whitelists belong to organizations; {owner.name} is a {owner.kind.lower()}",
            reason="NOT_AN_ORGANIZATION",
        )


async def create(
    session: AsyncSession,
    scope: EffectiveScope,
    organization: Owner,
    *,
    card_id: str | None,
    user: Owner | None,
) -> WhitelistEntry:
    """Put a card (visible to the caller) or a user on the organization's whitelist."""
    require_manage(scope, organization)
    _organization(organization)
    if (card_id is None) == (user is None):
        raise InvalidArgument.field("whitelist_entry.card", "set exactly one of card and user")
    if card_id is not None:
        await cards.get_in_scope(session, scope, card_id, "cards.read")
    user_id = user.name.removeprefix("users/") if user is not None else None
    clash = await session.scalar(
        select(
            exists().where(
                WhitelistEntry.organization_id == organization.tenant_id,
                (WhitelistEntry.card_id == card_id) if card_id else (WhitelistEntry.user_id == user_id),
            )
        )
    )
    if clash:
        raise AlreadyExists("already on this organization's whitelist")
    row = WhitelistEntry(
        id=new_id(),
        organization_id=organization.tenant_id,
        organization_path=organization.path,
        card_id=card_id,
        user_id=user_id,
        create_time=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def list_of(
    session: AsyncSession, scope: EffectiveScope, organization: Owner, page: Page
) -> list[WhitelistEntry]:
    """An organization's whitelist, oldest first (`cards.read`)."""
    scope.require("cards.read", organization.path, organization.name)
    query = select(WhitelistEntry).where(WhitelistEntry.organization_id == organization.tenant_id)
    return list((await session.execute(page.window(query, [WhitelistEntry.id]))).scalars())


async def delete(session: AsyncSession, scope: EffectiveScope, entry_id: str) -> WhitelistEntry:
    """Take an entry off its whitelist (`cards.manage`)."""
    row = await session.get(WhitelistEntry, entry_id)
    if row is None:
        raise NotFound(entry_name(entry_id))
    scope.require("cards.manage", row.organization_path, entry_name(entry_id))
    await session.delete(row)
    return row
