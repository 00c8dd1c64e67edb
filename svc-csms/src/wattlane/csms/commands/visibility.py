"""Which commands a caller may see: `stations.remote_action` on the owner of the command's
station (grants restricted to locations or charging points admit only their commands). Out of
scope reads as absent (NOT_FOUND); visible without the permission is PERMISSION_DENIED."""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import InvalidArgument, NotFound
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.commands import repository
from wattlane.csms.models import Command
from wattlane.csms.names import command_name, station_name
from wattlane.csms.registry.visibility import resource_names, station_in_scope

REMOTE_ACTION = "stations.remote_action"
ALLOW_COLUMNS = {"locations": Command.location_id, "chargingPoints": Command.charging_point_id}


async def command_in_scope(
    session: AsyncSession, scope: EffectiveScope, identity: str, command_id: str
) -> Command:
    """The command `stations/{identity}/commands/{command_id}` if the caller may see it."""
    row = await repository.get_command(session, command_id)
    name = command_name(identity, command_id)
    if row is None or row.identity != identity:
        raise NotFound(name)
    scope.require(REMOTE_ACTION, row.owner_path, name, [station_name(identity), *resource_names(row)])
    return row


async def list_in_scope(
    session: AsyncSession, scope: EffectiveScope, identity: str | None, where: ColumnElement[bool], page: Page
) -> list[Command]:
    """The caller's commands matching `where`, newest first, before the page key (one more than
    the page size): of the station `identity` (on which the caller must hold the permission), or
    of every station."""
    clauses = [scope.filter(REMOTE_ACTION, Command.owner_path, ALLOW_COLUMNS), where]
    if identity is not None:
        await station_in_scope(session, scope, identity, REMOTE_ACTION)
        clauses.append(Command.identity == identity)
    if (before := _before_id(page)) is not None:
        clauses.append(Command.id < before)
    return await repository.list_commands(session, and_(*clauses), page.size + 1)


def _before_id(page: Page) -> str | None:
    """The command id a page continues before (ids are ULIDs: newest first is id order)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, str):
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key
