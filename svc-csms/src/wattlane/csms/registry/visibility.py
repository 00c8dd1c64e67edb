"""Which stations, message log lines and unclaimed connection attempts a caller may see: a
permission on the station owner's subtree (grants restricted to locations or charging points
admit only their stations), and operator level for unclaimed attempts (no owner yet). Out of
scope reads as absent (NOT_FOUND); visible without the permission is PERMISSION_DENIED."""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import InvalidArgument, NotFound, PermissionDenied
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.models import Command, Message, Station, UnclaimedConnection
from wattlane.csms.names import station_name
from wattlane.csms.registry import repository

READ = "stations.read"
# Grants restricted to chosen locations / charging points admit only those stations.
ALLOW_COLUMNS = {"locations": Station.location_id, "chargingPoints": Station.charging_point_id}


def resource_names(row: Station | Command) -> list[str]:
    """The assets resources a station (or a command to it) sits in, for grants restricted to
    some of them."""
    names = []
    if row.location_id:
        names.append(f"locations/{row.location_id}")
    if row.charging_point_id:
        names.append(f"chargingPoints/{row.charging_point_id}")
    return names


def operator_level(scope: EffectiveScope) -> bool:
    """Holds `stations.read` on the whole tree, unrestricted (the root path is `/{id}/`)."""
    return any(g.subtree and g.allowed is None and g.path.count("/") == 2 for g in scope.grants_for(READ))


async def station_in_scope(
    session: AsyncSession, scope: EffectiveScope, identity: str, permission: str
) -> Station:
    """The station `identity` if the caller holds `permission` on it."""
    row = await repository.get_station(session, identity)
    name = station_name(identity)
    if row is None:
        raise NotFound(name)
    scope.require(permission, row.owner_path, name, resource_names(row))
    return row


async def list_stations(
    session: AsyncSession, scope: EffectiveScope, where: ColumnElement[bool], page: Page
) -> list[Station]:
    """The caller's stations matching `where`, by identity, from the page key on (one more than
    the page size)."""
    clauses = [scope.filter(READ, Station.owner_path, ALLOW_COLUMNS), where]
    if (after := page.keyset([Station.identity])) is not None:
        clauses.append(after)
    return await repository.list_stations(session, and_(*clauses), page.size + 1)


async def list_messages(
    session: AsyncSession, scope: EffectiveScope, identity: str | None, where: ColumnElement[bool], page: Page
) -> list[Message]:
    """Log lines matching `where`, newest first, before the page key (one more than the page
    size): of the station `identity` (which the caller must be able to read), or of every
    station the caller may read."""
    if identity is not None:
        await station_in_scope(session, scope, identity, READ)
        in_scope = Message.identity == identity
    else:
        in_scope = repository.station_in(scope.filter(READ, Station.owner_path, ALLOW_COLUMNS))
    return await repository.list_messages(session, and_(in_scope, where), _before_id(page), page.size + 1)


def _before_id(page: Page) -> int | None:
    """The message id a page token continues before (newest first)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, int) or isinstance(key, bool) or key < 0:
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


async def list_unclaimed(
    session: AsyncSession, scope: EffectiveScope, where: ColumnElement[bool], page: Page
) -> list[UnclaimedConnection]:
    """Unclaimed connection attempts matching `where`, by identity, from the page key on (one
    more than the page size); operator level only (PERMISSION_DENIED otherwise)."""
    if not operator_level(scope):
        raise PermissionDenied(READ, "unclaimed connections (operator level)")
    clauses = [where]
    if (after := page.keyset([UnclaimedConnection.identity])) is not None:
        clauses.append(after)
    return await repository.list_unclaimed(session, and_(*clauses), page.size + 1)
