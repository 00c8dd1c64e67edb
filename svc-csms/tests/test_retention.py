"""Retention of remote-action commands and request ids: what is finished and old goes; pending
commands, recent ones and every command a live request id still points at stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.migrations import upgrade_async
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.commands.retention import purge_commands
from wattlane.csms.models import IDEMPOTENCY_KEYS, Command
from wattlane.csms.schema import MIGRATIONS


def _command(command_id: str, created: dt.datetime, finished: dt.datetime | None) -> Command:
    return Command(
        id=command_id,
        identity="RET-1",
        owner_path="/op/",
        protocol="ocpp1.6",
        ocpp_action="Reset",
        request={"type": "Soft"},
        spec=b"",
        state="ACCEPTED" if finished else "SENT",
        answer=None,
        requested_by="users/x",
        create_time=created,
        send_time=created,
        finish_time=finished,
    )


async def test_old_finished_commands_and_request_ids_go(databases: DatabaseFactory) -> None:
    url = await databases.create("csms-retention")
    await upgrade_async(url, MIGRATIONS)
    db = Database(url)
    now = utcnow()
    old, recent = now - dt.timedelta(days=120), now - dt.timedelta(days=1)
    try:
        async with db.transaction() as session:
            session.add(_command("old-finished", old, old))
            session.add(_command("old-pending", old, None))
            session.add(_command("recent-finished", recent, recent))
            for key, created in (("old-key", now - dt.timedelta(days=10)), ("new-key", now)):
                await session.execute(
                    IDEMPOTENCY_KEYS.insert().values(
                        caller="u",
                        method="/m",
                        request_id=key,
                        request_hash="h",
                        response=b"",
                        create_time=created,
                    )
                )
        commands, request_ids = await purge_commands(db, dt.timedelta(days=90), dt.timedelta(days=7))
        assert (commands, request_ids) == (1, 1)
        async with db.reader() as session:
            left = set((await session.execute(select(Command.id))).scalars())
            keys = set((await session.execute(select(IDEMPOTENCY_KEYS.c.request_id))).scalars())
        assert left == {"old-pending", "recent-finished"}
        assert keys == {"new-key"}
        # A command retention shorter than the request-id retention still keeps what a replay needs.
        assert await purge_commands(db, dt.timedelta(hours=1), dt.timedelta(days=7)) == (0, 0)
    finally:
        await db.dispose()
