"""The station message log in the database: a `MessageSink` writing batches, and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.csms.protocol.frames import CALLERROR
from wattlane.csms.providers.interfaces import LogEntry
from wattlane.csms.registry import repository

_MAX_TEXT = 4000  # an error description is capped (the frame layer caps raw frames already)
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DATETIME on SQLite


def log_row(entry: LogEntry, *, sqlite: bool = False) -> tuple[Any, ...]:
    """The `messages` row of one log entry, in `repository.MESSAGE_COLUMNS` order, as the driver
    takes it: the payload as JSON text, and on SQLite the time as UTCDateTime stores it there
    (naive UTC text that sorts correctly)."""
    moment = dt.datetime.fromtimestamp(entry.at, dt.UTC)
    return (
        entry.identity,
        moment.strftime(_SQLITE_TIME) if sqlite else moment,
        entry.direction.value,
        entry.message_type,
        entry.message_id[:64],
        entry.action[:64] if entry.action else None,
        orjson.dumps(entry.payload).decode(),
        entry.message_type in (CALLERROR, 0),
        entry.error_code[:64] if entry.error_code else None,
        entry.error_description[:_MAX_TEXT] if entry.error_description else None,
        entry.trace_id or None,
    )


class DatabaseMessageSink:
    """Writes each batch of log entries with one bulk insert in one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sqlite = db.is_sqlite

    async def write_batch(self, entries: Sequence[LogEntry]) -> None:
        """Insert the batch."""
        rows = [log_row(e, sqlite=self._sqlite) for e in entries]
        async with self._db.transaction() as session:
            await repository.add_messages(session, rows)


async def purge_messages(db: Database, retention: dt.timedelta) -> int:
    """Delete log lines older than `retention`; returns how many went."""
    async with db.transaction() as session:
        return await repository.purge_messages(session, utcnow() - retention)
