"""SQL of remote-action commands, as the API reads them (callers own the session)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.csms.models import Command


async def get_command(session: AsyncSession, command_id: str) -> Command | None:
    """One command row."""
    return await session.get(Command, command_id)


async def list_commands(session: AsyncSession, where: ColumnElement[bool], limit: int) -> list[Command]:
    """Commands matching `where` (scope, filter, page key), newest first (ids are ULIDs)."""
    stmt = select(Command).where(where).order_by(Command.id.desc()).limit(limit)
    return list(await session.scalars(stmt))
