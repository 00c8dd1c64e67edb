"""Which transactions a caller may see (ARCHITECTURE.md, cross-branch visibility): those at the
stations of the owner's subtree, those paid with the cards of the card owner's organization
(both with `transactions.read` there), and the caller's own (as cardholder). Out of scope reads
as absent (NOT_FOUND); visible without the permission is PERMISSION_DENIED."""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import InvalidArgument, NotFound, PermissionDenied
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.models import Transaction
from wattlane.csms.names import transaction_name
from wattlane.csms.transactions import repository

READ = "transactions.read"
ALLOW_COLUMNS = {"locations": Transaction.location_id, "chargingPoints": Transaction.charging_point_id}


def visible(scope: EffectiveScope, user_id: str) -> ColumnElement[bool]:
    """Rows the caller may read: the owner's path or the card owner's path inside the scope of
    `transactions.read`, or the caller's own card (`user_id`, "" for a service)."""
    clauses = [
        scope.filter(READ, Transaction.owner_path, ALLOW_COLUMNS),
        scope.filter(READ, Transaction.card_owner_path),
    ]
    if user_id:
        clauses.append(Transaction.cardholder_id == user_id)
    return or_(*clauses)


def require_visible(scope: EffectiveScope, user_id: str, row: Transaction) -> None:
    """NOT_FOUND when the caller cannot see the row at all, PERMISSION_DENIED when it sees the
    station or card owner only through another permission."""
    name = transaction_name(row.id)
    places = [f"locations/{row.location_id}"] if row.location_id else []
    if user_id and row.cardholder_id == user_id:
        return
    if scope.can(READ, row.owner_path, [name, *places]):
        return
    if row.card_owner_path and scope.can(READ, row.card_owner_path, [name]):
        return
    if scope.visible(row.owner_path, [name, *places]) or (
        row.card_owner_path and scope.visible(row.card_owner_path, [name])
    ):
        raise PermissionDenied(READ, name)
    raise NotFound(name)


async def transaction_in_scope(
    session: AsyncSession, scope: EffectiveScope, user_id: str, transaction_id: int
) -> Transaction:
    """The transaction `transaction_id` if the caller may see it."""
    row = await repository.get_transaction(session, transaction_id)
    if row is None:
        raise NotFound(transaction_name(transaction_id))
    require_visible(scope, user_id, row)
    return row


def _subtree(path: str) -> ColumnElement[bool]:
    """A tenant's transactions: at stations of it or below it, or paid with cards of it or below
    it (paths are id-based, so "below" is a prefix test)."""
    return or_(Transaction.owner_path.startswith(path), Transaction.card_owner_path.startswith(path))


def before_id(page: Page) -> int | None:
    """The transaction id a page token continues before (newest first)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, int) or isinstance(key, bool) or key < 0:
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


async def list_visible(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    where: ColumnElement[bool],
    *,
    parent_path: str | None,
    before: int | None,
    limit: int,
) -> list[Transaction]:
    """The caller's transactions matching `where` (of the tenant at `parent_path` and below it,
    or all), newest first, with ids below `before`."""
    clauses = [visible(scope, user_id), where]
    if parent_path is not None:
        clauses.append(_subtree(parent_path))
    if before is not None:
        clauses.append(Transaction.id < before)
    return await repository.list_transactions(session, and_(*clauses), limit)
