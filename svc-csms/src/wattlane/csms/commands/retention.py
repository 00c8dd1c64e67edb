"""Retention of remote-action commands and request ids: finished commands and idempotency keys
are purged in the background so both tables stay the size of what is still useful."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.idempotency import Idempotency
from wattlane.csms.models import IDEMPOTENCY_KEYS, Command


async def purge_commands(db: Database, commands: dt.timedelta, request_ids: dt.timedelta) -> tuple[int, int]:
    """Delete finished commands older than `commands` and request ids older than `request_ids`;
    returns (commands, request ids) removed. A command outlives its request id (a replay of a
    request id must find its command), whatever the settings say."""
    now = utcnow()
    keep_commands = max(commands, request_ids)
    async with db.transaction() as session:
        ids = await Idempotency(db, IDEMPOTENCY_KEYS).purge(session, request_ids.total_seconds())
        result = await session.execute(
            delete(Command).where(Command.finish_time.is_not(None), Command.finish_time < now - keep_commands)
        )
        return int(result.rowcount or 0), ids  # type: ignore[attr-defined]
